package enforce

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/netpol"
	"github.com/podnet/podnet/pkg/source"
)

// field is one parsed element field: a range of numbers (addresses, ports)
// or a protocol name.
type field struct {
	lo, hi uint32
	name   string
}

func parseField(t testing.TB, s string) field {
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		if a, err := netip.ParseAddr(lo); err == nil {
			return field{lo: ip4(a), hi: ip4(netip.MustParseAddr(hi))}
		}
		l, _ := strconv.Atoi(lo)
		h, _ := strconv.Atoi(hi)
		return field{lo: uint32(l), hi: uint32(h)}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return field{lo: ip4(a), hi: ip4(a)}
	}
	if n, err := strconv.Atoi(s); err == nil {
		return field{lo: uint32(n), hi: uint32(n)}
	}
	return field{name: s}
}

func (f field) has(v field) bool {
	if f.name != "" || v.name != "" {
		return f.name == v.name
	}
	return f.lo <= v.lo && v.hi <= f.hi
}

func (f field) overlaps(g field) bool {
	if f.name != "" || g.name != "" {
		return f.name == g.name
	}
	return f.lo <= g.hi && g.lo <= f.hi
}

// lookup is nftables' set lookup: some element contains every key field.
func lookup(t testing.TB, r *Ruleset, set string, key ...string) bool {
	want := make([]field, len(key))
	for i, k := range key {
		want[i] = parseField(t, k)
	}
	for _, el := range r.Sets[set] {
		ok := true
		for i, f := range el {
			if !parseField(t, f).has(want[i]) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// forward traces a new connection through the forward chain (chainDefs)
// and says whether it is accepted.
func forward(t testing.TB, r *Ruleset, src, dst netip.Addr, proto corev1.Protocol, port int32) bool {
	s, d, pr, p := src.String(), dst.String(), strings.ToLower(string(proto)), fmt.Sprint(port)
	if lookup(t, r, setEgressIsolated, s) &&
		!lookup(t, r, shardSet(setEgressAllow, shardOf(ip4(src))), s, d, pr, p) && !lookup(t, r, shardSet(setEgressAllowAny, shardOf(ip4(src))), s, d) {
		return false
	}
	if lookup(t, r, setIngressIsolated, d) &&
		!lookup(t, r, shardSet(setIngressAllow, shardOf(ip4(dst))), d, s, pr, p) && !lookup(t, r, shardSet(setIngressAllowAny, shardOf(ip4(dst))), d, s) {
		return false
	}
	return true
}

// assertDisjoint: nftables refuses overlapping elements in a set.
func assertDisjoint(t *testing.T, r *Ruleset) {
	t.Helper()
	for name, els := range r.Sets {
		var list [][]field
		for _, el := range els {
			fs := make([]field, len(el))
			for i, f := range el {
				fs[i] = parseField(t, f)
			}
			list = append(list, fs)
		}
		for i := range list {
			for j := i + 1; j < len(list); j++ {
				all := true
				for k := range list[i] {
					all = all && list[i][k].overlaps(list[j][k])
				}
				if all {
					t.Errorf("set %s: elements %v and %v overlap", name, list[i], list[j])
				}
			}
		}
	}
}

func engine(t testing.TB, extra string) *netpol.Engine {
	t.Helper()
	base, err := os.ReadFile("../testdata/xyz.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Decode(strings.NewReader(string(base)+"\n---\n"+extra), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if errs := manifest.Validate(o, manifest.Options{}); len(errs) > 0 {
			t.Fatalf("%s: %v", source.Key(o), errs.ToAggregate())
		}
	}
	eng, err := netpol.New(netpol.FromObjects(objs))
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

var probePorts = func() []netpol.PortProto {
	var out []netpol.PortProto
	for _, s := range []string{"79/TCP", "80/TCP", "81/TCP", "80/UDP", "81/UDP", "80/SCTP", "81/SCTP", "53/UDP", "8080/TCP"} {
		n, proto, _ := strings.Cut(s, "/")
		port, _ := strconv.Atoi(n)
		out = append(out, netpol.PortProto{Port: int32(port), Protocol: corev1.Protocol(proto)})
	}
	return out
}()

// agree checks every pod pair and some outside addresses on every probe
// port: the compiled sets accept exactly what the model allows.
func agree(t *testing.T, eng *netpol.Engine) {
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
				got := forward(t, r, from.IP, to.IP, pp.Protocol, pp.Port)
				if got != want && bad < 10 {
					bad++
					x := eng.Explain(from, to, pp.Port, pp.Protocol)
					t.Errorf("%s -> %s %s: sets accept=%v, model allowed=%v\n%s", from, to, pp, got, want, x.Text())
				}
			}
		}
	}
}

func TestCompileAgreesWithModel(t *testing.T) {
	cases := map[string]string{
		"no policy": "",
		"deny all and allow some": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: b}}}]
    ports: [{port: 80}, {port: serve-81-udp, protocol: UDP}]
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.2.0/24]}}]
    ports: [{port: 79, endPort: 81, protocol: SCTP}]
  egress:
  - to: [{namespaceSelector: {matchLabels: {ns: z}}}]
  - ports: [{port: serve-80-udp, protocol: UDP}]
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.3.0/24]}}]
    ports: [{port: 53, protocol: UDP}, {port: 50, endPort: 80}, {port: 80}]`,
	}
	for name, pols := range cases {
		t.Run(name, func(t *testing.T) { agree(t, engine(t, pols)) })
	}
}

// TestCompileAgreesOnRandomPolicies draws policies from every feature
// (selectors, namespaces, blocks with exceptions, numbered, ranged, named
// and protocol-only ports, both directions) and checks the sets against
// the model. The seed is fixed so a failure reproduces.
func TestCompileAgreesOnRandomPolicies(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range 40 {
		pols := randomPolicies(rng, 1+rng.IntN(4))
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			eng := engine(t, pols)
			agree(t, eng)
			if t.Failed() {
				t.Logf("policies:\n%s", pols)
			}
		})
	}
}

func randomPolicies(rng *rand.Rand, n int) string {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	sel := func() string {
		return pick("{}", "{matchLabels: {pod: a}}", "{matchLabels: {pod: b}}",
			"{matchExpressions: [{key: pod, operator: NotIn, values: [c]}]}")
	}
	nsSel := func() string {
		return pick("{}", `{matchLabels: {ns: "y"}}`, "{matchLabels: {ns: z}}", `{matchExpressions: [{key: ns, operator: In, values: [x, "y"]}]}`)
	}
	peer := func() string {
		return pick("{podSelector: "+sel()+"}", "{namespaceSelector: "+nsSel()+"}",
			"{namespaceSelector: "+nsSel()+", podSelector: "+sel()+"}",
			"{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.2.0/24]}}", "{ipBlock: {cidr: 10.0.1.0/30}}",
			"{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.1.2/32]}}")
	}
	port := func() string {
		return pick("{port: 80}", "{port: 81, protocol: UDP}", "{protocol: UDP}", "{port: 79, endPort: 80}",
			"{port: serve-81-tcp}", "{port: serve-80-udp, protocol: UDP}", "{port: serve-80-sctp, protocol: SCTP}", "{port: 53, protocol: UDP}")
	}
	list := func(f func() string, max int) string {
		k := rng.IntN(max + 1)
		items := make([]string, k)
		for i := range items {
			items[i] = f()
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	rule := func(peers string) string {
		return "{" + peers + ": " + list(peer, 2) + ", ports: " + list(port, 2) + "}"
	}
	var docs []string
	for i := range n {
		types := pick("[Ingress]", "[Egress]", "[Ingress, Egress]")
		docs = append(docs, fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p%d, namespace: %s}
spec:
  podSelector: %s
  policyTypes: %s
  ingress: [%s]
  egress: [%s]`, i, pick("x", `"y"`), sel(), types, rule("from"), rule("to")))
	}
	return strings.Join(docs, "\n---\n")
}

func engineFrom(t testing.TB, objs []source.Object) *netpol.Engine {
	t.Helper()
	eng, err := netpol.New(netpol.FromObjects(objs))
	if err != nil {
		t.Fatal(err)
	}
	return eng
}
