package dns

import (
	"context"
	"net"
	"testing"

	mdns "github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"

	"github.com/podnet/podnet/pkg/source"
)

// FuzzHandle feeds arbitrary packets to the query path: it must never panic
// (respond's recover would hide one, so the fuzzer checks the panic counter)
// and must reply to every packet that has a query header.
func FuzzHandle(f *testing.F) {
	for _, m := range []*mdns.Msg{
		query("backend.default.svc.cluster.local.", mdns.TypeA),
		query("_http._tcp.web.default.svc.cluster.local.", mdns.TypeSRV),
		query("20.0.96.10.in-addr.arpa.", mdns.TypePTR),
		query("fd00-10-244-2--50.default.pod.cluster.local.", mdns.TypeAAAA),
		query("ext.default.svc.cluster.local.", mdns.TypeA),
		query("www.example.com.", mdns.TypeA),
	} {
		m.SetEdns0(1232, false)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	s, err := NewServer(source.NewStatic(clusterObjects()...), ServerConfig{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	s.rebuild()
	ctx := context.Background()
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		out := s.respond(ctx, pkt, "udp", addr)
		if got := panicCount(s); got != 0 {
			t.Fatalf("answering %x panicked", pkt)
		}
		if len(pkt) >= headerLen && pkt[2]&0x80 == 0 {
			if len(out) < headerLen {
				t.Fatalf("no reply to %x", pkt)
			}
			if len(out) > 65535 {
				t.Fatalf("reply of %d bytes", len(out))
			}
		}
	})
}

func panicCount(s *Server) float64 {
	var m dto.Metric
	if err := s.metrics.panics.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
