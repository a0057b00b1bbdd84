package dns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/podnet/podnet/pkg/source"
)

// scaleObjects is nSvc Services over 10 namespaces, each with an
// EndpointSlice of nEp ready endpoints; every tenth Service is headless.
func scaleObjects(nSvc, nEp int) []source.Object {
	var objs []source.Object
	for i := range 10 {
		objs = append(objs, namespace(fmt.Sprintf("ns%d", i)))
	}
	http := []discoveryv1.EndpointPort{slicePort("http", 8080)}
	for i := range nSvc {
		ns, name := fmt.Sprintf("ns%d", i%10), fmt.Sprintf("svc%d", i)
		var svc *corev1.Service
		if i%10 == 0 {
			svc = headlessService(ns, name, tcpPort("http", 80))
		} else {
			svc = clusterIPService(ns, name, []string{fmt.Sprintf("10.96.%d.%d", i/250, i%250+1)}, tcpPort("http", 80))
		}
		var eps []discoveryv1.Endpoint
		for j := range nEp {
			n := i*nEp + j
			eps = append(eps, endpoint4(fmt.Sprintf("10.%d.%d.%d", 100+n/65536, n/256%256, n%256), "", nil))
		}
		objs = append(objs, svc, endpointSlice(ns, name+"-1", name, discoveryv1.AddressTypeIPv4, http, eps...))
	}
	return objs
}

func BenchmarkCompile(b *testing.B) {
	in := inputsOf(Config{}, scaleObjects(1000, 10))
	b.ReportAllocs()
	for b.Loop() {
		Compile(in)
	}
}

func BenchmarkLookup(b *testing.B) {
	z := Compile(inputsOf(Config{}, scaleObjects(1000, 10)))
	names := []struct {
		name  string
		qtype uint16
	}{
		{"svc1.ns1.svc.cluster.local.", mdns.TypeA},
		{"svc10.ns0.svc.cluster.local.", mdns.TypeA},
		{"_http._tcp.svc10.ns0.svc.cluster.local.", mdns.TypeSRV},
		{"nosuch.ns1.svc.cluster.local.", mdns.TypeA},
		{"1.0.96.10.in-addr.arpa.", mdns.TypePTR},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := names[i%len(names)]
		z.Lookup(q.name, q.qtype)
		i++
	}
}

// BenchmarkServeUDP measures queries per second over loopback UDP, with
// parallel clients each on its own socket.
func BenchmarkServeUDP(b *testing.B) {
	ts := startServer(b, source.NewStatic(scaleObjects(1000, 10)...), ServerConfig{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c := &mdns.Client{Net: "udp"}
		conn, err := c.Dial(ts.addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		m := query("svc1.ns1.svc.cluster.local.", mdns.TypeA)
		for pb.Next() {
			r, _, err := c.ExchangeWithConn(m, conn)
			if err != nil || r.Rcode != mdns.RcodeSuccess {
				b.Errorf("exchange: %v %v", err, r)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}

// BenchmarkZoneMemory reports the heap a compiled zone keeps for 10,000
// Services with 100,000 endpoints (the scale target), apart from the
// source's own copy of the objects.
func BenchmarkZoneMemory(b *testing.B) {
	in := inputsOf(Config{}, scaleObjects(10000, 10))
	var z *Zone
	var before, after runtime.MemStats
	for b.Loop() {
		z = nil
		runtime.GC()
		runtime.ReadMemStats(&before)
		z = Compile(in)
		runtime.GC()
		runtime.ReadMemStats(&after)
	}
	runtime.KeepAlive(z)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "zone-MiB")
}

// BenchmarkProgrammingLatency measures DNS programming latency as the SLI
// defines it: from a change entering the source to the first answer that
// reflects it, over b.N changes (each a new ready endpoint of one headless
// Service), and reports the median and p99 in milliseconds.
func BenchmarkProgrammingLatency(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			objs := scaleObjects(n, 10)
			src := source.NewStatic(objs...)
			ts := startServer(b, src, ServerConfig{})
			var lat []time.Duration
			i := 0
			for b.Loop() {
				i++
				ip := fmt.Sprintf("10.250.%d.%d", i/250%250, i%250+1)
				name := "10-250-" + strings.ReplaceAll(ip[7:], ".", "-") + ".svc0.ns0.svc.cluster.local."
				es := endpointSlice("ns0", "svc0-1", "svc0", discoveryv1.AddressTypeIPv4,
					[]discoveryv1.EndpointPort{slicePort("http", 8080)}, endpoint4(ip, "", nil))
				start := time.Now()
				src.Set(es)
				for ts.Zone().Lookup(name, mdns.TypeA).Rcode != mdns.RcodeSuccess {
					time.Sleep(50 * time.Microsecond)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkHandle is the full answer path for one packet (parse, look up,
// pack, count), without sockets or the replay cache; allocations per query
// are reported.
func BenchmarkHandle(b *testing.B) {
	s := syncedServer(b, scaleObjects(1000, 10))
	m := query("svc1.ns1.svc.cluster.local.", mdns.TypeA)
	m.SetEdns0(1232, false)
	raw, err := m.Pack()
	if err != nil {
		b.Fatal(err)
	}
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if out, _ := s.handle(ctx, raw, "udp", addr); len(out) == 0 {
			b.Fatal("no reply")
		}
	}
}

// BenchmarkReplay is the UDP fast path for a query answered before: the
// replay cache lookup, the copy under the new ID and the counting.
func BenchmarkReplay(b *testing.B) {
	s := syncedServer(b, scaleObjects(1000, 10))
	m := query("svc1.ns1.svc.cluster.local.", mdns.TypeA)
	raw, _ := m.Pack()
	from := netip.MustParseAddrPort("127.0.0.1:5353")
	var caches [2]replayCache
	var sc replyScratch
	ctx := context.Background()
	s.answerDatagram(ctx, &caches, &sc, raw, from)
	b.ReportAllocs()
	for b.Loop() {
		if out := s.answerDatagram(ctx, &caches, &sc, raw, from); len(out) == 0 {
			b.Fatal("no reply")
		}
	}
}

// syncedServer is a Server over objs with its first zone built and no
// sockets.
func syncedServer(b *testing.B, objs []source.Object) *Server {
	b.Helper()
	s, err := NewServer(source.NewStatic(objs...), ServerConfig{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	s.rebuild()
	return s
}
