package dns

import (
	"context"
	"net"
	"net/netip"
)

// UDP I/O in batches. Under load, most of a DNS server's CPU goes to the
// recvfrom and sendto system calls (about 85% in a profile of this loop
// answering from the replay cache), so each reader takes every query
// waiting on the socket with one recvmmsg and sends the replies with one
// sendmmsg. On linux/amd64 and arm64 this is done by hand (udp_linux.go)
// so that a replayed reply allocates nothing: x/net's batch calls allocate
// an address per message, and the garbage makes the collector scan the
// whole zone several times a second at 10,000 Services. Elsewhere x/net's
// batch calls are used (udp_xnet.go).
const (
	udpBatch = 32
	// udpQueryMax is the largest query read. Queries are a question and an
	// OPT record, well under this; a longer datagram is cut and then
	// answered FORMERR.
	udpQueryMax = 8192
)

// replyScratch is the reply buffer one message slot reuses between
// batches.
type replyScratch struct{ out []byte }

// answerDatagram answers one query, from the replay cache when it can. The
// reply is in sc's buffer or freshly made; nil means no reply. The client's
// address is turned into a net.Addr only for a full answer.
func (s *Server) answerDatagram(ctx context.Context, caches *[2]replayCache, sc *replyScratch, q []byte, from netip.AddrPort) []byte {
	if len(q) < headerLen || q[2]&0x80 != 0 {
		return nil
	}
	start := s.clock.Now()
	fam := 0
	if !from.Addr().Unmap().Is4() {
		fam = 1
	}
	rc := &caches[fam]
	st := s.state.Load()
	key := q[2:]
	rc.mu.Lock()
	if e := rc.get(st, key); e != nil {
		sc.out = e.replay(sc.out, q)
		rc.count(e, s.clock.Since(start), len(q))
		rc.mu.Unlock()
		return sc.out
	}
	rc.mu.Unlock()
	resp, e := s.handle(ctx, q, "udp", net.UDPAddrFromAddrPort(from))
	if e != nil {
		rc.mu.Lock()
		rc.put(key, e)
		rc.mu.Unlock()
	}
	return resp
}

// startFlusher moves the replay caches' counts into the metrics every
// flushEvery until ctx ends; the returned function flushes a last time.
func (s *Server) startFlusher(ctx context.Context, caches *[2]replayCache) func() {
	t := s.clock.NewTicker(flushEvery)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				st := s.state.Load()
				caches[0].flush(st)
				caches[1].flush(st)
			}
		}
	}()
	return func() {
		t.Stop()
		st := s.state.Load()
		caches[0].flush(st)
		caches[1].flush(st)
	}
}
