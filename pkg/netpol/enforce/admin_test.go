package enforce

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/netpol"
)

const (
	anpDoc  = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n"
	banpDoc = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\n"
)

// tiers traces a new connection through forward as chainDefs and
// adminChainDefs lay it out: each direction's tier chain, in order.
func tiersForward(t testing.TB, r *Ruleset, src, dst netip.Addr, proto string, port int32) bool {
	s, d, p := src.String(), dst.String(), fmt.Sprint(port)
	return side(t, r, netpol.Egress, s, d, proto, p) && side(t, r, netpol.Ingress, d, s, proto, p)
}

// side is one tier chain: subject is the source for egress, the
// destination for ingress; proto is nft's name ("tcp", "icmp").
func side(t testing.TB, r *Ruleset, dir netpol.Direction, subject, peer, proto, port string) bool {
	ts := tiers[dir]
	ported := proto == "tcp" || proto == "udp" || proto == "sctp"
	iso, allow, allowAny := setEgressIsolated, setEgressAllow, setEgressAllowAny
	if dir == netpol.Ingress {
		iso, allow, allowAny = setIngressIsolated, setIngressAllow, setIngressAllowAny
	}
	// The allow sets are sharded by the subject's address.
	shard := shardOf(ip4(netip.MustParseAddr(subject)))
	allow, allowAny = shardSet(allow, shard), shardSet(allowAny, shard)
	switch {
	case ported && lookup(t, r, ts.allow, subject, peer, proto, port):
		return true
	case ported && lookup(t, r, ts.deny, subject, peer, proto, port):
		return false
	case !ported && lookup(t, r, ts.allowOther, subject, peer):
		return true
	case !ported && lookup(t, r, ts.denyOther, subject, peer):
		return false
	case lookup(t, r, iso, subject):
		return (ported && lookup(t, r, allow, subject, peer, proto, port)) || lookup(t, r, allowAny, subject, peer)
	case ported && lookup(t, r, ts.baseDeny, subject, peer, proto, port):
		return false
	case !ported && lookup(t, r, ts.baseDenyOther, subject, peer):
		return false
	}
	return true
}

// agreeTiers: the compiled sets, traced through the tier chains, accept
// exactly what the model allows, for every pod pair, some outside and node
// addresses and every probe port.
func agreeTiers(t *testing.T, eng *netpol.Engine) {
	t.Helper()
	r := Compile(eng, "n1")
	assertDisjoint(t, r)
	var eps []netpol.Endpoint
	for _, p := range eng.Cluster.Pods {
		eps = append(eps, netpol.PodEndpoint(p))
	}
	for _, ip := range []string{"192.0.2.1", "10.0.2.200", "172.18.0.3"} {
		eps = append(eps, netpol.IPEndpoint(netip.MustParseAddr(ip)))
	}
	bad := 0
	for _, from := range eps {
		for _, to := range eps {
			if from.Pod == nil && to.Pod == nil {
				continue
			}
			for _, pp := range probePorts {
				want := eng.Allowed(from, to, pp.Port, pp.Protocol)
				got := tiersForward(t, r, from.IP, to.IP, strings.ToLower(string(pp.Protocol)), pp.Port)
				if got != want && bad < 10 {
					bad++
					x := eng.Explain(from, to, pp.Port, pp.Protocol)
					t.Errorf("%s -> %s %s: sets accept=%v, model allowed=%v\n%s", from, to, pp, got, want, x.Text())
				}
			}
		}
	}
}

func TestCompileAdminAgreesWithModel(t *testing.T) {
	cases := []struct{ name, docs string }{
		{"an ANP Deny over a NetworkPolicy Allow", anpDoc + `
metadata: {name: deny-y}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: x}
spec: {podSelector: {}, ingress: [{}]}`},
		{"an ANP Pass to NetworkPolicy, then a Deny for the rest", anpDoc + `
metadata: {name: pass}
spec:
  priority: 1
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}], ports: [{portNumber: {port: 80}}]}]
---
` + anpDoc + `
metadata: {name: deny}
spec:
  priority: 2
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-b, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}]}]`},
		{"a BANP Deny for pods no NetworkPolicy isolates", banpDoc + `
spec:
  subject: {namespaces: {}}
  ingress: [{action: Allow, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}]}, {action: Deny, from: [{namespaces: {}}]}]
  egress: [{action: Deny, to: [{networks: [192.0.2.0/24]}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-a, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{ports: [{port: 80}]}]}`},
		{"ANP egress: allow some ports, named ports, deny the network", anpDoc + `
metadata: {name: egress}
spec:
  priority: 3
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}
  egress:
  - {action: Allow, to: [{namespaces: {matchLabels: {ns: z}}}], ports: [{namedPort: serve-81-udp}, {portRange: {start: 79, end: 80}}]}
  - {action: Pass, to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}}]}
  - {action: Deny, to: [{networks: [10.0.0.0/8, 172.18.0.0/16]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-out, namespace: "y"}
spec: {podSelector: {}, policyTypes: [Egress]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { agreeTiers(t, engine(t, tc.docs)) })
	}
}

// TestCompileAdminAgreesOnRandomPolicies mixes random ANPs, a BANP and
// NetworkPolicies; the seed is fixed so a failure reproduces.
func TestCompileAdminAgreesOnRandomPolicies(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range 30 {
		docs := randomAdmin(rng)
		if rng.IntN(2) == 0 {
			docs += "\n---\n" + randomPolicies(rng, 1+rng.IntN(2))
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			agreeTiers(t, engine(t, docs))
			if t.Failed() {
				t.Logf("policies:\n%s", docs)
			}
		})
	}
}

func randomAdmin(rng *rand.Rand) string {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	subject := func() string {
		return pick("{namespaces: {}}", "{namespaces: {matchLabels: {ns: x}}}",
			"{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}",
			`{pods: {namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchExpressions: [{key: pod, operator: NotIn, values: [c]}]}}}`)
	}
	peer := func(egress bool) string {
		ps := []string{"{namespaces: {}}", `{namespaces: {matchLabels: {ns: "y"}}}`,
			"{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}}",
			"{pods: {namespaceSelector: {matchLabels: {ns: z}}, podSelector: {}}}"}
		if egress {
			ps = append(ps, "{networks: [10.0.1.0/30]}", "{networks: [0.0.0.0/0]}", "{networks: [192.0.2.0/24, 10.0.3.2/32]}", "{nodes: {}}")
		}
		return pick(ps...)
	}
	ports := func(named bool) string {
		ps := []string{"", "", "ports: [{portNumber: {port: 80}}]", "ports: [{portNumber: {protocol: UDP, port: 81}}]",
			"ports: [{portRange: {start: 79, end: 81}}, {portNumber: {protocol: SCTP, port: 80}}]", "ports: [{portRange: {protocol: UDP, start: 53, end: 80}}]"}
		if named {
			ps = append(ps, "ports: [{namedPort: serve-81-tcp}]", "ports: [{namedPort: serve-80-udp}, {portNumber: {port: 81}}]")
		}
		return pick(ps...)
	}
	rules := func(dir string, actions ...string) string {
		var out []string
		for range rng.IntN(4) {
			egress := dir == "egress"
			p := peer(egress)
			// Named ports cannot go with networks and nodes peers.
			named := !strings.Contains(p, "networks") && !strings.Contains(p, "nodes")
			peerField := map[bool]string{true: "to", false: "from"}[egress]
			r := fmt.Sprintf("{action: %s, %s: [%s]", pick(actions...), peerField, p)
			if pp := ports(named); pp != "" {
				r += ", " + pp
			}
			out = append(out, r+"}")
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	var docs []string
	for i := range 1 + rng.IntN(3) {
		docs = append(docs, fmt.Sprintf("%smetadata: {name: anp%d}\nspec:\n  priority: %d\n  subject: %s\n  ingress: %s\n  egress: %s",
			anpDoc, i, rng.IntN(3), subject(), rules("ingress", "Allow", "Deny", "Pass"), rules("egress", "Allow", "Deny", "Pass")))
	}
	if rng.IntN(2) == 0 {
		docs = append(docs, fmt.Sprintf("%sspec:\n  subject: %s\n  ingress: %s\n  egress: %s",
			banpDoc, subject(), rules("ingress", "Allow", "Deny"), rules("egress", "Allow", "Deny")))
	}
	return strings.Join(docs, "\n---\n")
}

// Rules without ports cover protocols without ports too.
func TestCompileAdminOtherProtocols(t *testing.T) {
	eng := engine(t, anpDoc+`
metadata: {name: deny-y}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress:
  - {action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}], ports: [{portNumber: {port: 80}}]}
  - {action: Deny, from: [{namespaces: {matchLabels: {ns: z}}}]}`)
	r := Compile(eng, "n1")
	xa, ya, za := netip.MustParseAddr("10.0.1.1"), netip.MustParseAddr("10.0.2.1"), netip.MustParseAddr("10.0.3.1")
	if !tiersForward(t, r, ya, xa, "icmp", 0) {
		t.Error("a rule with ports must not stop ICMP")
	}
	if tiersForward(t, r, za, xa, "icmp", 0) {
		t.Error("a rule without ports must stop ICMP too")
	}
	if !tiersForward(t, r, xa, xa, "icmp", 0) {
		t.Error("a pod always reaches itself")
	}
}

// An ANP change is a small transaction: element changes only (here the
// pod's self-allow and the denied peer, per protocol).
func TestAdminChangeIsIncremental(t *testing.T) {
	base, err := os.ReadFile("../testdata/xyz.yaml")
	if err != nil {
		t.Fatal(err)
	}
	anp := anpDoc + `
metadata: {name: deny-y}
spec:
  priority: 10
  subject: {pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}}
  ingress: [{action: Deny, from: [{pods: {namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: b}}}}]}]`
	objs := objects(t, string(base))
	table := &flakyTable{Fake: knftables.NewFake(knftables.IPv4Family, Table)}
	ap := NewApplier(table)
	ctx := context.Background()
	if _, err := ap.Apply(ctx, Compile(engineFrom(t, objs), "n1")); err != nil {
		t.Fatal(err)
	}
	with := append(objs, objects(t, anp)...)
	res, err := ap.Apply(ctx, Compile(engineFrom(t, with), "n1"))
	if err != nil || res.Full || res.Operations > 12 {
		t.Fatalf("adding one ANP: %+v, %v; want a few element operations", res, err)
	}
	if reachesAdmin(t, table, "10.0.2.2", "10.0.1.1") || !reachesAdmin(t, table, "10.0.2.1", "10.0.1.1") {
		t.Errorf("y/b must be denied into x/a, y/a not:\n%s", table.Dump())
	}
	if res, err := ap.Apply(ctx, Compile(engineFrom(t, objs), "n1")); err != nil || res.Full || res.Operations > 12 {
		t.Fatalf("removing it: %+v, %v", res, err)
	}
	if n := kernelRuleset(table).Elements(); n != 0 {
		t.Errorf("no policy should leave no elements, got %d", n)
	}
}

func reachesAdmin(t *testing.T, table *flakyTable, from, to string) bool {
	return tiersForward(t, kernelRuleset(table), netip.MustParseAddr(from), netip.MustParseAddr(to), "tcp", 80)
}

// TestAdminRulesetLoadsInNft hands the whole table, admin elements
// included, to the real nft in a throwaway network namespace: the chains,
// gotos and interval concatenations must be what nft 1.0.6 accepts.
func TestAdminRulesetLoadsInNft(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace for nft")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed")
	}
	eng := engine(t, anpDoc+`
metadata: {name: mixed}
spec:
  priority: 3
  subject: {namespaces: {matchLabels: {ns: x}}}
  egress:
  - {action: Allow, to: [{namespaces: {matchLabels: {ns: z}}}], ports: [{namedPort: serve-81-udp}, {portRange: {start: 79, end: 80}}]}
  - {action: Deny, to: [{networks: [10.0.0.0/8]}]}
  ingress:
  - {action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}
  - {action: Deny, from: [{namespaces: {}}]}
---
`+banpDoc+`
spec:
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: z}}}], ports: [{portNumber: {port: 80}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-b, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}]}]`)
	fake := knftables.NewFake(knftables.IPv4Family, Table)
	if _, err := NewApplier(fake).Apply(context.Background(), Compile(eng, "n1")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--net", "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(fake.Dump())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft refused the ruleset: %v\n%s\n--- ruleset:\n%s", err, out, fake.Dump())
	}
}
