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
	// TTL of every answer, and the SOA MINIMUM; 30 when nil (kubeadm's
	// Corefile sets "ttl 30"; the CoreDNS default of 5 is not used). A
	// pointer, because "ttl 0" (do not cache) is a valid setting.
	TTL *uint32
	// Pods is the pod-record mode; PodsInsecure when empty.
	Pods PodsMode
	// ReverseZones are answered for PTR; in-addr.arpa. and ip6.arpa. when nil,
	// as in kubeadm's Corefile.
	ReverseZones []string
	// Fallthrough lists the zones whose NXDOMAIN answers are passed on (to
	// hosts, then upstreams), as the kubernetes plugin's "fallthrough". nil
	// means the reverse zones, as kubeadm's Corefile sets; an empty slice
	// means none.
	Fallthrough []string
	// EndpointPodNames names endpoints without a hostname after their pod
	// (targetRef) instead of their dashed IP ("endpoint_pod_names").
	EndpointPodNames bool
	// NoEndpoints ignores EndpointSlices: headless Services and endpoint
	// names are NXDOMAIN, PTRs cover cluster IPs only ("noendpoints").
	NoEndpoints bool
	// IgnoreEmptyService answers NXDOMAIN for a ClusterIP Service without
	// ready endpoints ("ignore empty_service").
	IgnoreEmptyService bool
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
	if c.TTL == nil {
		ttl := uint32(30)
		c.TTL = &ttl
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
	if c.Fallthrough == nil {
		c.Fallthrough = rz
	}
	ft := make([]string, len(c.Fallthrough))
	for i, z := range c.Fallthrough {
		ft[i] = canonical(z)
	}
	c.Fallthrough = ft
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
