package proxy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/knftables"
)

// failingNFT fails Run while fail is set, leaving the fake untouched, as a
// rejected nft transaction leaves the kernel untouched.
type failingNFT struct {
	*knftables.Fake
	fail atomic.Bool
}

func (f *failingNFT) Run(ctx context.Context, tx *knftables.Transaction) error {
	if f.fail.Load() {
		return errors.New("injected nft failure")
	}
	return f.Fake.Run(ctx, tx)
}

// freshDump is what a brand-new table holding r looks like.
func freshDump(t *testing.T, r *Ruleset) string {
	t.Helper()
	fake := knftables.NewFake(knftables.IPv4Family, testTable)
	if err := NewApplier(fake, nil).Apply(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return fake.Dump()
}

func threeServices(bEndpoints ...sliceEndpoint) Inputs {
	p := []slicePortSpec{sliceTCP("", 80)}
	return testInputs(
		service("default", "a", "10.96.0.20", tcpPort("", 80)),
		endpointSlice("default", "a", "x", p, ready("10.244.0.10")),
		service("default", "b", "10.96.0.21", tcpPort("", 80)),
		endpointSlice("default", "b", "x", p, bEndpoints...),
		withAffinity(service("default", "c", "10.96.0.22", tcpPort("", 80)), 60),
		endpointSlice("default", "c", "x", p, ready("10.244.0.30"), ready("10.244.0.31")),
	)
}

func TestApplyIncremental(t *testing.T) {
	base := threeServices(ready("10.244.0.20"))
	cases := []struct {
		name string
		next Inputs
		// every line of the partial transaction must mention one of these
		touches []string
	}{
		{"adding an endpoint to one service rewrites only that service",
			threeServices(ready("10.244.0.20"), ready("10.244.0.21")),
			[]string{"default/b/", "10.96.0.21", "10.244.0.21", slotElement}},
		{"losing all endpoints moves the service to reject and flushes its chains",
			threeServices(),
			[]string{"default/b/", "10.96.0.21", "10.244.0.20", slotElement}},
		{"a new service adds only its own chains and elements",
			func() Inputs {
				in := threeServices(ready("10.244.0.20"))
				in.Services = append(in.Services, service("default", "d", "10.96.0.23", tcpPort("", 80)))
				in.EndpointSlices = append(in.EndpointSlices, endpointSlice("default", "d", "x", []slicePortSpec{sliceTCP("", 80)}, ready("10.244.0.40")))
				return in
			}(),
			[]string{"default/d/", "10.96.0.23", "10.244.0.40"}},
		{"changing the affinity timeout recreates only that service's sets",
			func() Inputs {
				in := threeServices(ready("10.244.0.20"))
				in.Services[2] = withAffinity(service("default", "c", "10.96.0.22", tcpPort("", 80)), 120)
				return in
			}(),
			[]string{"default/c/"}},
		{"nothing changed sends nothing", base, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := knftables.NewFake(knftables.IPv4Family, testTable)
			clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
			a := newApplier(fake, nil, clk)
			ctx := context.Background()
			// One slot table for both compiles, as the Proxier keeps one.
			from, next := base, tc.next
			from.Slots = NewSlots()
			next.Slots = from.Slots
			if err := a.Apply(ctx, Compile(from)); err != nil {
				t.Fatal(err)
			}
			first := fake.LastTransaction
			want := Compile(next)
			if err := a.Apply(ctx, want); err != nil {
				t.Fatal(err)
			}
			if tc.touches == nil {
				if fake.LastTransaction != first {
					t.Errorf("a transaction ran: %s", fake.LastTransaction)
				}
				return
			}
			for _, line := range strings.Split(strings.TrimSpace(fake.LastTransaction.String()), "\n") {
				if !containsAny(line, tc.touches) {
					t.Errorf("partial transaction touches something else: %q", line)
				}
			}
			// After stale chains are gone, the table is exactly what a full
			// sync of the new state would write.
			clk.Step(staleChainDelay)
			if err := a.Apply(ctx, want); err != nil {
				t.Fatal(err)
			}
			if got, exp := elementsSorted(fake.Dump()), elementsSorted(freshDump(t, want)); got != exp {
				t.Errorf("table after partial syncs differs from a fresh one:\n%s\nwant:\n%s", got, exp)
			}
		})
	}
}

func TestApplyRecovery(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, nft *failingNFT, reg *prometheus.Registry)
	}{
		{"a failed transaction keeps the old rules, counts a failure and forces a full sync",
			func(t *testing.T, nft *failingNFT, reg *prometheus.Registry) {
				a := NewApplier(nft, reg)
				if err := a.Apply(ctx, Compile(threeServices(ready("10.244.0.20")))); err != nil {
					t.Fatal(err)
				}
				before := nft.Dump()
				nft.fail.Store(true)
				if err := a.Apply(ctx, Compile(threeServices())); err == nil {
					t.Fatal("no error from a failed transaction")
				}
				if nft.Dump() != before {
					t.Error("failed apply changed the table")
				}
				nft.fail.Store(false)
				want := Compile(threeServices())
				if err := a.Apply(ctx, want); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(nft.LastTransaction.String(), "add table") {
					t.Errorf("sync after failure was not full:\n%s", nft.LastTransaction)
				}
				if got := metricValue(t, reg, "kubeproxy_sync_proxy_rules_nftables_sync_failures_total"); got != 1 {
					t.Errorf("failures metric %v, want 1", got)
				}
			}},
		{"a new applier over a table left by a previous run reconciles it without duplicates",
			func(t *testing.T, nft *failingNFT, reg *prometheus.Registry) {
				old := threeServices(ready("10.244.0.20"))
				if err := NewApplier(nft, nil).Apply(ctx, Compile(old)); err != nil {
					t.Fatal(err)
				}
				// The previous daemon also left an object we no longer make.
				tx := nft.NewTransaction()
				tx.Add(&knftables.Chain{Name: "leftover"})
				tx.Add(&knftables.Map{Name: "leftover-map", Type: "ipv4_addr : verdict"})
				if err := nft.Run(ctx, tx); err != nil {
					t.Fatal(err)
				}
				clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
				a := newApplier(nft, reg, clk)
				want := Compile(threeServices(ready("10.244.0.21")))
				if err := a.Apply(ctx, want); err != nil {
					t.Fatal(err)
				}
				clk.Step(staleChainDelay)
				if err := a.Apply(ctx, want); err != nil {
					t.Fatal(err)
				}
				if got, exp := nft.Dump(), freshDump(t, want); got != exp {
					t.Errorf("restarted table differs from a fresh one:\n%s\nwant:\n%s", got, exp)
				}
			}},
		{"metrics are registered under kube-proxy's names",
			func(t *testing.T, nft *failingNFT, reg *prometheus.Registry) {
				a := NewApplier(nft, reg)
				if err := a.Apply(ctx, Compile(threeServices())); err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{
					"kubeproxy_sync_proxy_rules_duration_seconds",
					"kubeproxy_sync_full_proxy_rules_duration_seconds",
					"kubeproxy_sync_partial_proxy_rules_duration_seconds",
					"kubeproxy_sync_proxy_rules_last_timestamp_seconds",
					"kubeproxy_sync_proxy_rules_nftables_sync_failures_total",
					"kubeproxy_network_programming_duration_seconds",
				} {
					if n := seriesCount(t, reg, name); n != 1 {
						t.Errorf("%s: %d series, want 1", name, n)
					}
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, &failingNFT{Fake: knftables.NewFake(knftables.IPv4Family, testTable)}, prometheus.NewRegistry())
		})
	}
}

func TestPartialSyncSizeAtScale(t *testing.T) {
	ctx := context.Background()
	in := manyServices(300, 10) // the fake table is slow with many elements; the point holds at any size
	in.Slots = NewSlots()
	fake := knftables.NewFake(knftables.IPv4Family, testTable)
	a := NewApplier(fake, nil)
	if err := a.Apply(ctx, Compile(in)); err != nil {
		t.Fatal(err)
	}
	full := fake.LastTransaction.NumOperations()
	in.EndpointSlices[150] = endpointSlice("bench", "svc-150", "a", []slicePortSpec{sliceTCP("http", 8080)}, ready("10.200.0.1"))
	if err := a.Apply(ctx, Compile(in)); err != nil {
		t.Fatal(err)
	}
	partial := fake.LastTransaction.NumOperations()
	// One service with 10 endpoints → 1: flush + rule of its chain, its 10
	// slots and hairpin elements deleted, 1 of each added.
	if partial > 30 {
		t.Errorf("partial sync of one service among 300 sent %d operations (full sync %d)", partial, full)
	}
	t.Logf("full sync %d operations, partial sync %d", full, partial)
}

// elementsSorted puts a dump's element lines in order: a set's elements
// have no order, while rules keep theirs.
func elementsSorted(dump string) string {
	var other, elems []string
	for _, line := range strings.Split(dump, "\n") {
		if strings.HasPrefix(line, "add element ") {
			elems = append(elems, line)
		} else {
			other = append(other, line)
		}
	}
	slices.Sort(elems)
	return strings.Join(append(other, elems...), "\n")
}

// slotElement is how a transaction names a slot of the backends map it
// deletes (by key only, so without the endpoint's address).
const slotElement = "delete element ip podnet-test backends { "

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// seriesCount is how many series of metric name reg holds.
func seriesCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return len(f.GetMetric())
		}
	}
	return 0
}

// metricValue reads a counter, or a histogram's sample count.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			m := f.GetMetric()[0]
			if m.GetHistogram() != nil {
				return float64(m.GetHistogram().GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return -1
}
