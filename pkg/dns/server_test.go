package dns

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/podnet/podnet/pkg/source"
)

// testServer is a Server on 127.0.0.1 ports, over UDP and TCP.
type testServer struct {
	*Server
	addr    string // UDP
	tcpAddr string
	reg     *prometheus.Registry
}

func startServer(t testing.TB, src source.Source, cfg ServerConfig) *testServer {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := NewServer(src, cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, udp, tcp) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	waitFor(t, "first zone", s.Ready)
	return &testServer{Server: s, addr: udp.LocalAddr().String(), tcpAddr: tcp.Addr().String(), reg: reg}
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func query(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

func exchange(t testing.TB, netw, addr string, m *mdns.Msg) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Net: netw, Timeout: 5 * time.Second}
	if opt := m.IsEdns0(); opt != nil {
		c.UDPSize = opt.UDPSize()
	}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s exchange: %v", netw, err)
	}
	return r
}

// exchangeRaw sends bytes over UDP and returns the raw reply.
func exchangeRaw(t testing.TB, addr string, b []byte) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("raw exchange: %v", err)
	}
	return buf[:n]
}

// bigHeadless is a headless Service with n ready endpoints: too many A
// records for 512 bytes.
func bigHeadless(n int) []source.Object {
	var eps []discoveryv1.Endpoint
	for i := range n {
		eps = append(eps, endpoint4(fmt.Sprintf("10.244.%d.%d", i/250, i%250+1), "", nil))
	}
	return []source.Object{
		headlessService("default", "big", tcpPort("http", 80)),
		endpointSlice("default", "big-1", "big", discoveryv1.AddressTypeIPv4,
			[]discoveryv1.EndpointPort{slicePort("http", 8080)}, eps...),
	}
}

func TestServerAnswersOverUDPAndTCP(t *testing.T) {
	ts := startServer(t, source.NewStatic(append(clusterObjects(), bigHeadless(100)...)...), ServerConfig{})
	for _, netw := range []string{"udp", "tcp"} {
		addr := ts.addr
		if netw == "tcp" {
			addr = ts.tcpAddr
		}
		t.Run("a Service name is answered authoritatively over "+netw, func(t *testing.T) {
			r := exchange(t, netw, addr, query("backend.default.svc.cluster.local.", mdns.TypeA))
			want := []string{"backend.default.svc.cluster.local. 30 IN A 10.96.0.20"}
			if got := zoneLines(r.Answer); strings.Join(got, "|") != strings.Join(want, "|") || !r.Authoritative || r.Rcode != mdns.RcodeSuccess {
				t.Errorf("got %v aa=%v rcode=%d, want %v", got, r.Authoritative, r.Rcode, want)
			}
		})
	}
	cases := []struct {
		name      string
		netw      string
		msg       func() *mdns.Msg
		rcode     int
		truncated bool
		answers   int
		opt       bool
	}{
		{name: "a large answer over UDP without EDNS0 is truncated with TC set",
			netw: "udp", msg: func() *mdns.Msg { return query("big.default.svc.cluster.local.", mdns.TypeA) },
			truncated: true, answers: -1},
		{name: "the same answer over TCP is complete",
			netw: "tcp", msg: func() *mdns.Msg { return query("big.default.svc.cluster.local.", mdns.TypeA) },
			answers: 100},
		{name: "an EDNS0 buffer of 4096 bytes holds the whole answer over UDP and the OPT is echoed",
			netw: "udp", msg: func() *mdns.Msg {
				m := query("big.default.svc.cluster.local.", mdns.TypeA)
				m.SetEdns0(4096, false)
				return m
			}, answers: 100, opt: true},
		{name: "an EDNS0 buffer too small is truncated with TC set and the OPT is echoed",
			netw: "udp", msg: func() *mdns.Msg {
				m := query("big.default.svc.cluster.local.", mdns.TypeA)
				m.SetEdns0(1000, false)
				return m
			}, truncated: true, answers: -1, opt: true},
		{name: "an unsupported EDNS version gets BADVERS",
			netw: "udp", msg: func() *mdns.Msg {
				m := query("backend.default.svc.cluster.local.", mdns.TypeA)
				m.SetEdns0(1232, false)
				m.IsEdns0().SetVersion(1)
				return m
			}, rcode: mdns.RcodeBadVers, opt: true},
		{name: "two questions in one query get FORMERR",
			netw: "udp", msg: func() *mdns.Msg {
				m := query("backend.default.svc.cluster.local.", mdns.TypeA)
				m.Question = append(m.Question, m.Question[0])
				return m
			}, rcode: mdns.RcodeFormatError},
		{name: "a status opcode gets NOTIMP",
			netw: "udp", msg: func() *mdns.Msg {
				m := query("backend.default.svc.cluster.local.", mdns.TypeA)
				m.Opcode = mdns.OpcodeStatus
				return m
			}, rcode: mdns.RcodeNotImplemented},
		{name: "a name outside the cluster with no upstream gets REFUSED",
			netw: "udp", msg: func() *mdns.Msg { return query("www.example.com.", mdns.TypeA) },
			rcode: mdns.RcodeRefused},
		{name: "a zone transfer gets REFUSED",
			netw: "tcp", msg: func() *mdns.Msg { return query("cluster.local.", mdns.TypeAXFR) },
			rcode: mdns.RcodeRefused},
		{name: "a reverse name outside the cluster with no upstream is NXDOMAIN",
			netw: "udp", msg: func() *mdns.Msg { return query("8.8.8.8.in-addr.arpa.", mdns.TypePTR) },
			rcode: mdns.RcodeNameError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := ts.addr
			if tc.netw == "tcp" {
				addr = ts.tcpAddr
			}
			r := exchange(t, tc.netw, addr, tc.msg())
			if r.Rcode != tc.rcode {
				t.Errorf("rcode = %s, want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tc.rcode])
			}
			if r.Truncated != tc.truncated {
				t.Errorf("TC = %v, want %v", r.Truncated, tc.truncated)
			}
			if tc.answers >= 0 && len(r.Answer) != tc.answers {
				t.Errorf("%d answers, want %d", len(r.Answer), tc.answers)
			}
			if opt := r.IsEdns0(); (opt != nil) != tc.opt {
				t.Errorf("OPT in reply = %v, want %v", opt != nil, tc.opt)
			} else if opt != nil && opt.UDPSize() != 1232 {
				t.Errorf("advertised UDP size %d, want 1232", opt.UDPSize())
			}
		})
	}
}

func TestServerRejectsMalformedPackets(t *testing.T) {
	ts := startServer(t, source.NewStatic(clusterObjects()...), ServerConfig{})
	good, err := query("backend.default.svc.cluster.local.", mdns.TypeA).Pack()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		pkt  []byte
	}{
		{name: "a query cut in the middle of its question gets FORMERR", pkt: good[:len(good)-3]},
		{name: "a header claiming a question it does not carry gets FORMERR",
			pkt: []byte{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := exchangeRaw(t, ts.addr, tc.pkt)
			r := new(mdns.Msg)
			if err := r.Unpack(b); err != nil {
				t.Fatalf("unpacking reply: %v", err)
			}
			if r.Id != uint16(tc.pkt[0])<<8|uint16(tc.pkt[1]) || !r.Response || r.Rcode != mdns.RcodeFormatError {
				t.Errorf("got id=%d qr=%v rcode=%s, want the query's id, qr and FORMERR", r.Id, r.Response, mdns.RcodeToString[r.Rcode])
			}
		})
	}
}

func TestServerPicksUpChanges(t *testing.T) {
	src := source.NewStatic(clusterObjects()...)
	ts := startServer(t, src, ServerConfig{})
	cases := []struct {
		name   string
		change func()
		qname  string
		rcode  int
	}{
		{name: "a new Service answers once added",
			change: func() {
				src.Set(clusterIPService("default", "fresh", []string{"10.96.0.99"}, tcpPort("http", 80)))
			},
			qname: "fresh.default.svc.cluster.local.", rcode: mdns.RcodeSuccess},
		{name: "a deleted Service is NXDOMAIN once removed",
			change: func() {
				src.Delete(clusterIPService("default", "backend", []string{"10.96.0.20"}))
			},
			qname: "backend.default.svc.cluster.local.", rcode: mdns.RcodeNameError},
		{name: "a headless Service whose endpoint turns ready answers",
			change: func() {
				src.Set(endpointSlice("default", "sleepy-1", "sleepy", discoveryv1.AddressTypeIPv4, nil,
					endpoint4("10.244.3.3", "", nil)))
			},
			qname: "sleepy.default.svc.cluster.local.", rcode: mdns.RcodeSuccess},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.change()
			waitFor(t, tc.qname, func() bool {
				return exchange(t, "udp", ts.addr, query(tc.qname, mdns.TypeA)).Rcode == tc.rcode
			})
		})
	}
}

// upstream is a DNS server on 127.0.0.1 that answers every A query with
// 192.0.2.53, and truncates over UDP when the name starts with "tc.".
func upstream(t *testing.T) string {
	t.Helper()
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(req)
		m.RecursionAvailable = true
		q := req.Question[0]
		_, udp := w.RemoteAddr().(*net.UDPAddr)
		if strings.HasPrefix(q.Name, "tc.") && udp {
			m.Truncated = true
		} else if q.Qtype == mdns.TypeA {
			rr, _ := mdns.NewRR(q.Name + " 60 IN A 192.0.2.53")
			m.Answer = append(m.Answer, rr)
		}
		_ = w.WriteMsg(m)
	})
	return fakeServer(t, h)
}

// fakeServer serves h on a 127.0.0.1 port over UDP and TCP until the test
// ends, and returns the address.
func fakeServer(t *testing.T, h mdns.Handler) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	us := &mdns.Server{PacketConn: pc, Handler: h}
	ts := &mdns.Server{Listener: l, Handler: h}
	go func() { _ = us.ActivateAndServe() }()
	go func() { _ = ts.ActivateAndServe() }()
	t.Cleanup(func() { _ = us.Shutdown(); _ = ts.Shutdown() })
	return pc.LocalAddr().String()
}

func TestServerForwardsToUpstreams(t *testing.T) {
	up := upstream(t)
	ts := startServer(t, source.NewStatic(clusterObjects()...), ServerConfig{Upstreams: []string{up}})
	cases := []struct {
		name   string
		qname  string
		qtype  uint16
		answer []string
	}{
		{name: "a name outside the cluster is forwarded upstream",
			qname: "www.example.com.", qtype: mdns.TypeA,
			answer: []string{"www.example.com. 60 IN A 192.0.2.53"}},
		{name: "a truncated upstream UDP answer is retried over TCP",
			qname: "tc.example.com.", qtype: mdns.TypeA,
			answer: []string{"tc.example.com. 60 IN A 192.0.2.53"}},
		{name: "a reverse name outside the cluster falls through to the upstream",
			qname: "8.8.8.8.in-addr.arpa.", qtype: mdns.TypePTR},
		{name: "an ExternalName is chased upstream after its CNAME",
			qname: "ext.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"ext.default.svc.cluster.local. 30 IN CNAME www.example.com.",
				"www.example.com. 60 IN A 192.0.2.53"}},
		{name: "cluster names are still answered locally",
			qname: "backend.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"backend.default.svc.cluster.local. 30 IN A 10.96.0.20"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := exchange(t, "udp", ts.addr, query(tc.qname, tc.qtype))
			if r.Rcode != mdns.RcodeSuccess || strings.Join(zoneLines(r.Answer), "|") != strings.Join(tc.answer, "|") {
				t.Errorf("rcode %s answer %q, want NOERROR %q", mdns.RcodeToString[r.Rcode], zoneLines(r.Answer), tc.answer)
			}
		})
	}
}

func TestServerHTTP(t *testing.T) {
	ts := startServer(t, source.NewStatic(clusterObjects()...), ServerConfig{})
	exchange(t, "udp", ts.addr, query("backend.default.svc.cluster.local.", mdns.TypeA))
	exchange(t, "udp", ts.addr, query("nosuch.default.svc.cluster.local.", mdns.TypeA))
	hs := httptest.NewServer(ts.Handler())
	defer hs.Close()
	cases := []struct {
		name string
		path string
		code int
		has  []string
	}{
		{name: "health says OK", path: "/health", code: 200, has: []string{"OK"}},
		{name: "ready says OK once the zone is built", path: "/ready", code: 200, has: []string{"OK"}},
		{name: "metrics carry CoreDNS's names and labels", path: "/metrics", code: 200, has: []string{
			`coredns_dns_requests_total{family="1",proto="udp",server="dns://` + ts.addr + `",type="A",view="",zone="cluster.local."} 2`,
			`coredns_dns_responses_total{plugin="kubernetes",rcode="NXDOMAIN",server="dns://` + ts.addr + `",view="",zone="cluster.local."} 1`,
			`coredns_dns_request_duration_seconds_count{server="dns://` + ts.addr + `",type="A",view="",zone="cluster.local."} 2`,
			`podnet_dns_zone_builds_total`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(hs.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.code)
			}
			for _, s := range tc.has {
				if !strings.Contains(string(body), s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
		})
	}
}

// unsynced is a Source that has not finished its first list.
type unsynced struct{ *source.Static }

func (unsynced) HasSynced() bool { return false }

func TestServerBeforeSync(t *testing.T) {
	s, err := NewServer(unsynced{source.NewStatic(clusterObjects()...)}, ServerConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		check func(t *testing.T)
	}{
		{name: "a cluster name gets SERVFAIL rather than a false NXDOMAIN", check: func(t *testing.T) {
			b, _ := query("backend.default.svc.cluster.local.", mdns.TypeA).Pack()
			r := new(mdns.Msg)
			if err := r.Unpack(s.respond(context.Background(), b, "udp", &net.UDPAddr{})); err != nil {
				t.Fatal(err)
			}
			if r.Rcode != mdns.RcodeServerFailure {
				t.Errorf("rcode %s, want SERVFAIL", mdns.RcodeToString[r.Rcode])
			}
		}},
		{name: "ready is 503", check: func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/ready", nil))
			if rec.Code != http.StatusServiceUnavailable {
				t.Errorf("status %d, want 503", rec.Code)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, tc.check)
	}
}
