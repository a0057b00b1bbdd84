// Command dnsreflect is the ceiling for DNS benchmarks on this machine: a
// UDP responder that does no DNS work. It turns each query around with one
// fixed A record appended (a compression pointer to the question), with as
// many reader goroutines as podnet's server uses, so dnsperf against it
// measures only the kernel, the Go runtime and dnsperf itself.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
)

// answer is "<pointer to the question name> A IN TTL 30 192.0.2.1".
var answer = []byte{0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 192, 0, 2, 1}

func main() {
	listen := flag.String("listen", "127.0.0.1:5399", "UDP address")
	flag.Parse()
	conn, err := net.ListenPacket("udp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("reflecting on %s\n", conn.LocalAddr())
	done := make(chan struct{})
	for range runtime.GOMAXPROCS(0) {
		go func() {
			buf := make([]byte, 65535)
			for {
				n, addr, err := conn.ReadFrom(buf)
				if err != nil {
					close(done)
					return
				}
				if n < 12 {
					continue
				}
				end := questionEnd(buf[:n])
				if end < 0 {
					continue
				}
				out := append(buf[:end:end], answer...)
				out[2] |= 0x80                          // QR
				binary.BigEndian.PutUint16(out[6:], 1)  // ANCOUNT
				binary.BigEndian.PutUint16(out[8:], 0)  // NSCOUNT
				binary.BigEndian.PutUint16(out[10:], 0) // ARCOUNT: the OPT is dropped
				_, _ = conn.WriteTo(out, addr)
			}
		}()
	}
	<-done
}

// questionEnd is the offset just past the first question, or -1.
func questionEnd(b []byte) int {
	i := 12
	for i < len(b) && b[i] != 0 {
		i += int(b[i]) + 1
	}
	i += 5
	if i > len(b) {
		return -1
	}
	return i
}
