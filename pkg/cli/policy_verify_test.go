package cli

import (
	"net"
	"testing"
	"time"
)

// probeUDP's outcomes on loopback: an answer and a port unreachable both
// mean the datagram got through; silence is inconclusive, never skipped.
func TestProbeUDP(t *testing.T) {
	answering, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer answering.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := answering.ReadFrom(buf)
			if err != nil {
				return
			}
			answering.WriteTo(buf[:n], from)
		}
	}()
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	closed, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.LocalAddr().String()
	closed.Close()
	for _, tc := range []struct {
		name, target, want string
	}{
		{"answering server", answering.LocalAddr().String(), probeReached},
		{"silent server", silent.LocalAddr().String(), probeInconclusive},
		{"closed port", closedAddr, probeReached},
	} {
		if got, detail := probeUDP(tc.target, 200*time.Millisecond); got != tc.want {
			t.Errorf("%s: probe %s (%s), want %s", tc.name, got, detail, tc.want)
		}
	}
}
