//go:build linux && (amd64 || arm64)

package dns

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr on 64-bit Linux: a msghdr and the byte count
// the kernel fills in, padded to 64 bytes.
type mmsghdr struct {
	hdr syscall.Msghdr
	n   uint32
	_   [4]byte
}

// mmsgBatch is one reader's messages, with every buffer and address they
// point to, allocated once.
type mmsgBatch struct {
	recv  [udpBatch]mmsghdr
	send  [udpBatch]mmsghdr
	riov  [udpBatch]syscall.Iovec
	siov  [udpBatch]syscall.Iovec
	names [udpBatch]syscall.RawSockaddrInet6 // large enough for IPv4 too
	bufs  [udpBatch][]byte
	sc    [udpBatch]replyScratch
}

func newMmsgBatch() *mmsgBatch {
	b := &mmsgBatch{}
	for i := range udpBatch {
		b.bufs[i] = make([]byte, udpQueryMax)
		b.riov[i].Base = &b.bufs[i][0]
		b.riov[i].SetLen(udpQueryMax)
	}
	return b
}

// prepareRecv resets the receive headers, which the kernel changes.
func (b *mmsgBatch) prepareRecv() {
	for i := range udpBatch {
		h := &b.recv[i].hdr
		*h = syscall.Msghdr{Name: (*byte)(unsafe.Pointer(&b.names[i])), Namelen: syscall.SizeofSockaddrInet6, Iov: &b.riov[i], Iovlen: 1}
		b.recv[i].n = 0
	}
}

// from reads the sender of message i from its raw sockaddr.
func (b *mmsgBatch) from(i int) (netip.AddrPort, bool) {
	raw := (*[syscall.SizeofSockaddrInet6]byte)(unsafe.Pointer(&b.names[i]))
	port := binary.BigEndian.Uint16(raw[2:4])
	switch b.names[i].Family {
	case syscall.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[4:8])), port), true
	case syscall.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(b.names[i].Addr), port), true
	}
	return netip.AddrPort{}, false
}

func (s *Server) serveUDPBatches(ctx context.Context, uc *net.UDPConn) error {
	rc, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	b := newMmsgBatch()
	var caches [2]replayCache
	defer s.startFlusher(ctx, &caches)()
	for {
		b.prepareRecv()
		var n int
		var errno syscall.Errno
		err := rc.Read(func(fd uintptr) bool {
			r, _, e := syscall.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.recv[0])), udpBatch, 0, 0, 0)
			if e == syscall.EAGAIN {
				return false // wait until the socket is readable
			}
			n, errno = int(r), e
			return true
		})
		if err == nil && errno != 0 {
			err = errno
		}
		if err != nil {
			if retry, err := readError(ctx, err); !retry {
				return err
			}
			continue
		}
		k := 0
		for i := range n {
			from, ok := b.from(i)
			if !ok {
				continue
			}
			reply := s.answerDatagram(ctx, &caches, &b.sc[i], b.bufs[i][:b.recv[i].n], from)
			if reply == nil {
				continue
			}
			// The reply goes back to the sender's own sockaddr.
			b.siov[k].Base = &reply[0]
			b.siov[k].SetLen(len(reply))
			b.send[k].hdr = syscall.Msghdr{Name: (*byte)(unsafe.Pointer(&b.names[i])), Namelen: b.recv[i].hdr.Namelen, Iov: &b.siov[k], Iovlen: 1}
			k++
		}
		for sent := 0; sent < k; {
			var m int
			var errno syscall.Errno
			err := rc.Write(func(fd uintptr) bool {
				r, _, e := syscall.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.send[sent])), uintptr(k-sent), 0, 0, 0)
				if e == syscall.EAGAIN {
					return false
				}
				m, errno = int(r), e
				return true
			})
			if err != nil || errno != 0 || m <= 0 {
				// Lost replies; their clients retry.
				break
			}
			sent += m
		}
	}
}
