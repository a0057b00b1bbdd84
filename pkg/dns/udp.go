package dns

import (
	"context"
	"errors"
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// UDP I/O in batches. Under load, most of a DNS server's CPU goes to the
// recvfrom and sendto system calls (about 85% in a profile of this loop
// answering from the replay cache), so each reader takes every query
// waiting on the socket with one recvmmsg and sends the replies with one
// sendmmsg (Linux; elsewhere x/net falls back to one message per call).
const (
	udpBatch = 32
	// udpQueryMax is the largest query read. Queries are a question and an
	// OPT record, well under this; a longer datagram is cut and then
	// answered FORMERR.
	udpQueryMax = 8192
)

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// udpSlot is one message of a batch with the buffers it keeps between
// batches, so the loop allocates nothing for replayed replies.
type udpSlot struct {
	in   [1][]byte
	out  []byte
	outs [1][]byte
}

func (s *Server) serveUDPBatches(ctx context.Context, uc *net.UDPConn) error {
	var bc batchConn
	if a, ok := uc.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
		bc = ipv4.NewPacketConn(uc)
	} else {
		bc = ipv6.NewPacketConn(uc)
	}
	slots := make([]udpSlot, udpBatch)
	reads := make([]ipv4.Message, udpBatch)
	writes := make([]ipv4.Message, 0, udpBatch)
	for i := range slots {
		slots[i].in[0] = make([]byte, udpQueryMax)
		reads[i].Buffers = slots[i].in[:]
	}
	// One replay cache per client address family, so the family metric
	// label of a replayed reply is the client's.
	var caches [2]replayCache
	flusher := s.clock.NewTicker(flushEvery)
	defer flusher.Stop()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-flusher.C():
				caches[0].flush()
				caches[1].flush()
			}
		}
	}()
	defer caches[0].flush()
	defer caches[1].flush()
	for {
		n, err := bc.ReadBatch(reads, 0)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		writes = writes[:0]
		for i := range n {
			m, slot := &reads[i], &slots[i]
			addr, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			if reply := s.answerDatagram(ctx, &caches, slot, slot.in[0][:m.N], addr); reply != nil {
				slot.outs[0] = reply
				writes = append(writes, ipv4.Message{Buffers: slot.outs[:], Addr: m.Addr})
			}
		}
		for len(writes) > 0 {
			sent, err := bc.WriteBatch(writes, 0)
			if err != nil {
				// A failed write loses answers; clients retry.
				break
			}
			writes = writes[sent:]
		}
	}
}

// answerDatagram answers one query, from the replay cache when it can. The
// reply is in slot's buffer or freshly made; nil means no reply.
func (s *Server) answerDatagram(ctx context.Context, caches *[2]replayCache, slot *udpSlot, q []byte, addr *net.UDPAddr) []byte {
	if len(q) < headerLen || q[2]&0x80 != 0 {
		return nil
	}
	start := s.clock.Now()
	fam := 0
	if addr.IP.To4() == nil {
		fam = 1
	}
	rc := &caches[fam]
	st := s.state.Load()
	key := q[2:]
	rc.mu.Lock()
	if e := rc.get(st, key); e != nil {
		slot.out = e.replay(slot.out, q)
		rc.count(e, s.clock.Since(start), len(q))
		rc.mu.Unlock()
		return slot.out
	}
	rc.mu.Unlock()
	resp, e := s.handle(ctx, q, "udp", addr)
	if e != nil {
		rc.mu.Lock()
		rc.put(key, e)
		rc.mu.Unlock()
	}
	return resp
}
