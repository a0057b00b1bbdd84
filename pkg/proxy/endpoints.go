package proxy

import (
	"cmp"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// endpoint is one backend of one service port.
type endpoint struct {
	ip          netip.Addr
	port        int32
	nodeName    string
	ready       bool
	serving     bool
	terminating bool
}

// slicesByService groups IPv4 EndpointSlices by "namespace/service", using the
// kubernetes.io/service-name label as the EndpointSlice controller sets it.
func slicesByService(slices []*discoveryv1.EndpointSlice) map[string][]*discoveryv1.EndpointSlice {
	out := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range slices {
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		key := s.Namespace + "/" + name
		out[key] = append(out[key], s)
	}
	return out
}

// portEndpoints lists the endpoints of one service port. A slice port matches
// by name (named targetPorts are already resolved to numbers in the slice) and
// protocol. Duplicates across slices (possible while the controller moves an
// endpoint between slices) are merged, preferring the readier copy.
func portEndpoints(sl []*discoveryv1.EndpointSlice, port *corev1.ServicePort) []endpoint {
	seen := map[netip.AddrPort]int{}
	var out []endpoint
	for _, s := range sl {
		num, ok := slicePort(s, port)
		if !ok {
			continue
		}
		for i := range s.Endpoints {
			e := &s.Endpoints[i]
			c := conditions(e)
			for _, a := range e.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || !ip.Is4() {
					continue
				}
				c.ip, c.port = ip, num
				key := netip.AddrPortFrom(ip, uint16(num))
				if j, dup := seen[key]; dup {
					if c.ready && !out[j].ready {
						out[j] = c
					}
					continue
				}
				seen[key] = len(out)
				out = append(out, c)
			}
		}
	}
	return out
}

func slicePort(s *discoveryv1.EndpointSlice, port *corev1.ServicePort) (int32, bool) {
	for _, p := range s.Ports {
		name, proto := "", corev1.ProtocolTCP
		if p.Name != nil {
			name = *p.Name
		}
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if name == port.Name && proto == port.Protocol && p.Port != nil {
			return *p.Port, true
		}
	}
	return 0, false
}

// conditions applies the EndpointSlice API's defaults: a nil ready means
// ready, a nil serving means "same as ready", a nil terminating means false.
func conditions(e *discoveryv1.Endpoint) endpoint {
	c := endpoint{ready: true}
	if e.Conditions.Ready != nil {
		c.ready = *e.Conditions.Ready
	}
	c.serving = c.ready
	if e.Conditions.Serving != nil {
		c.serving = *e.Conditions.Serving
	}
	if e.Conditions.Terminating != nil {
		c.terminating = *e.Conditions.Terminating
	}
	if e.NodeName != nil {
		c.nodeName = *e.NodeName
	}
	return c
}

// usableEndpoints picks the endpoints traffic may go to, as kube-proxy's
// CategorizeEndpoints does: the ready ones; if there are none, the ones that
// are still serving while terminating (so rolling updates and graceful
// shutdowns do not drop connections). The result is sorted so that an
// unchanged service compiles to identical rules.
func usableEndpoints(all []endpoint) []endpoint {
	var ready, fallback []endpoint
	for _, e := range all {
		switch {
		case e.ready:
			ready = append(ready, e)
		case e.serving && e.terminating:
			fallback = append(fallback, e)
		}
	}
	out := ready
	if len(out) == 0 {
		out = fallback
	}
	slices.SortFunc(out, func(a, b endpoint) int {
		return cmp.Or(a.ip.Compare(b.ip), cmp.Compare(a.port, b.port))
	})
	return out
}
