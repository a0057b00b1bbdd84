// Package proxy is podnet's Service proxy: it turns Services and
// EndpointSlices into one nftables table per node, in kube-proxy's nftables
// layout. Compile is pure; Applier writes a compiled Ruleset as one
// transaction; Proxier ties them to a source.Source.
package proxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/knftables"
)

// Inputs is everything the ruleset depends on.
type Inputs struct {
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	// NodeName is the node this table is for (kept for the Local traffic
	// policies, which are not compiled yet).
	NodeName string
	// ServiceCIDRs are the ClusterIP ranges; unallocated addresses in them are
	// dropped instead of being routed on.
	ServiceCIDRs []netip.Prefix
	// ClusterCIDRs are the pod ranges (kube-proxy's --cluster-cidr). When set,
	// ClusterIP traffic from outside them is masqueraded, so replies from a pod
	// on another node come back through this node.
	ClusterCIDRs []netip.Prefix
	// NodeIPs, when set, are the only addresses NodePorts answer on (like
	// --nodeport-addresses); when empty, every local address but loopback.
	NodeIPs []netip.Addr
	// MasqueradeBit is the packet-mark bit meaning "masquerade me"; 0 means
	// kube-proxy's default, 14.
	MasqueradeBit int
}

const nodePortIPsSet = "nodeport-ips"

// Compile turns Services and EndpointSlices into the desired table.
func Compile(in Inputs) *Ruleset {
	bit := in.MasqueradeBit
	if bit <= 0 || bit > 31 {
		bit = defaultMasqueradeBit
	}
	r := newRuleset()
	addLayout(r, in, markHex(bit))
	if len(in.NodeIPs) > 0 {
		restrictNodePorts(r, in.NodeIPs)
	}
	bySvc := slicesByService(in.EndpointSlices)
	for _, svc := range in.Services {
		if !proxied(svc) {
			continue
		}
		sl := bySvc[svc.Namespace+"/"+svc.Name]
		for i := range svc.Spec.Ports {
			addServicePort(r, in, svc, &svc.Spec.Ports[i], usableEndpoints(portEndpoints(sl, &svc.Spec.Ports[i])))
		}
	}
	return r
}

// proxied is false for Services kube-proxy ignores: ExternalName ones (DNS
// only) and headless ones (DNS returns the pods directly).
func proxied(svc *corev1.Service) bool {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return false
	}
	return svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

// restrictNodePorts swaps the "every local address" NodePort match for a set
// of node IPs.
func restrictNodePorts(r *Ruleset, ips []netip.Addr) {
	s := r.set(&Set{Name: nodePortIPsSet, Type: "ipv4_addr"})
	for _, ip := range ips {
		if ip.Is4() {
			s.add([]string{ip.String()})
		}
	}
	r.Chains[servicesChain].Rules[1] = "ip daddr @" + nodePortIPsSet + " meta l4proto . th dport vmap @" + serviceNodePortsMap
	r.Chains[nodePortEndpointsCheck].Rules[0] = "ip daddr @" + nodePortIPsSet + " meta l4proto . th dport vmap @" + noEndpointNodePortsMap
}

// addServicePort compiles one port of one Service: map entries that send its
// addresses to its chains, or to reject-chain when it has no endpoints.
func addServicePort(r *Ruleset, in Inputs, svc *corev1.Service, port *corev1.ServicePort, eps []endpoint) {
	spn := servicePortName(svc, port)
	proto := strings.ToLower(string(port.Protocol))
	if proto == "" {
		proto = "tcp"
	}
	portStr := strconv.Itoa(int(port.Port))
	clusterIPs := ipv4s(svc.Spec.ClusterIPs, svc.Spec.ClusterIP)
	external := externalIPs(svc)
	nodePort := ""
	if port.NodePort != 0 && (svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer) {
		nodePort = strconv.Itoa(int(port.NodePort))
	}

	for _, ip := range clusterIPs {
		r.Sets[clusterIPsSet].add([]string{ip})
	}

	if len(eps) == 0 {
		// Refuse at once (TCP reset / ICMP unreachable) instead of letting
		// the connection time out.
		verdict := "goto " + rejectChain
		for _, ip := range append(clusterIPs, external...) {
			r.Sets[noEndpointServicesMap].add([]string{ip, proto, portStr}, verdict)
		}
		if nodePort != "" {
			r.Sets[noEndpointNodePortsMap].add([]string{proto, nodePort}, verdict)
		}
		return
	}

	svcChain := serviceChainName(spn)
	addServiceChain(r, in, svc, spn, svcChain, proto, portStr, clusterIPs, eps)
	for _, ip := range clusterIPs {
		r.Sets[serviceIPsMap].add([]string{ip, proto, portStr}, "goto "+svcChain)
	}

	if len(external) == 0 && nodePort == "" {
		return
	}
	// Traffic from outside the cluster may go to another node's endpoint,
	// whose reply must come back through this node: masquerade it.
	extChain := externalChainName(spn)
	r.chain(extChain, nil, "jump "+markForMasqueradeChain, "goto "+svcChain)
	for _, ip := range external {
		r.Sets[serviceIPsMap].add([]string{ip, proto, portStr}, "goto "+extChain)
	}
	if nodePort != "" {
		r.Sets[serviceNodePortsMap].add([]string{proto, nodePort}, "goto "+extChain)
	}
}

// addServiceChain writes the service chain (affinity, then random spreading)
// and one chain per endpoint.
func addServiceChain(r *Ruleset, in Inputs, svc *corev1.Service, spn, name, proto, port string, clusterIPs []string, eps []endpoint) {
	var rules []string
	if len(in.ClusterCIDRs) > 0 {
		for _, ip := range clusterIPs {
			rules = append(rules, fmt.Sprintf("ip daddr %s %s dport %s ip saddr != { %s } jump %s",
				ip, proto, port, joinPrefixes(in.ClusterCIDRs), markForMasqueradeChain))
		}
	}
	timeout, affinity := affinityTimeout(svc)
	if affinity {
		for _, ep := range eps {
			rules = append(rules, fmt.Sprintf("ip saddr @%s goto %s", affinitySetName(spn, ep), endpointChainName(spn, ep)))
		}
	}
	arms := make([]string, len(eps))
	for i, ep := range eps {
		arms[i] = fmt.Sprintf("%d : goto %s", i, endpointChainName(spn, ep))
	}
	rules = append(rules, fmt.Sprintf("numgen random mod %d vmap { %s }", len(eps), strings.Join(arms, " , ")))
	r.chain(name, nil, rules...)

	for _, ep := range eps {
		// Hairpin: a pod reaching itself through the service would see a
		// reply from its own address and drop it, so masquerade that case.
		epRules := []string{fmt.Sprintf("ip saddr %s jump %s", ep.ip, markForMasqueradeChain)}
		if affinity {
			set := affinitySetName(spn, ep)
			// "dynamic" is explicit because some kernels add it anyway and a
			// later add with different flags would then fail.
			r.set(&Set{Name: set, Type: "ipv4_addr", Flags: []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag}, Timeout: timeout})
			epRules = append(epRules, fmt.Sprintf("update @%s { ip saddr }", set))
		}
		epRules = append(epRules, fmt.Sprintf("meta l4proto %s dnat to %s:%d", proto, ep.ip, ep.port))
		r.chain(endpointChainName(spn, ep), nil, epRules...)
	}
}

func affinityTimeout(svc *corev1.Service) (time.Duration, bool) {
	if svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		return 0, false
	}
	secs := int32(defaultAffinityTimeout)
	if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
		secs = *c.ClientIP.TimeoutSeconds
	}
	return time.Duration(secs) * time.Second, true
}

// ipv4s returns the IPv4 addresses among ips (or among fallback when ips is
// empty, for objects written before ClusterIPs existed).
func ipv4s(ips []string, fallback ...string) []string {
	if len(ips) == 0 {
		ips = fallback
	}
	var out []string
	for _, s := range ips {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() {
			out = append(out, ip.String())
		}
	}
	return out
}

// externalIPs are the addresses outside the service CIDR that also lead to the
// service: spec.externalIPs and LoadBalancer ingress IPs.
func externalIPs(svc *corev1.Service) []string {
	ips := append([]string(nil), svc.Spec.ExternalIPs...)
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.IP != "" {
				ips = append(ips, ing.IP)
			}
		}
	}
	return ipv4s(ips)
}
