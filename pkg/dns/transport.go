package dns

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// tcpIdle is how long a TCP connection may sit between queries (miekg/dns
// and CoreDNS use 8s).
const tcpIdle = 8 * time.Second

// Serve answers queries on udp and tcp (either may be nil) until ctx is
// done, then closes both and returns nil. The caller makes the sockets, so it
// can bind them inside a network namespace, or on 127.0.0.1:0 in tests. The
// first Serve also starts keeping the zone current from the source, for as
// long as its ctx lives.
func (s *Server) Serve(ctx context.Context, udp net.PacketConn, tcp net.Listener) error {
	if udp == nil && tcp == nil {
		return errors.New("dns: Serve needs a UDP or a TCP socket")
	}
	if *s.name.Load() == "" {
		var addr net.Addr
		if udp != nil {
			addr = udp.LocalAddr()
		} else {
			addr = tcp.Addr()
		}
		name := "dns://" + addr.String()
		s.name.Store(&name)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	s.watched.Do(func() { wg.Go(func() { s.watch(ctx) }) })

	stop := context.AfterFunc(ctx, func() {
		if udp != nil {
			udp.Close()
		}
		if tcp != nil {
			tcp.Close()
		}
	})
	defer stop()

	errs := make(chan error, runtime.GOMAXPROCS(0)+1)
	fail := func(err error) {
		if ctx.Err() == nil {
			errs <- err
			cancel()
		}
	}
	if udp != nil {
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() { fail(s.serveUDP(ctx, udp)) })
		}
	}
	if tcp != nil {
		wg.Go(func() { fail(s.serveTCP(ctx, tcp, &wg)) })
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func (s *Server) serveUDP(ctx context.Context, conn net.PacketConn) error {
	uc, ok := conn.(*net.UDPConn)
	if !ok {
		return s.servePacketConn(ctx, conn)
	}
	return s.serveUDPBatches(ctx, uc)
}

// readError says what an error from reading or accepting means to a
// serving loop: stop quietly once ctx has ended (the socket was closed on
// purpose), retry a timeout or an interrupted call, fail on anything else.
func readError(ctx context.Context, err error) (retry bool, fatal error) {
	if ctx.Err() != nil {
		return false, nil
	}
	var ne net.Error
	if (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, syscall.EINTR) {
		return true, nil
	}
	return false, err
}

// servePacketConn serves a PacketConn that is not a *net.UDPConn (tests may
// wrap one): every query takes the full path.
func (s *Server) servePacketConn(ctx context.Context, conn net.PacketConn) error {
	buf := make([]byte, 65535)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			if retry, err := readError(ctx, err); !retry {
				return err
			}
			continue
		}
		if resp := s.respond(ctx, buf[:n], "udp", addr); resp != nil {
			_, _ = conn.WriteTo(resp, addr)
		}
	}
}

func (s *Server) serveTCP(ctx context.Context, l net.Listener, wg *sync.WaitGroup) error {
	for {
		c, err := l.Accept()
		if err != nil {
			if retry, err := readError(ctx, err); !retry {
				return err
			}
			continue
		}
		wg.Go(func() { s.serveConn(ctx, c) })
	}
}

// serveConn answers length-prefixed queries on one TCP connection in order
// (RFC 7766) until the client closes it, it idles, or ctx is done.
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	r := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(s.clock.Now().Add(tcpIdle))
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return
		}
		req := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(r, req); err != nil {
			return
		}
		resp := s.respond(ctx, req, "tcp", c.RemoteAddr())
		if resp == nil {
			return
		}
		out := make([]byte, 2+len(resp))
		binary.BigEndian.PutUint16(out, uint16(len(resp)))
		copy(out[2:], resp)
		_ = c.SetWriteDeadline(s.clock.Now().Add(tcpIdle))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}
