package dns

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/podnet/podnet/pkg/source"
)

// countingUpstream is a DNS server on 127.0.0.1 that counts queries and
// answers by the first label: "nx" NXDOMAIN with an SOA (TTL 60, MINIMUM 10),
// "nosoa" NXDOMAIN without one, "fail" SERVFAIL, anything else A 192.0.2.53
// with TTL 60.
func countingUpstream(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		n.Add(1)
		m := new(mdns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		switch strings.SplitN(q.Name, ".", 2)[0] {
		case "nx":
			m.Rcode = mdns.RcodeNameError
			soa, _ := mdns.NewRR("example. 60 IN SOA ns.example. h.example. 1 7200 1800 86400 10")
			m.Ns = append(m.Ns, soa)
		case "nosoa":
			m.Rcode = mdns.RcodeNameError
		case "fail":
			m.Rcode = mdns.RcodeServerFailure
		default:
			rr, _ := mdns.NewRR(q.Name + " 60 IN A 192.0.2.53")
			m.Answer = append(m.Answer, rr)
		}
		_ = w.WriteMsg(m)
	})
	return fakeServer(t, h), &n
}

func TestServerCache(t *testing.T) {
	up, asked := countingUpstream(t)
	clk := clocktesting.NewFakeClock(time.Unix(1700000000, 0))
	ts := startServer(t, source.NewStatic(clusterObjects()...), ServerConfig{Upstreams: []string{up}, Clock: clk,
		Cache: &CacheConfig{SuccessTTL: 30, DenialTTL: 30, DisableSuccess: []string{"cluster.local"}, DisableDenial: []string{"cluster.local"}}})
	ask := func(name string) *mdns.Msg { return exchange(t, "udp", ts.addr, query(name, mdns.TypeA)) }
	type step struct {
		advance   time.Duration
		qname     string
		wantAsked int64 // upstream queries so far
		wantTTL   uint32
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"a positive answer is kept for its TTL capped at 30, and served with the time left", []step{
			{0, "www.example.", 1, 60}, {10 * time.Second, "www.example.", 1, 20}, {21 * time.Second, "www.example.", 2, 60}}},
		{"the cache key ignores case", []step{
			{0, "Case.Example.", 3, 60}, {0, "case.example.", 3, 30}}},
		{"a negative answer is kept for min(SOA TTL, SOA MINIMUM) (RFC 2308)", []step{
			{0, "nx.example.", 4, 60}, {9 * time.Second, "nx.example.", 4, 1}, {2 * time.Second, "nx.example.", 5, 60}}},
		{"a negative answer without an SOA is not cached (RFC 2308 §5)", []step{
			{0, "nosoa.example.", 6, 0}, {0, "nosoa.example.", 7, 0}}},
		{"SERVFAIL is never cached", []step{
			{0, "fail.example.", 8, 0}, {0, "fail.example.", 9, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i, s := range tc.steps {
				clk.Step(s.advance)
				r := ask(s.qname)
				if got := asked.Load(); got != s.wantAsked {
					t.Errorf("step %d: upstream asked %d times, want %d", i, got, s.wantAsked)
				}
				var ttl uint32
				if len(r.Answer) > 0 {
					ttl = r.Answer[0].Header().Ttl
				} else if len(r.Ns) > 0 {
					ttl = r.Ns[0].Header().Ttl
				}
				if ttl != s.wantTTL {
					t.Errorf("step %d: TTL %d, want %d", i, ttl, s.wantTTL)
				}
				if !strings.EqualFold(r.Question[0].Name, s.qname) || r.Question[0].Name != s.qname {
					t.Errorf("step %d: question %q, want the query's %q", i, r.Question[0].Name, s.qname)
				}
			}
		})
	}
	if hits := counterValue(t, ts.reg, "coredns_cache_hits_total"); hits != 3 {
		t.Errorf("coredns_cache_hits_total = %v, want 3", hits)
	}
	if misses := counterValue(t, ts.reg, "coredns_cache_misses_total"); misses < 9 {
		t.Errorf("coredns_cache_misses_total = %v, want at least 9", misses)
	}
}

func TestServerCacheIsBounded(t *testing.T) {
	up, _ := countingUpstream(t)
	ts := startServer(t, source.NewStatic(clusterObjects()...), ServerConfig{Upstreams: []string{up}, Cache: &CacheConfig{SuccessCap: 3}})
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		exchange(t, "udp", ts.addr, query(n+".example.", mdns.TypeA))
	}
	if got := gaugeValue(t, ts.reg, "coredns_cache_entries", "success"); got != 3 {
		t.Errorf("success entries = %v, want the capacity, 3", got)
	}
}

func TestServerCacheExemptsTheClusterZone(t *testing.T) {
	src := source.NewStatic(clusterObjects()...)
	ts := startServer(t, src, ServerConfig{Cache: &CacheConfig{SuccessTTL: 30, DisableSuccess: []string{"cluster.local"}, DisableDenial: []string{"cluster.local"}}})
	q := "fresh.default.svc.cluster.local."
	if r := exchange(t, "udp", ts.addr, query(q, mdns.TypeA)); r.Rcode != mdns.RcodeNameError {
		t.Fatalf("rcode %s before the Service exists", mdns.RcodeToString[r.Rcode])
	}
	src.Set(clusterIPService("default", "fresh", []string{"10.96.0.99"}, tcpPort("http", 80)))
	waitFor(t, "the new Service, not a cached NXDOMAIN", func() bool {
		return exchange(t, "udp", ts.addr, query(q, mdns.TypeA)).Rcode == mdns.RcodeSuccess
	})
}

func TestServerHostsAndRewrite(t *testing.T) {
	hosts := &HostsConfig{Lines: []string{"192.0.2.10 db.corp.internal db\n2001:db8::10 db.corp.internal\n"}, Fallthrough: true}
	ts := startServer(t, source.NewStatic(clusterObjects()...), ServerConfig{Hosts: hosts, Rewrites: []Rewrite{
		{Match: "exact", From: "legacy.example", To: "backend.default.svc.cluster.local"},
		{Match: "regex", From: `^(.*)\.svc\.old\.$`, To: "{1}.svc.cluster.local.", AnswerFrom: `^(.*)\.svc\.cluster\.local\.$`, AnswerTo: "{1}.svc.old."},
	}})
	strict := startServer(t, source.NewStatic(clusterObjects()...), ServerConfig{Hosts: &HostsConfig{Lines: hosts.Lines, NoReverse: true, TTL: 60}})
	cases := []struct {
		name   string
		ts     *testServer
		qname  string
		qtype  uint16
		rcode  int
		answer []string
	}{
		{"hosts answers A for a listed name", ts, "db.corp.internal.", mdns.TypeA, mdns.RcodeSuccess,
			[]string{"db.corp.internal. 3600 IN A 192.0.2.10"}},
		{"hosts answers AAAA for a listed name", ts, "db.corp.internal.", mdns.TypeAAAA, mdns.RcodeSuccess,
			[]string{"db.corp.internal. 3600 IN AAAA 2001:db8::10"}},
		{"hosts makes PTRs from its entries", ts, "10.2.0.192.in-addr.arpa.", mdns.TypePTR, mdns.RcodeSuccess,
			[]string{"10.2.0.192.in-addr.arpa. 3600 IN PTR db.corp.internal.", "10.2.0.192.in-addr.arpa. 3600 IN PTR db."}},
		{"with fallthrough a cluster name goes on to the cluster zone", ts, "backend.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeSuccess,
			[]string{"backend.default.svc.cluster.local. 30 IN A 10.96.0.20"}},
		{"without fallthrough hosts answers NXDOMAIN for names it does not list, as CoreDNS", strict, "backend.default.svc.cluster.local.", mdns.TypeA, mdns.RcodeNameError, nil},
		{"no_reverse makes no PTR: the reverse zone answers", strict, "10.2.0.192.in-addr.arpa.", mdns.TypePTR, mdns.RcodeNameError, nil},
		{"hosts ttl applies", strict, "db.", mdns.TypeA, mdns.RcodeSuccess, []string{"db. 60 IN A 192.0.2.10"}},
		{"an exact rewrite answers under the name asked", ts, "legacy.example.", mdns.TypeA, mdns.RcodeSuccess,
			[]string{"legacy.example. 30 IN A 10.96.0.20"}},
		{"a regex rewrite with answer name maps the answer back", ts, "backend.default.svc.old.", mdns.TypeA, mdns.RcodeSuccess,
			[]string{"backend.default.svc.old. 30 IN A 10.96.0.20"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := exchange(t, "udp", tc.ts.addr, query(tc.qname, tc.qtype))
			if r.Rcode != tc.rcode || strings.Join(zoneLines(r.Answer), "|") != strings.Join(tc.answer, "|") {
				t.Errorf("rcode %s answer %q, want %s %q", mdns.RcodeToString[r.Rcode], zoneLines(r.Answer), mdns.RcodeToString[tc.rcode], tc.answer)
			}
			if r.Question[0].Name != tc.qname {
				t.Errorf("question %q, want %q", r.Question[0].Name, tc.qname)
			}
		})
	}
}

func TestServerHostsNegativeAnswersCarryAnSOA(t *testing.T) {
	ts := startServer(t, source.NewStatic(clusterObjects()...), ServerConfig{Hosts: &HostsConfig{Lines: []string{"192.0.2.10 db.corp.internal"}, Zones: []string{"corp.internal"}, TTL: 60}})
	cases := []struct {
		name, qname string
		qtype       uint16
		rcode       int
		ns          string
	}{
		{"a name hosts does not list is NXDOMAIN with the hosts zone's SOA (RFC 2308; CoreDNS: SERVFAIL)", "nope.corp.internal.", mdns.TypeA, mdns.RcodeNameError,
			"corp.internal. 60 IN SOA ns.dns.corp.internal. hostmaster.corp.internal. 1 7200 1800 86400 60"},
		{"a listed name asked for a type it lacks is NODATA with the SOA", "db.corp.internal.", mdns.TypeAAAA, mdns.RcodeSuccess,
			"corp.internal. 60 IN SOA ns.dns.corp.internal. hostmaster.corp.internal. 1 7200 1800 86400 60"},
		{"names outside the hosts zones are not hosts' to answer", "backend.default.svc.cluster.local.", mdns.TypeAAAA, mdns.RcodeSuccess,
			"cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "}, // the serial is the rebuild's time
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := exchange(t, "udp", ts.addr, query(tc.qname, tc.qtype))
			if r.Rcode != tc.rcode || len(r.Answer) != 0 || len(r.Ns) != 1 || !strings.HasPrefix(zoneLines(r.Ns)[0], tc.ns) {
				t.Errorf("rcode %s answer %q authority %q, want %s and authority %q", mdns.RcodeToString[r.Rcode], zoneLines(r.Answer), zoneLines(r.Ns), mdns.RcodeToString[tc.rcode], tc.ns)
			}
		})
	}
}

func TestServerApplyIsAllOrNothing(t *testing.T) {
	ts := startServer(t, source.NewStatic(clusterObjects()...), ServerConfig{})
	q := query("backend.default.svc.cluster.local.", mdns.TypeA)
	if err := ts.Apply(ServerConfig{Config: Config{TTL: ptr.To[uint32](7)}}); err != nil {
		t.Fatal(err)
	}
	if r := exchange(t, "udp", ts.addr, q); r.Answer[0].Header().Ttl != 7 {
		t.Errorf("after Apply(ttl 7): %q", zoneLines(r.Answer))
	}
	bad := ServerConfig{Config: Config{TTL: ptr.To[uint32](99), Pods: "sometimes"}}
	if err := ts.Apply(bad); err == nil {
		t.Errorf("Apply with a bad pods mode succeeded")
	}
	if err := ts.Apply(ServerConfig{Config: Config{TTL: ptr.To[uint32](99)}, Rewrites: []Rewrite{{Match: "regex", From: "("}}}); err == nil {
		t.Errorf("Apply with a bad rewrite regex succeeded")
	}
	if r := exchange(t, "udp", ts.addr, q); r.Answer[0].Header().Ttl != 7 {
		t.Errorf("a failed Apply changed the answers: %q", zoneLines(r.Answer))
	}
	if err := ts.Apply(ServerConfig{Config: Config{Zone: "corp.example"}}); err != nil {
		t.Fatal(err)
	}
	if r := exchange(t, "udp", ts.addr, query("backend.default.svc.corp.example.", mdns.TypeA)); len(r.Answer) != 1 {
		t.Errorf("after Apply(zone corp.example) the new zone does not answer: %s", r)
	}
	if r := exchange(t, "udp", ts.addr, q); r.Rcode != mdns.RcodeRefused {
		t.Errorf("after Apply(zone corp.example) cluster.local is still answered: %s", mdns.RcodeToString[r.Rcode])
	}
}

func TestServerLoadBalanceAndExcept(t *testing.T) {
	up, asked := countingUpstream(t)
	ts := startServer(t, source.NewStatic(append(clusterObjects(), bigHeadless(3)...)...),
		ServerConfig{LoadBalance: true, Upstreams: []string{up}, Except: []string{"internal.example"}})
	firsts := map[string]bool{}
	for range 3 {
		r := exchange(t, "udp", ts.addr, query("big.default.svc.cluster.local.", mdns.TypeA))
		if len(r.Answer) != 3 {
			t.Fatalf("answer %q", zoneLines(r.Answer))
		}
		firsts[zoneLines(r.Answer)[0]] = true
	}
	if len(firsts) != 3 {
		t.Errorf("loadbalance: three queries led with %d distinct records, want 3", len(firsts))
	}
	if r := exchange(t, "udp", ts.addr, query("db.internal.example.", mdns.TypeA)); r.Rcode != mdns.RcodeRefused || asked.Load() != 0 {
		t.Errorf("a name under an except zone: rcode %s, upstream asked %d times; want REFUSED and none", mdns.RcodeToString[r.Rcode], asked.Load())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServerQueryLog(t *testing.T) {
	var log syncBuffer
	ts := startServer(t, source.NewStatic(clusterObjects()...), ServerConfig{QueryLog: &log})
	m := query("backend.default.svc.cluster.local.", mdns.TypeA)
	m.Id = 4242
	exchange(t, "udp", ts.addr, m)
	line := log.String()
	for _, want := range []string{"[INFO] 127.0.0.1:", " - 4242 \"A IN backend.default.svc.cluster.local. udp ", "\" NOERROR qr,aa,rd "} {
		if !strings.Contains(line, want) {
			t.Errorf("query log %q lacks %q", line, want)
		}
	}
}

func TestServerProgrammingLatencyMetric(t *testing.T) {
	src := source.NewStatic(clusterObjects()...)
	ts := startServer(t, src, ServerConfig{})
	src.Set(clusterIPService("default", "fresh", []string{"10.96.0.99"}, tcpPort("http", 80)))
	src.Set(headlessService("default", "fresh-headless", tcpPort("http", 80)))
	waitFor(t, "both changes timed", func() bool {
		return histogramCount(t, ts.reg, "coredns_kubernetes_dns_programming_duration_seconds", "cluster_ip") == 1 &&
			histogramCount(t, ts.reg, "coredns_kubernetes_dns_programming_duration_seconds", "headless_without_selector") == 1
	})
}

func metricFamily(t *testing.T, ts interface {
	Gather() ([]*dto.MetricFamily, error)
}, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := ts.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

func hasLabel(m *dto.Metric, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetValue() == value {
			return true
		}
	}
	return false
}

func counterValue(t *testing.T, g interface {
	Gather() ([]*dto.MetricFamily, error)
}, name string) float64 {
	var sum float64
	if mf := metricFamily(t, g, name); mf != nil {
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func gaugeValue(t *testing.T, g interface {
	Gather() ([]*dto.MetricFamily, error)
}, name, label string) float64 {
	if mf := metricFamily(t, g, name); mf != nil {
		for _, m := range mf.GetMetric() {
			if hasLabel(m, label) {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

func histogramCount(t *testing.T, g interface {
	Gather() ([]*dto.MetricFamily, error)
}, name, label string) uint64 {
	if mf := metricFamily(t, g, name); mf != nil {
		for _, m := range mf.GetMetric() {
			if hasLabel(m, label) {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

// TestServerReplaysRepliesFaithfully checks the UDP fast path: a repeated
// query gets the same reply under its own ID, counted in the metrics like any
// other, and a change to the zone is never answered from a replay.
func TestServerReplaysRepliesFaithfully(t *testing.T) {
	src := source.NewStatic(clusterObjects()...)
	ts := startServer(t, src, ServerConfig{})
	var first *mdns.Msg
	for i := range 5 {
		m := query("backend.default.svc.cluster.local.", mdns.TypeA)
		m.Id = uint16(1000 + i)
		r := exchange(t, "udp", ts.addr, m)
		if r.Id != m.Id {
			t.Fatalf("reply id %d to query id %d", r.Id, m.Id)
		}
		r.Id = 0
		if first == nil {
			first = r
		} else if r.String() != first.String() {
			t.Errorf("reply %d differs from the first:\n%s\nvs\n%s", i, r, first)
		}
	}
	// Replays reach the metrics in batches, within flushEvery.
	waitFor(t, "all five queries counted", func() bool {
		return counterValue(t, ts.reg, "coredns_dns_requests_total") == 5 &&
			histogramCount(t, ts.reg, "coredns_dns_request_duration_seconds", "A") == 5
	})
	src.Set(clusterIPService("default", "backend", []string{"10.96.0.77"}, tcpPort("http", 80)))
	waitFor(t, "the new address, not a replayed old one", func() bool {
		r := exchange(t, "udp", ts.addr, query("backend.default.svc.cluster.local.", mdns.TypeA))
		return len(r.Answer) == 1 && strings.Contains(r.Answer[0].String(), "10.96.0.77")
	})
}

// TestServerStubDomains: a stub domain's names go to its own upstream, the
// most specific zone winning; other names keep the root's upstream.
func TestServerStubDomains(t *testing.T) {
	root, rootAsked := countingUpstream(t)
	stub, stubAsked := countingUpstream(t)
	ts := startServer(t, source.NewStatic(clusterObjects()...), ServerConfig{Upstreams: []string{root},
		Stubs: []Stub{{Zone: "consul.local", Upstreams: []string{stub}}, {Zone: "special.default.svc.cluster.local", Upstreams: []string{stub}}}})
	cases := []struct {
		name, qname      string
		wantRoot, wantSt int64
	}{
		{"a name in the stub domain goes to the stub's upstream", "web.service.consul.local.", 0, 1},
		{"the stub zone itself goes there too", "consul.local.", 0, 2},
		{"a name outside it goes to the root's upstream", "www.example.com.", 1, 2},
		{"a stub zone inside the cluster zone wins over it, being more specific", "special.default.svc.cluster.local.", 1, 3},
		{"cluster names stay the cluster's", "backend.default.svc.cluster.local.", 1, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := exchange(t, "udp", ts.addr, query(tc.qname, mdns.TypeA))
			if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
				t.Errorf("rcode %s answer %q", mdns.RcodeToString[r.Rcode], zoneLines(r.Answer))
			}
			if rootAsked.Load() != tc.wantRoot || stubAsked.Load() != tc.wantSt {
				t.Errorf("root upstream asked %d times, stub %d; want %d and %d", rootAsked.Load(), stubAsked.Load(), tc.wantRoot, tc.wantSt)
			}
		})
	}
}
