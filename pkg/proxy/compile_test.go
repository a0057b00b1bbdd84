package proxy

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/knftables"
)

const (
	testTable = "podnet-test"
	nodeIP    = "172.18.0.2"
	podA      = "10.244.0.5"
	podB      = "10.244.0.6"
	outsider  = "172.18.0.100"
)

func testInputs(objs ...any) Inputs {
	in := Inputs{
		NodeName:     "node-1",
		ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")},
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			in.Services = append(in.Services, o)
		case *discoveryv1.EndpointSlice:
			in.EndpointSlices = append(in.EndpointSlices, o)
		}
	}
	return in
}

// applied compiles in and applies it to a fresh fake table.
func applied(t *testing.T, in Inputs) *knftables.Fake {
	t.Helper()
	fake := knftables.NewFake(knftables.IPv4Family, testTable)
	if err := NewApplier(fake, nil).Apply(context.Background(), Compile(in)); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return fake
}

func TestCompilePacketFlows(t *testing.T) {
	web := service("default", "web", "10.96.0.20", tcpPort("http", 80))
	webEPs := endpointSlice("default", "web", "a", []slicePortSpec{sliceTCP("http", 8080)}, ready(podA), ready(podB))
	empty := service("default", "empty", "10.96.0.30", tcpPort("http", 80))
	named := service("default", "named", "10.96.0.40", tcpPort("web", 80))
	namedEPs := endpointSlice("default", "named", "a", []slicePortSpec{sliceTCP("web", 9376)}, ready(podA))
	term := service("default", "term", "10.96.0.50", tcpPort("", 80))
	termEPs := endpointSlice("default", "term", "a", []slicePortSpec{sliceTCP("", 80)}, notReady(podA), terminating(podB))
	mixed := service("default", "mixed", "10.96.0.60", tcpPort("", 80))
	mixedEPs := endpointSlice("default", "mixed", "a", []slicePortSpec{sliceTCP("", 80)}, ready(podA), terminating(podB))
	headless := service("default", "headless", corev1.ClusterIPNone, tcpPort("", 80))
	headlessEPs := endpointSlice("default", "headless", "a", []slicePortSpec{sliceTCP("", 80)}, ready(podA))
	extName := withType(service("default", "ext", "", tcpPort("", 80)), corev1.ServiceTypeExternalName)
	np := withType(service("default", "np", "10.96.0.70", withNodePort(tcpPort("", 80), 30080)), corev1.ServiceTypeNodePort)
	npEPs := endpointSlice("default", "np", "a", []slicePortSpec{sliceTCP("", 80)}, ready(podA))
	npEmpty := withType(service("default", "npempty", "10.96.0.71", withNodePort(tcpPort("", 80), 30081)), corev1.ServiceTypeNodePort)
	dns := service("kube-system", "kube-dns", "10.96.0.10", udpPort("dns", 53), tcpPort("dns-tcp", 53))
	dnsEPs := endpointSlice("kube-system", "kube-dns", "a",
		[]slicePortSpec{{"dns", corev1.ProtocolUDP, 53}, {"dns-tcp", corev1.ProtocolTCP, 53}}, ready(podB))
	otherNS := endpointSlice("other", "web", "a", []slicePortSpec{sliceTCP("http", 1)}, ready("10.244.0.99"))

	in := testInputs(web, webEPs, empty, named, namedEPs, term, termEPs, mixed, mixedEPs, headless, headlessEPs,
		extName, np, npEPs, npEmpty, dns, dnsEPs, otherNS)
	tr := newTracer(t, applied(t, in), nodeIP, "10.244.0.1")

	cases := []struct {
		name   string
		trace  func() []string
		expect []string
	}{
		{"pod to cluster IP is spread over every ready endpoint, unmasqueraded",
			func() []string { return tr.fromPod("10.244.0.9", "10.96.0.20", "tcp", 80) },
			endpoints(podA+":8080", podB+":8080")},
		{"pod to cluster IP and itself as endpoint is masqueraded (hairpin)",
			func() []string { return tr.fromPod(podA, "10.96.0.20", "tcp", 80) },
			endpoints(podA+":8080 masq", podB+":8080")},
		{"pod to cluster IP with no endpoints is rejected",
			func() []string { return tr.fromPod(podA, "10.96.0.30", "tcp", 80) },
			endpoints("reject")},
		{"pod to cluster IP on a port the service does not define is rejected",
			func() []string { return tr.fromPod(podA, "10.96.0.20", "tcp", 81) },
			endpoints("reject")},
		{"pod to cluster IP on the right port but the wrong protocol is rejected",
			func() []string { return tr.fromPod(podA, "10.96.0.20", "udp", 80) },
			endpoints("reject")},
		{"pod to an unallocated address in the service CIDR is dropped",
			func() []string { return tr.fromPod(podA, "10.96.9.9", "tcp", 80) },
			endpoints("drop")},
		{"pod to another pod is not touched",
			func() []string { return tr.fromPod(podA, podB, "tcp", 8080) },
			endpoints("accept")},
		{"named target port goes to the port the slice resolved it to",
			func() []string { return tr.fromPod("10.244.0.9", "10.96.0.40", "tcp", 80) },
			endpoints(podA + ":9376")},
		{"terminating but serving endpoints are used when none is ready",
			func() []string { return tr.fromPod("10.244.0.9", "10.96.0.50", "tcp", 80) },
			endpoints(podB + ":80")},
		{"terminating endpoints are not used while one is ready",
			func() []string { return tr.fromPod("10.244.0.9", "10.96.0.60", "tcp", 80) },
			endpoints(podA + ":80")},
		{"UDP and TCP ports of one service go to their own endpoint ports",
			func() []string {
				return append(tr.fromPod(podA, "10.96.0.10", "udp", 53), tr.fromPod(podA, "10.96.0.10", "tcp", 53)...)
			},
			[]string{podB + ":53", podB + ":53"}},
		{"external client to a NodePort is DNATed and masqueraded",
			func() []string { return tr.fromPod(outsider, nodeIP, "tcp", 30080) },
			endpoints(podA + ":80 masq")},
		{"external client to a NodePort with no endpoints is rejected",
			func() []string { return tr.fromPod(outsider, nodeIP, "tcp", 30081) },
			endpoints("reject")},
		{"external client to an unused port on the node is accepted (not ours)",
			func() []string { return tr.fromPod(outsider, nodeIP, "tcp", 22) },
			endpoints("accept")},
		{"node itself to cluster IP is DNATed",
			func() []string { return tr.fromNode(nodeIP, "10.96.0.40", "tcp", 80) },
			endpoints(podA + ":9376")},
		{"node itself to cluster IP with no endpoints is rejected",
			func() []string { return tr.fromNode(nodeIP, "10.96.0.30", "tcp", 80) },
			endpoints("reject")},
		{"node itself to an unknown port of a cluster IP is rejected",
			func() []string { return tr.fromNode(nodeIP, "10.96.0.40", "tcp", 81) },
			endpoints("reject")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.trace(); !slices.Equal(got, tc.expect) {
				t.Errorf("got %v, want %v", got, tc.expect)
			}
		})
	}
}

func TestCompileObjects(t *testing.T) {
	cases := []struct {
		name  string
		in    Inputs
		check func(t *testing.T, r *Ruleset)
	}{
		{"headless and ExternalName services get no map entries and no chains",
			testInputs(service("default", "h", corev1.ClusterIPNone, tcpPort("", 80)),
				endpointSlice("default", "h", "a", []slicePortSpec{sliceTCP("", 80)}, ready(podA)),
				withType(service("default", "x", "", tcpPort("", 80)), corev1.ServiceTypeExternalName)),
			func(t *testing.T, r *Ruleset) {
				for _, m := range []string{serviceIPsMap, noEndpointServicesMap, clusterIPsSet} {
					if n := len(r.Sets[m].Elements); n != 0 {
						t.Errorf("%s has %d elements, want 0", m, n)
					}
				}
				if n := countPrefix(r, serviceChainPrefix); n != 0 {
					t.Errorf("%d service chains, want 0", n)
				}
			}},
		{"ClientIP affinity makes one timeout set per endpoint, checked first and updated on DNAT",
			testInputs(withAffinity(service("default", "s", "10.96.0.20", tcpPort("", 80)), 600),
				endpointSlice("default", "s", "a", []slicePortSpec{sliceTCP("", 80)}, ready(podA), ready(podB))),
			func(t *testing.T, r *Ruleset) {
				var sets []*Set
				for name, s := range r.Sets {
					if strings.HasPrefix(name, affinitySetPrefix) {
						sets = append(sets, s)
					}
				}
				if len(sets) != 2 {
					t.Fatalf("%d affinity sets, want 2", len(sets))
				}
				for _, s := range sets {
					if s.Timeout.Seconds() != 600 || !slices.Contains(s.Flags, knftables.DynamicFlag) || !slices.Contains(s.Flags, knftables.TimeoutFlag) {
						t.Errorf("set %s: timeout %v flags %v", s.Name, s.Timeout, s.Flags)
					}
					if !anyRule(r, "update @"+s.Name+" { ip saddr }") {
						t.Errorf("no rule updates %s", s.Name)
					}
				}
				svc := r.Chains[serviceChainName("default/s/tcp/")]
				if !strings.HasPrefix(svc.Rules[0], "ip saddr @affinity-") || !strings.HasPrefix(svc.Rules[2], "numgen random mod 2") {
					t.Errorf("service chain rules %q: want affinity checks before numgen", svc.Rules)
				}
			}},
		{"every endpoint is in the hairpin set, which postrouting masquerades; no chain per endpoint without affinity",
			testInputs(service("default", "s", "10.96.0.20", tcpPort("", 80)),
				endpointSlice("default", "s", "a", []slicePortSpec{sliceTCP("", 80)}, ready(podA))),
			func(t *testing.T, r *Ruleset) {
				if _, ok := r.Sets[hairpinSet].Elements[podA+" . "+podA]; !ok {
					t.Errorf("hairpin set lacks %s . %s", podA, podA)
				}
				if got := r.Chains["nat-postrouting"].Rules[0]; got != "ip saddr . ip daddr @hairpin jump mark-for-masquerade" {
					t.Errorf("nat-postrouting starts with %q", got)
				}
				if c := r.Chains[endpointChainName("default/s/tcp/", endpoint{ip: netip.MustParseAddr(podA), port: 80})]; c != nil {
					t.Errorf("an endpoint chain exists without affinity: %v", c)
				}
				svc := r.Chains[serviceChainName("default/s/tcp/")]
				want := []string{"ct mark set numgen random mod 1 offset 1 goto endpoint-dnat"}
				if svc == nil || !slices.Equal(svc.Rules, want) {
					t.Errorf("service chain %v, want %q", svc, want)
				}
				if e, ok := r.Sets[backendsMap].Elements["1"]; !ok || e.Value[0] != podA+" . 80" {
					t.Errorf("slot 1 of backends = %v, want %s . 80", e, podA)
				}
			}},
		{"a service without endpoints goes to reject-chain and keeps its cluster IP in cluster-ips",
			testInputs(service("default", "s", "10.96.0.20", tcpPort("", 80))),
			func(t *testing.T, r *Ruleset) {
				e, ok := r.Sets[noEndpointServicesMap].Elements["10.96.0.20 . tcp . 80"]
				if !ok || e.Value[0] != "goto reject-chain" {
					t.Errorf("no-endpoint-services element %v", e)
				}
				if _, ok := r.Sets[clusterIPsSet].Elements["10.96.0.20"]; !ok {
					t.Error("cluster IP missing from cluster-ips")
				}
			}},
		{"the masquerade bit sets the mark the chains use",
			func() Inputs { in := testInputs(); in.MasqueradeBit = 5; return in }(),
			func(t *testing.T, r *Ruleset) {
				if got := r.Chains[markForMasqueradeChain].Rules[0]; got != "mark set mark or 0x20" {
					t.Errorf("mark rule %q", got)
				}
			}},
		{"NodeIPs restrict NodePorts to a set of node addresses",
			func() Inputs { in := testInputs(); in.NodeIPs = []netip.Addr{netip.MustParseAddr(nodeIP)}; return in }(),
			func(t *testing.T, r *Ruleset) {
				if _, ok := r.Sets[nodePortIPsSet].Elements[nodeIP]; !ok || !anyRule(r, "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports") {
					t.Error("nodeport-ips set or rule missing")
				}
			}},
		{"compiling the same inputs twice gives identical rules",
			manyServices(20, 3),
			func(t *testing.T, r *Ruleset) {
				again := Compile(manyServices(20, 3))
				for name, c := range r.Chains {
					if !slices.Equal(c.Rules, again.Chains[name].Rules) {
						t.Errorf("chain %s differs", name)
					}
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, Compile(tc.in)) })
	}
}

func TestChainNamesAreBoundedAndUnique(t *testing.T) {
	long := strings.Repeat("n", 63)
	cases := []struct {
		name, a, b string
	}{
		{"names of maximal valid length fit without truncation", long + "/" + long + "/sctp/" + strings.Repeat("p", 15) + "__255.255.255.255/65535", ""},
		{"two names differing only past the limit still differ by hash", strings.Repeat("x", 300) + "a", strings.Repeat("x", 300) + "b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := hashedName(endpointChainPrefix, tc.a)
			if len(n) > chainNameLengthMax-1 {
				t.Errorf("name length %d", len(n))
			}
			if tc.b == "" && !strings.HasSuffix(n, tc.a) {
				t.Errorf("valid name was truncated: %q", n)
			}
			if tc.b != "" && n == hashedName(endpointChainPrefix, tc.b) {
				t.Error("names collide")
			}
		})
	}
}

func countPrefix(r *Ruleset, prefix string) int {
	n := 0
	for name := range r.Chains {
		if strings.HasPrefix(name, prefix) && strings.Contains(name, "/") { // hashed per-service names only
			n++
		}
	}
	return n
}

func anyRule(r *Ruleset, rule string) bool {
	for _, c := range r.Chains {
		if slices.Contains(c.Rules, rule) {
			return true
		}
	}
	return false
}
