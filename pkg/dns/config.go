package dns

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// PodsMode says how <dashed-ip>.<ns>.pod.<zone> names are answered, as the
// CoreDNS kubernetes plugin's "pods" option does.
type PodsMode string

const (
	// PodsDisabled answers NXDOMAIN for every name under pod.<zone>.
	PodsDisabled PodsMode = "disabled"
	// PodsInsecure answers any well-formed dashed IP in an existing namespace,
	// without checking that a pod has it (kube-dns compatibility; kubeadm's
	// Corefile uses it, and the Kubernetes conformance probes expect it).
	PodsInsecure PodsMode = "insecure"
	// PodsVerified answers only if a running pod in that namespace has the IP.
	PodsVerified PodsMode = "verified"
)

// SchemaVersion is the Kubernetes DNS-Based Service Discovery specification
// version served at dns-version.<zone>.
const SchemaVersion = "1.1.0"

// Config is what a Zone is compiled with.
type Config struct {
	// Zone is the cluster domain; "cluster.local" when empty.
	Zone string
	// TTL of every answer, and the SOA MINIMUM; 30 when zero (kubeadm's
	// Corefile sets "ttl 30"; the CoreDNS default of 5 is not used).
	TTL uint32
	// Pods is the pod-record mode; PodsInsecure when empty.
	Pods PodsMode
	// ReverseZones are answered for PTR; in-addr.arpa. and ip6.arpa. when nil,
	// as in kubeadm's Corefile.
	ReverseZones []string
	// DNSService is the "namespace/name" of the Service fronting this server,
	// named in the apex NS answer; "kube-system/kube-dns" when empty.
	DNSService string
}

// withDefaults returns c with every empty field set and names made
// lower-case and fully qualified, so lookups compare plain strings.
func (c Config) withDefaults() Config {
	if c.Zone == "" {
		c.Zone = "cluster.local"
	}
	c.Zone = canonical(c.Zone)
	if c.TTL == 0 {
		c.TTL = 30
	}
	if c.Pods == "" {
		c.Pods = PodsInsecure
	}
	if c.ReverseZones == nil {
		c.ReverseZones = []string{"in-addr.arpa.", "ip6.arpa."}
	}
	rz := make([]string, len(c.ReverseZones))
	for i, z := range c.ReverseZones {
		rz[i] = canonical(z)
	}
	c.ReverseZones = rz
	if c.DNSService == "" {
		c.DNSService = "kube-system/kube-dns"
	}
	return c
}

// canonical lower-cases a name and adds the final dot.
func canonical(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// Inputs is everything a Zone is compiled from. Objects are read, never
// changed.
type Inputs struct {
	Config Config
	// Serial is the SOA serial; the server uses the Unix time of the rebuild,
	// as CoreDNS uses the time of the last DNS-relevant change.
	Serial         uint32
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	// Namespaces tell NXDOMAIN from NODATA under <ns>.svc.<zone>.
	Namespaces []*corev1.Namespace
	// Pods are read only in PodsVerified mode.
	Pods []*corev1.Pod
}
