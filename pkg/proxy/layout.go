package proxy

import (
	"fmt"
	"net/netip"
	"strings"

	"sigs.k8s.io/knftables"
)

// Base-chain priorities. Names like "dstnat-10" are written here for the reader;
// knftables turns them into numbers when it writes the transaction, which
// matters because nft 1.0.6 rejects named priorities on the output and forward
// hooks.
//
// Filter chains run at dstnat-10, just before DNAT, so they see the packet's
// original destination (a service IP with no endpoints, an unknown port);
// nat chains run at dstnat to DNAT and srcnat to masquerade; the cluster-IP
// check runs after DNAT (forward hook, or output at dstnat+10), so only packets
// that were not DNATed to an endpoint are still addressed to the service CIDR.
var (
	filterBeforeDNAT = knftables.DNATPriority + "-10"
	filterAfterDNAT  = knftables.DNATPriority + "+10"
)

// addLayout adds the chains, maps and sets that do not depend on Services.
// Reject runs in input/forward/output rather than prerouting because kernels
// before 5.9 do not allow reject in prerouting, as kube-proxy notes.
func addLayout(r *Ruleset, in Inputs, masqMark string) {
	base := func(t knftables.BaseChainType, h knftables.BaseChainHook, p knftables.BaseChainPriority) *BaseChain {
		return &BaseChain{Type: t, Hook: h, Priority: p}
	}
	jumpNew := func(chain string) string { return "ct state new jump " + chain }

	// LoadBalancer source ranges are checked before DNAT, in prerouting
	// and output, on the original destination.
	r.chain("filter-prerouting", base(knftables.FilterType, knftables.PreroutingHook, filterBeforeDNAT),
		jumpNew(firewallCheckChain))
	r.chain(firewallCheckChain, nil, "ip daddr . meta l4proto . th dport vmap @"+firewallIPsMap)
	r.chain("filter-input", base(knftables.FilterType, knftables.InputHook, filterBeforeDNAT),
		jumpNew(nodePortEndpointsCheck), jumpNew(serviceEndpointsCheck))
	r.chain("filter-forward", base(knftables.FilterType, knftables.ForwardHook, filterBeforeDNAT),
		jumpNew(serviceEndpointsCheck), jumpNew(clusterIPsCheckChain))
	r.chain("filter-output", base(knftables.FilterType, knftables.OutputHook, filterBeforeDNAT),
		jumpNew(serviceEndpointsCheck), jumpNew(firewallCheckChain))
	r.chain("filter-output-post-dnat", base(knftables.FilterType, knftables.OutputHook, filterAfterDNAT),
		jumpNew(clusterIPsCheckChain))
	r.chain("nat-prerouting", base(knftables.NATType, knftables.PreroutingHook, knftables.DNATPriority),
		"jump "+servicesChain)
	r.chain("nat-output", base(knftables.NATType, knftables.OutputHook, knftables.DNATPriority),
		"jump "+servicesChain)
	// Hairpin: a pod sent back to itself through a Service would see a
	// reply from its own address, so such packets (source = destination
	// after DNAT; a pod's traffic to its own address never leaves it) are
	// masqueraded. The set holds "ip . ip" for every endpoint address.
	r.chain("nat-postrouting", base(knftables.NATType, knftables.PostroutingHook, knftables.SNATPriority),
		"ip saddr . ip daddr @"+hairpinSet+" jump "+markForMasqueradeChain,
		"jump "+masqueradingChain)
	// One DNAT rule per protocol for every Service without affinity: the
	// dispatch chain put the chosen endpoint's slot in the ct mark.
	r.chain(endpointDNATChain, nil,
		"meta l4proto tcp dnat ip to ct mark map @"+backendsMap,
		"meta l4proto udp dnat ip to ct mark map @"+backendsMap,
		"meta l4proto sctp dnat ip to ct mark map @"+backendsMap)

	// One verdict-map lookup per packet, whatever the number of services.
	// NodePorts answer on every local address except loopback (kube-proxy's
	// nftables mode does not serve NodePorts on 127.0.0.1 either).
	services := r.chain(servicesChain, nil,
		"ip daddr . meta l4proto . th dport vmap @"+serviceIPsMap,
		"fib daddr type local ip daddr != "+loopbackNet+" meta l4proto . th dport vmap @"+serviceNodePortsMap)
	// ClusterIP traffic from outside the pod ranges (the node, other hosts)
	// is masqueraded, so replies from a pod on another node come back here.
	// kube-proxy checks this in every service chain, with the Service's
	// address and port; one rule here does the same with 10,000 fewer rules
	// for the kernel to load, because traffic to a ClusterIP that is not
	// DNATed to an endpoint is rejected or dropped before postrouting, where
	// the mark takes effect. It comes first, before the lookups goto away.
	if len(in.ClusterCIDRs) > 0 {
		services.Rules = append([]string{fmt.Sprintf("ip daddr @%s ip saddr != { %s } jump %s",
			clusterIPsSet, joinPrefixes(in.ClusterCIDRs), markForMasqueradeChain)}, services.Rules...)
	}
	r.chain(serviceEndpointsCheck, nil,
		"ip daddr . meta l4proto . th dport vmap @"+noEndpointServicesMap)
	r.chain(nodePortEndpointsCheck, nil,
		"fib daddr type local ip daddr != "+loopbackNet+" meta l4proto . th dport vmap @"+noEndpointNodePortsMap)

	// A valid ClusterIP on a port the service does not define is rejected; an
	// unallocated address in the service CIDR is dropped. Both only see traffic
	// that was not DNATed, and only if the node routes the service CIDR (else
	// routing answers net-unreachable before the forward hook).
	check := []string{"ip daddr @" + clusterIPsSet + " reject"}
	if len(in.ServiceCIDRs) > 0 {
		check = append(check, "ip daddr { "+joinPrefixes(in.ServiceCIDRs)+" } drop")
	}
	r.chain(clusterIPsCheckChain, nil, check...)

	// "reject" is not a verdict, so it cannot be a vmap value: maps goto this.
	r.chain(rejectChain, nil, "reject")

	// The mark only carries "masquerade me" from the nat chains (dstnat) to
	// postrouting (srcnat); it is cleared before leaving so it cannot leak into
	// other components' use of the mark.
	r.chain(markForMasqueradeChain, nil, "mark set mark or "+masqMark)
	r.chain(masqueradingChain, nil,
		"mark and "+masqMark+" == 0 return",
		"mark set mark xor "+masqMark,
		"masquerade fully-random")

	r.set(&Set{Name: serviceIPsMap, Map: true, Type: "ipv4_addr . inet_proto . inet_service : verdict"})
	r.set(&Set{Name: serviceNodePortsMap, Map: true, Type: "inet_proto . inet_service : verdict"})
	r.set(&Set{Name: noEndpointServicesMap, Map: true, Type: "ipv4_addr . inet_proto . inet_service : verdict"})
	r.set(&Set{Name: noEndpointNodePortsMap, Map: true, Type: "inet_proto . inet_service : verdict"})
	r.set(&Set{Name: clusterIPsSet, Type: "ipv4_addr"})
	r.set(&Set{Name: firewallIPsMap, Map: true, Type: "ipv4_addr . inet_proto . inet_service : verdict"})
	r.set(&Set{Name: backendsMap, Map: true, TypeOf: "ct mark : ip daddr . tcp dport"})
	r.set(&Set{Name: hairpinSet, Type: "ipv4_addr . ipv4_addr"})
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Masked().String()
	}
	return strings.Join(s, ", ")
}

func markHex(bit int) string { return fmt.Sprintf("0x%x", uint32(1)<<bit) }
