package dns

import "net/netip"

// Zone is an immutable snapshot of the cluster's DNS data, shrunk to the
// fields answers need (as CoreDNS's object package shrinks API objects), and
// indexed for the lookups the answer path makes. The server swaps a pointer to
// a new Zone on every change; nothing ever mutates one, so lookups take no lock.
type Zone struct {
	cfg    Config
	ttl    uint32 // *cfg.TTL
	serial uint32
	// namespaces that exist: from Namespace objects and from any Service.
	namespaces map[string]struct{}
	services   map[serviceKey]*service
	// servicePTR maps a cluster IP to its Service (the first Service
	// by namespace/name, as CoreDNS answers a single name).
	servicePTR map[netip.Addr]serviceKey
	// endpointPTR maps an endpoint IP to one name per (endpoint, Service).
	endpointPTR map[netip.Addr][]string
	// podIPs holds running pods' IPs per namespace; PodsVerified only.
	podIPs map[string]map[netip.Addr]struct{}
	// sliceOwner maps an EndpointSlice ("namespace/name") to the Service its
	// label named, for updates after the label changes.
	sliceOwner map[string]serviceKey
}

type serviceKey struct{ namespace, name string }

func (k serviceKey) less(o serviceKey) bool {
	return k.namespace < o.namespace || (k.namespace == o.namespace && k.name < o.name)
}

// service is what DNS needs of a Service and its EndpointSlices.
type service struct {
	fqdn     string // name.ns.svc.zone.
	headless bool
	// external is the fully qualified spec.externalName; "" unless the
	// Service is of type ExternalName.
	external  string
	clusterIP []netip.Addr
	ports     []port
	// endpoints are the published (ready, or all with
	// publishNotReadyAddresses) addresses, sorted by address.
	endpoints []endpoint
}

// port is a Service or EndpointSlice port; name and proto are lower-case.
type port struct {
	name  string
	proto string
	port  uint16
}

type endpoint struct {
	// label is the endpoint's hostname, or its dashed IP when it has none.
	label string
	fqdn  string // label.service.ns.svc.zone.
	addr  netip.Addr
	ports []port // shared by every endpoint of one EndpointSlice
}

// Config returns the configuration the Zone was compiled with, defaults
// filled in.
func (z *Zone) Config() Config { return z.cfg }

// Serial returns the SOA serial.
func (z *Zone) Serial() uint32 { return z.serial }

// Services returns how many Services the Zone holds.
func (z *Zone) Services() int { return len(z.services) }
