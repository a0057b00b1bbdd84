package proxy

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"
)

// TestPartialSyncEqualsFullCompile changes a few random Services at a time
// (endpoints, ports, types, traffic policies, affinity, deletion, shared
// endpoints and even conflicting ClusterIPs), recompiles only those, and
// checks after every step that the Applier's Ruleset equals a full Compile
// of the same state and that the table equals a freshly written one.
func TestPartialSyncEqualsFullCompile(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			ctx := context.Background()
			w := newWorld(rng, 10)
			in := w.inputs()
			slots := NewSlots() // one for every compile, as the Proxier keeps one
			in.Slots = slots
			fake := knftables.NewFake(knftables.IPv4Family, testTable)
			clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
			a := newApplier(fake, nil, clk)
			if err := a.Apply(ctx, Compile(in)); err != nil {
				t.Fatal(err)
			}
			for step := range 25 {
				dirty := w.change(1 + rng.IntN(3))
				in := w.inputs()
				in.Slots = slots
				changed := CompileServices(in, dirty)
				if err := a.ApplyServices(ctx, changed); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				full := in
				full.Slots = cloneSlots(in.Slots)
				want := Compile(full)
				if diff := rulesetDiff(a.last, want); diff != "" {
					t.Fatalf("step %d (changed %v): partial result differs from a full compile:\n%s", step, slices.Sorted(maps.Keys(dirty)), diff)
				}
				checkSlotsDisjoint(t, a.last)
				clk.Step(staleChainDelay)
				if err := a.ApplyServices(ctx, nil); err != nil { // deletes stale chains
					t.Fatal(err)
				}
				if got, exp := elementsSorted(fake.Dump()), elementsSorted(freshDump(t, want)); got != exp {
					t.Fatalf("step %d: table after partial syncs differs from a fresh one:\n%s\nwant:\n%s", step, got, exp)
				}
			}
		})
	}
}

func cloneSlots(s *Slots) *Slots {
	c := &Slots{ranges: map[string]slotRange{}, free: map[uint32][]uint32{}, next: s.next, byService: map[string][]string{}}
	for k, v := range s.ranges {
		v.members = slices.Clone(v.members)
		c.ranges[k] = v
	}
	for k, v := range s.free {
		c.free[k] = slices.Clone(v)
	}
	for k, v := range s.byService {
		c.byService[k] = slices.Clone(v)
	}
	return c
}

// checkSlotsDisjoint fails if two dispatch chains' slot ranges overlap.
func checkSlotsDisjoint(t *testing.T, r *Ruleset) {
	t.Helper()
	owner := map[string]string{}
	for _, k := range sortedKeys(r.Sets[backendsMap].Elements) {
		owner[k] = r.Sets[backendsMap].Elements[k].owner
	}
	for name, c := range r.Chains {
		for _, rule := range c.Rules {
			var mod, off int
			if n, _ := fmt.Sscanf(rule, "ct mark set numgen random mod %d offset %d", &mod, &off); n == 2 {
				for i := off; i < off+mod; i++ {
					if _, ok := owner[fmt.Sprint(i)]; !ok {
						t.Errorf("chain %s: slot %d has no backend", name, i)
					}
				}
			}
		}
	}
}

// rulesetDiff describes how two Rulesets differ ("" when equal), including
// which Service each shared element belongs to.
func rulesetDiff(got, want *Ruleset) string {
	var out []string
	for _, name := range sortedKeys(want.Chains) {
		g, ok := got.Chains[name]
		w := want.Chains[name]
		switch {
		case !ok:
			out = append(out, "missing chain "+name)
		case !slices.Equal(g.Rules, w.Rules) || (g.Base == nil) != (w.Base == nil):
			out = append(out, fmt.Sprintf("chain %s: %q, want %q", name, g.Rules, w.Rules))
		}
	}
	for _, name := range sortedKeys(got.Chains) {
		if _, ok := want.Chains[name]; !ok {
			out = append(out, "extra chain "+name)
		}
	}
	for _, name := range sortedKeys(want.Sets) {
		g, ok := got.Sets[name]
		w := want.Sets[name]
		if !ok {
			out = append(out, "missing set "+name)
			continue
		}
		if !g.sameDefinition(w) {
			out = append(out, "set definition differs: "+name)
		}
		for _, k := range sortedKeys(w.Elements) {
			ge, ok := g.Elements[k]
			we := w.Elements[k]
			if !ok || !slices.Equal(ge.Value, we.Value) || ge.owner != we.owner || fmt.Sprint(ge.others) != fmt.Sprint(we.others) {
				out = append(out, fmt.Sprintf("%s[%s] = %v (%v), want %v (%v)", name, k, ge, ok, we, true))
			}
		}
		for _, k := range sortedKeys(g.Elements) {
			if _, ok := w.Elements[k]; !ok {
				out = append(out, fmt.Sprintf("extra %s[%s]", name, k))
			}
		}
	}
	for _, name := range sortedKeys(got.Sets) {
		if _, ok := want.Sets[name]; !ok {
			out = append(out, "extra set "+name)
		}
	}
	return strings.Join(out, "\n")
}

// world is a small cluster that changes at random. Endpoint addresses come
// from a small pool, so Services share endpoints (one hairpin element for
// several Services), and ClusterIPs from a pool too, so two Services
// sometimes conflict over one address.
type world struct {
	rng      *rand.Rand
	names    []string
	services map[string]*corev1.Service
	slices   map[string]*discoveryv1.EndpointSlice
}

func newWorld(rng *rand.Rand, n int) *world {
	w := &world{rng: rng, services: map[string]*corev1.Service{}, slices: map[string]*discoveryv1.EndpointSlice{}}
	for i := range n {
		w.names = append(w.names, fmt.Sprintf("ns%d/svc-%d", i%2, i))
	}
	for _, key := range w.names {
		w.regen(key)
	}
	return w
}

// change changes k Services (or their EndpointSlices) and returns their keys.
func (w *world) change(k int) map[string]bool {
	dirty := map[string]bool{}
	for range k {
		key := w.names[w.rng.IntN(len(w.names))]
		dirty[key] = true
		switch w.rng.IntN(4) {
		case 0: // gone
			delete(w.services, key)
			delete(w.slices, key)
		case 1: // only the endpoints change
			if svc := w.services[key]; svc != nil {
				w.slices[key] = w.slice(svc)
			}
		default:
			w.regen(key)
		}
	}
	return dirty
}

func (w *world) regen(key string) {
	ns, name, _ := strings.Cut(key, "/")
	r := w.rng
	ip := fmt.Sprintf("10.96.0.%d", 10+r.IntN(12))
	if r.IntN(10) == 0 {
		ip = corev1.ClusterIPNone
	}
	svc := service(ns, name, ip)
	for i := range 1 + r.IntN(2) {
		p := tcpPort(fmt.Sprintf("p%d", i), int32(80+i))
		if r.IntN(3) == 0 {
			p = udpPort(fmt.Sprintf("p%d", i), int32(53+i))
		}
		p.NodePort = int32(30000 + r.IntN(6))
		svc.Spec.Ports = append(svc.Spec.Ports, p)
	}
	switch r.IntN(4) {
	case 0:
		svc.Spec.Type = corev1.ServiceTypeNodePort
	case 1:
		svc.Spec.Type = corev1.ServiceTypeLoadBalancer
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: fmt.Sprintf("172.18.1.%d", 1+r.IntN(4))}}
		if r.IntN(2) == 0 {
			svc.Spec.LoadBalancerSourceRanges = []string{"172.18.0.0/24"}
		}
	}
	if r.IntN(3) == 0 {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	if r.IntN(4) == 0 {
		svc.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
	}
	if r.IntN(4) == 0 {
		svc = withAffinity(svc, int32(60*(1+r.IntN(2))))
	}
	w.services[key] = svc
	w.slices[key] = w.slice(svc)
}

func (w *world) slice(svc *corev1.Service) *discoveryv1.EndpointSlice {
	r := w.rng
	var ports []slicePortSpec
	for _, p := range svc.Spec.Ports {
		ports = append(ports, slicePortSpec{p.Name, p.Protocol, p.Port + 8000})
	}
	var eps []sliceEndpoint
	for range r.IntN(6) {
		ip := fmt.Sprintf("10.244.0.%d", 1+r.IntN(10))
		var e sliceEndpoint
		switch r.IntN(5) {
		case 0:
			e = terminating(ip)
		case 1:
			e = notReady(ip)
		default:
			e = ready(ip)
		}
		eps = append(eps, on(fmt.Sprintf("node-%d", r.IntN(2)), e))
	}
	return endpointSlice(svc.Namespace, svc.Name, "a", ports, eps...)
}

func (w *world) inputs() Inputs {
	in := Inputs{
		NodeName:     "node-1",
		ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")},
		ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")},
	}
	for _, key := range w.names {
		if s := w.services[key]; s != nil {
			in.Services = append(in.Services, s)
		}
		if s := w.slices[key]; s != nil {
			in.EndpointSlices = append(in.EndpointSlices, s)
		}
	}
	return in
}

func TestSlotsReuseFreedRanges(t *testing.T) {
	s := NewSlots()
	s.begin()
	a, b, c := s.assign("a", 1), s.assign("b", 1), s.assign("c", 1)
	s.end()
	s.forget("x") // no such Service: nothing happens
	// b and a go away; new chains get their ranges, lowest first, never 0.
	s.begin()
	s.assign("c", 1)
	s.end()
	s.begin()
	d, e := s.assign("d", 1), s.assign("e", 1)
	s.assign("c", 1)
	s.end()
	if d != a || e != b || d == 0 || e == 0 || c == d || c == e {
		t.Errorf("ranges a=%d b=%d c=%d, then d=%d e=%d: want d=a, e=b", a, b, c, d, e)
	}
}

func TestSlotsKeepEndpointsInPlace(t *testing.T) {
	cases := []struct {
		name      string
		from, to  []string
		wantSlots []string
	}{
		{"a replaced endpoint takes the freed slot", []string{"a", "b", "c"}, []string{"a", "c", "d"}, []string{"a", "d", "c"}},
		{"a new endpoint goes after the others", []string{"a", "b"}, []string{"a", "b", "c"}, []string{"a", "b", "c"}},
		{"an endpoint beyond the new count moves down", []string{"a", "b", "c"}, []string{"a", "c"}, []string{"a", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSlots()
			b1, _ := s.place("chain", tc.from)
			b2, perm := s.place("chain", tc.to)
			var got []string
			for _, j := range perm {
				got = append(got, tc.to[j])
			}
			if b1 != b2 || !slices.Equal(got, tc.wantSlots) {
				t.Errorf("slots %v at %d (was %d), want %v", got, b2, b1, tc.wantSlots)
			}
		})
	}
}
