// Package proxy is podnet's Service proxy: it turns Services and
// EndpointSlices into one nftables table per node, in kube-proxy's nftables
// layout. Compile is pure; Applier writes a compiled Ruleset as one
// transaction; Proxier ties them to a source.Source.
package proxy

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
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
	// NodeName is the node this table is for: Local traffic policies use
	// the endpoints whose EndpointSlice nodeName is this one.
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
	// Slots keeps endpoint slot numbers stable from one compile to the
	// next, so incremental syncs stay small; nil starts afresh.
	Slots *Slots
}

const nodePortIPsSet = "nodeport-ips"

// Compile turns Services and EndpointSlices into the desired table. Services
// are compiled one by one (CompileService) in key order and merged, which is
// what a partial sync does for the Services that changed.
func Compile(in Inputs) *Ruleset {
	bit := in.MasqueradeBit
	if bit <= 0 || bit > 31 {
		bit = defaultMasqueradeBit
	}
	if in.Slots == nil {
		in.Slots = NewSlots()
	}
	in.Slots.begin()
	defer in.Slots.end()
	r := newRuleset()
	addLayout(r, in, markHex(bit))
	if len(in.NodeIPs) > 0 {
		restrictNodePorts(r, in.NodeIPs)
	}
	bySvc := slicesByService(in.EndpointSlices)
	svcs := slices.Clone(in.Services)
	slices.SortFunc(svcs, func(a, b *corev1.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	r.services = make(map[string]*ServiceRules, len(svcs))
	keys := make([]string, len(svcs))
	frags := make([]*ServiceRules, len(svcs))
	count := map[string]int{}
	for i, svc := range svcs {
		keys[i] = svc.Namespace + "/" + svc.Name
		frags[i] = CompileService(in, svc, bySvc[keys[i]])
		for _, se := range frags[i].Elements {
			count[se.Set]++
		}
	}
	// Sized once: growing maps of 100,000 elements was a third of the time.
	for name, n := range count {
		if s := r.Sets[name]; len(s.Elements) == 0 {
			s.Elements = make(map[string]Element, n)
		}
	}
	for i, key := range keys {
		r.addService(key, frags[i])
	}
	return r
}

// CompileService compiles one Service with its EndpointSlices (those
// labelled with its name). It uses in's node facts and Slots, not its
// Services or EndpointSlices. A Service that is not proxied compiles to
// nothing.
func CompileService(in Inputs, svc *corev1.Service, endpointSlices []*discoveryv1.EndpointSlice) *ServiceRules {
	b := newServiceRules()
	if in.Slots == nil {
		in.Slots = NewSlots()
	}
	in.Slots.service(svc.Namespace+"/"+svc.Name, func() {
		if !proxied(svc) {
			return // frees the slots of a Service that was proxied before
		}
		for i := range svc.Spec.Ports {
			addServicePort(b, in, svc, &svc.Spec.Ports[i], portEndpoints(endpointSlices, &svc.Spec.Ports[i]))
		}
	})
	return b
}

// CompileServices compiles the Services named in keys ("namespace/name") for
// a partial sync: the result maps every key to its new rules, empty for a
// Service that is gone. Slot ranges of gone Services are freed.
func CompileServices(in Inputs, keys map[string]bool) map[string]*ServiceRules {
	if in.Slots == nil {
		in.Slots = NewSlots()
	}
	// Scanning every object is most of a partial sync's compile, so it
	// builds no key strings, and for the usual few changed Services compares
	// names directly (a length mismatch settles most), cheaper than hashing.
	want := newNameMatcher(keys)
	var sl []*discoveryv1.EndpointSlice
	for _, s := range in.EndpointSlices {
		if _, ok := want.match(s.Namespace, s.Labels[discoveryv1.LabelServiceName]); ok {
			sl = append(sl, s)
		}
	}
	bySvc := slicesByService(sl)
	out := make(map[string]*ServiceRules, len(keys))
	for _, svc := range in.Services {
		if key, ok := want.match(svc.Namespace, svc.Name); ok {
			out[key] = CompileService(in, svc, bySvc[key])
		}
	}
	for key := range keys {
		if _, ok := out[key]; !ok {
			in.Slots.forget(key)
			out[key] = newServiceRules()
		}
	}
	return out
}

// nameMatcher finds "namespace/name" keys by their two parts.
type nameMatcher struct {
	few  []nsName // when there are few keys
	many map[nsName]string
}

type nsName struct{ ns, name, key string }

func newNameMatcher(keys map[string]bool) nameMatcher {
	var m nameMatcher
	for key := range keys {
		ns, name, _ := strings.Cut(key, "/")
		m.few = append(m.few, nsName{ns, name, key})
	}
	if len(m.few) > 16 {
		m.many = make(map[nsName]string, len(m.few))
		for _, k := range m.few {
			m.many[nsName{k.ns, k.name, ""}] = k.key
		}
	}
	return m
}

func (m nameMatcher) match(ns, name string) (string, bool) {
	if m.many != nil {
		key, ok := m.many[nsName{ns, name, ""}]
		return key, ok
	}
	for _, k := range m.few {
		if k.name == name && k.ns == ns {
			return k.key, true
		}
	}
	return "", false
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
	everyLocal := "fib daddr type local ip daddr != " + loopbackNet + " "
	for _, chain := range []string{servicesChain, nodePortEndpointsCheck} {
		rules := r.Chains[chain].Rules
		for i, rule := range rules {
			if strings.HasPrefix(rule, everyLocal) {
				rules[i] = "ip daddr @" + nodePortIPsSet + " " + strings.TrimPrefix(rule, everyLocal)
			}
		}
	}
}

// addServicePort compiles one port of one Service: map entries that send its
// addresses to its chains, or to reject-chain (no endpoints at all) or drop
// (a Local traffic policy with no endpoint on this node), as kube-proxy does.
func addServicePort(r *ServiceRules, in Inputs, svc *corev1.Service, port *corev1.ServicePort, all []endpoint) {
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
		r.add(clusterIPsSet, []string{ip})
	}

	// kube-proxy's CategorizeEndpoints: the cluster-wide usable endpoints,
	// and those on this node, each falling back to serving-terminating ones.
	clusterEps := usableEndpoints(all)
	localEps := usableEndpoints(onNode(all, in.NodeName))
	internalLocal := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
	externalLocal := (len(external) > 0 || nodePort != "") && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	internalEps, externalEps := clusterEps, clusterEps
	if internalLocal {
		internalEps = localEps
	}
	if externalLocal {
		externalEps = localEps
	}
	// No endpoint anywhere: refuse at once (TCP reset / ICMP unreachable)
	// instead of letting the connection time out. Endpoints elsewhere but
	// none here under a Local policy: drop, as kube-proxy does.
	noEndpoints := "goto " + rejectChain
	if len(clusterEps) > 0 {
		noEndpoints = "drop"
	}

	timeout, affinity := affinityTimeout(svc)
	used := map[string]endpoint{}
	chainFor := func(local bool) string {
		eps, name := clusterEps, serviceChainName(spn)
		if local {
			eps, name = localEps, localChainName(spn)
		}
		if _, done := r.Chains[name]; !done {
			addDispatchChain(r, in, spn, name, eps, affinity)
			if affinity {
				for _, ep := range eps {
					used[endpointChainName(spn, ep)] = ep
				}
			}
		}
		return name
	}

	if len(internalEps) == 0 {
		for _, ip := range clusterIPs {
			r.add(noEndpointServicesMap, []string{ip, proto, portStr}, noEndpoints)
		}
	} else {
		internal := chainFor(internalLocal)
		for _, ip := range clusterIPs {
			r.add(serviceIPsMap, []string{ip, proto, portStr}, "goto "+internal)
		}
	}

	if len(external) > 0 || nodePort != "" {
		if len(externalEps) == 0 {
			for _, ip := range external {
				r.add(noEndpointServicesMap, []string{ip, proto, portStr}, noEndpoints)
			}
			if nodePort != "" {
				r.add(noEndpointNodePortsMap, []string{proto, nodePort}, noEndpoints)
			}
		} else {
			extChain := externalChainName(spn)
			if externalLocal {
				// Local: the client's address is kept and only this node's
				// endpoints serve. Pods and the node itself are not external
				// clients, so they still reach every endpoint (kube-proxy's
				// short-circuit), the node masqueraded.
				var rules []string
				if len(in.ClusterCIDRs) > 0 {
					rules = append(rules, fmt.Sprintf("ip saddr { %s } goto %s", joinPrefixes(in.ClusterCIDRs), chainFor(false)))
				}
				rules = append(rules,
					"fib saddr type local jump "+markForMasqueradeChain,
					"fib saddr type local goto "+chainFor(false),
					"goto "+chainFor(true))
				r.chain(extChain, nil, rules...)
			} else {
				// Cluster: the endpoint may be on another node, whose reply
				// must come back through this one: masquerade.
				r.chain(extChain, nil, "jump "+markForMasqueradeChain, "goto "+chainFor(false))
			}
			for _, ip := range external {
				r.add(serviceIPsMap, []string{ip, proto, portStr}, "goto "+extChain)
			}
			if nodePort != "" {
				r.add(serviceNodePortsMap, []string{proto, nodePort}, "goto "+extChain)
			}
		}
	}
	addFirewall(r, svc, spn, proto, portStr)

	for _, ep := range used {
		addEndpointChain(r, spn, ep, proto, affinity, timeout)
	}
}

// onNode keeps the endpoints on node.
func onNode(all []endpoint, node string) []endpoint {
	var out []endpoint
	for _, e := range all {
		if node != "" && e.nodeName == node {
			out = append(out, e)
		}
	}
	return out
}

// addFirewall enforces loadBalancerSourceRanges on the LoadBalancer's
// addresses (not on its NodePorts, as in kube-proxy): other sources are
// dropped before DNAT.
func addFirewall(r *ServiceRules, svc *corev1.Service, spn, proto, port string) {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || len(svc.Spec.LoadBalancerSourceRanges) == 0 {
		return
	}
	var lbIPs []string
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		lbIPs = append(lbIPs, ing.IP)
	}
	lbIPs = ipv4s(lbIPs)
	if len(lbIPs) == 0 {
		return
	}
	var ranges []netip.Prefix
	for _, s := range svc.Spec.LoadBalancerSourceRanges {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil && p.Addr().Is4() {
			ranges = append(ranges, p)
		}
	}
	name := firewallChainName(spn)
	if len(ranges) == 0 {
		r.chain(name, nil, "drop") // only IPv6 ranges: no IPv4 source is allowed
	} else {
		r.chain(name, nil, fmt.Sprintf("ip saddr != { %s } drop", joinPrefixes(ranges)))
	}
	for _, ip := range lbIPs {
		r.add(firewallIPsMap, []string{ip, proto, port}, "goto "+name)
	}
}

// addDispatchChain writes a service or local chain: the choice of an
// endpoint (off-cluster clients of the ClusterIP are marked for masquerade
// once, in the services chain, see addLayout). With
// ClientIP affinity that is kube-proxy's per-endpoint chains (each refreshes
// its affinity set); otherwise the chain picks a random slot of its range in
// backends and endpoint-dnat DNATs to it, with no chain per endpoint.
func addDispatchChain(r *ServiceRules, in Inputs, spn, name string, eps []endpoint, affinity bool) {
	var rules []string
	for _, ep := range eps {
		ip := ep.ip.String()
		r.add(hairpinSet, []string{ip, ip})
	}
	if !affinity {
		keys := make([]string, len(eps))
		for i, ep := range eps {
			keys[i] = netip.AddrPortFrom(ep.ip, uint16(ep.port)).String()
		}
		base, perm := in.Slots.place(name, keys)
		for i, j := range perm {
			ep := eps[j]
			r.add(backendsMap, []string{strconv.FormatUint(uint64(base)+uint64(i), 10)}, ep.ip.String()+" . "+strconv.Itoa(int(ep.port)))
		}
		rules = append(rules, fmt.Sprintf("ct mark set numgen random mod %d offset %d goto %s", len(eps), base, endpointDNATChain))
		r.chain(name, nil, rules...)
		return
	}
	for _, ep := range eps {
		rules = append(rules, fmt.Sprintf("ip saddr @%s goto %s", affinitySetName(spn, ep), endpointChainName(spn, ep)))
	}
	arms := make([]string, len(eps))
	for i, ep := range eps {
		arms[i] = fmt.Sprintf("%d : goto %s", i, endpointChainName(spn, ep))
	}
	rules = append(rules, fmt.Sprintf("numgen random mod %d vmap { %s }", len(eps), strings.Join(arms, " , ")))
	r.chain(name, nil, rules...)
}

// addEndpointChain writes one endpoint's chain: hairpin masquerade, affinity
// refresh, DNAT.
func addEndpointChain(r *ServiceRules, spn string, ep endpoint, proto string, affinity bool, timeout time.Duration) {
	// Hairpin: a pod reaching itself through the service would see a reply
	// from its own address and drop it, so masquerade that case.
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
