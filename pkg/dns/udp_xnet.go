//go:build !(linux && (amd64 || arm64))

package dns

import (
	"context"
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// udpSlot is one message of a batch with the buffers it keeps between
// batches.
type udpSlot struct {
	in   [1][]byte
	sc   replyScratch
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
	defer s.startFlusher(ctx, &caches)()
	for {
		n, err := bc.ReadBatch(reads, 0)
		if err != nil {
			if retry, err := readError(ctx, err); !retry {
				return err
			}
			continue
		}
		writes = writes[:0]
		for i := range n {
			m, slot := &reads[i], &slots[i]
			addr, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			if reply := s.answerDatagram(ctx, &caches, &slot.sc, slot.in[0][:m.N], addr.AddrPort()); reply != nil {
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
