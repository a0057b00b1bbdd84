package proxy

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/source"
)

func TestProxier(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, src *source.Static, nft *failingNFT, p *Proxier, reg *prometheus.Registry)
	}{
		{"the first sync programs what the source already holds",
			func(t *testing.T, ctx context.Context, src *source.Static, nft *failingNFT, p *Proxier, reg *prometheus.Registry) {
				waitOrFail(t, ctx, p.Synced())
				expectDispatch(t, nft, "10.96.0.20 . tcp . 80", true)
			}},
		{"a new service is programmed without any periodic resync",
			func(t *testing.T, ctx context.Context, src *source.Static, nft *failingNFT, p *Proxier, reg *prometheus.Registry) {
				waitOrFail(t, ctx, p.Synced())
				src.Set(service("default", "new", "10.96.0.21", tcpPort("", 80)))
				src.Set(endpointSlice("default", "new", "x", []slicePortSpec{sliceTCP("", 80)}, ready(podB)))
				if err := p.WaitApplied(ctx); err != nil {
					t.Fatal(err)
				}
				expectDispatch(t, nft, "10.96.0.21 . tcp . 80", true)
				if n := metricValue(t, reg, "kubeproxy_network_programming_duration_seconds"); n < 2 {
					t.Errorf("%v programming latency samples, want at least 2", n)
				}
			}},
		{"a burst of changes is coalesced into few syncs",
			func(t *testing.T, ctx context.Context, src *source.Static, nft *failingNFT, p *Proxier, reg *prometheus.Registry) {
				waitOrFail(t, ctx, p.Synced())
				before := metricValue(t, reg, "kubeproxy_sync_proxy_rules_duration_seconds")
				in := manyServices(200, 2)
				for i := range in.Services {
					src.Set(in.Services[i])
					src.Set(in.EndpointSlices[i])
				}
				if err := p.WaitApplied(ctx); err != nil {
					t.Fatal(err)
				}
				syncs := metricValue(t, reg, "kubeproxy_sync_proxy_rules_duration_seconds") - before
				if syncs >= 400 {
					t.Errorf("%v syncs for 400 changes", syncs)
				}
				expectDispatch(t, nft, "10.96.0.200 . tcp . 80", true)
			}},
		{"a failed sync is retried until it succeeds",
			func(t *testing.T, ctx context.Context, src *source.Static, nft *failingNFT, p *Proxier, reg *prometheus.Registry) {
				waitOrFail(t, ctx, p.Synced())
				nft.fail.Store(true)
				src.Delete(service("default", "web", "", tcpPort("", 80)))
				deadline := time.Now().Add(10 * time.Second)
				for metricValue(t, reg, "kubeproxy_sync_proxy_rules_nftables_sync_failures_total") < 1 {
					if time.Now().After(deadline) {
						t.Fatal("no failed sync")
					}
					time.Sleep(time.Millisecond)
				}
				nft.fail.Store(false)
				if err := p.WaitApplied(ctx); err != nil {
					t.Fatal(err)
				}
				expectDispatch(t, nft, "10.96.0.20 . tcp . 80", false)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			src := source.NewStatic(
				service("default", "web", "10.96.0.20", tcpPort("", 80)),
				endpointSlice("default", "web", "x", []slicePortSpec{sliceTCP("", 80)}, ready(podA)),
			)
			nft := &failingNFT{Fake: knftables.NewFake(knftables.IPv4Family, testTable)}
			reg := prometheus.NewRegistry()
			p := NewProxier(src, nft, Config{ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}}, reg)
			done := make(chan struct{})
			go func() { p.Run(ctx); close(done) }()
			tc.run(t, ctx, src, nft, p, reg)
			cancel()
			<-done
		})
	}
}

func waitOrFail(t *testing.T, ctx context.Context, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("timed out")
	}
}

func expectDispatch(t *testing.T, nft *failingNFT, key string, want bool) {
	t.Helper()
	nft.RLock()
	defer nft.RUnlock()
	m := nft.Table.Maps[serviceIPsMap]
	if got := m.FindElement(splitKey(key)...) != nil; got != want {
		t.Errorf("service-ips has %q: %v, want %v", key, got, want)
	}
}

func splitKey(k string) []string { return strings.Split(k, " . ") }

func TestProxierPartialSync(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in := manyServices(50, 3)
	var objs []source.Object
	for i := range in.Services {
		objs = append(objs, in.Services[i], in.EndpointSlices[i])
	}
	src := source.NewStatic(objs...)
	nft := &failingNFT{Fake: knftables.NewFake(knftables.IPv4Family, testTable)}
	reg := prometheus.NewRegistry()
	p := NewProxier(src, nft, Config{ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}}, reg)
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitOrFail(t, ctx, p.Synced())

	cases := []struct {
		name    string
		change  func()
		touches []string // every line of the transaction mentions one
	}{
		{"new endpoints of one Service rewrite only that Service",
			func() {
				src.Set(endpointSlice("bench", "svc-7", "a", []slicePortSpec{sliceTCP("http", 8080)}, ready("10.200.0.1")))
			},
			[]string{"bench/svc-7/", "10.200.0.1", "10.128.0.22", "10.128.0.23", "10.128.0.24", slotElement}},
		{"a deleted slice takes its endpoints away from its Service",
			func() {
				src.Delete(endpointSlice("bench", "svc-9", "a", nil))
			},
			[]string{"bench/svc-9/", "10.96.0.10 ", "10.128.0.28", "10.128.0.29", "10.128.0.30", slotElement}},
		{"a deleted Service takes only its own rules",
			func() {
				src.Delete(service("bench", "svc-11", "", tcpPort("http", 80)))
			},
			[]string{"bench/svc-11/", "10.96.0.12 ", "10.128.0.34", "10.128.0.35", "10.128.0.36", slotElement}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := metricValue(t, reg, "kubeproxy_sync_partial_proxy_rules_duration_seconds")
			tc.change()
			if err := p.WaitApplied(ctx); err != nil {
				t.Fatal(err)
			}
			if metricValue(t, reg, "kubeproxy_sync_partial_proxy_rules_duration_seconds") <= before {
				t.Error("no partial sync")
			}
			nft.RLock()
			tx := nft.LastTransaction.String()
			nft.RUnlock()
			for _, line := range strings.Split(strings.TrimSpace(tx), "\n") {
				if !containsAny(line, tc.touches) {
					t.Errorf("partial transaction touches something else: %q", line)
				}
			}
		})
	}
	// Whatever the partial syncs did, the table is what a full compile of
	// the source's state writes.
	want := Compile(p.inputs())
	clkWait := time.Now().Add(5 * time.Second)
	for {
		nft.RLock()
		got := elementsSorted(nft.Dump())
		nft.RUnlock()
		exp := elementsSorted(freshDump(t, want))
		if got == exp {
			break
		}
		if time.Now().After(clkWait) { // stale chains go after staleChainDelay
			t.Fatalf("table differs from a full compile:\n%s\nwant:\n%s", got, exp)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
