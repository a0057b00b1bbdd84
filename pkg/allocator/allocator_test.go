package allocator

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestIPs(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name    string
		prefix  string
		request []string
		wantErr []string
	}{
		{"an explicit address inside the range is honoured", "10.96.0.0/12", []string{"10.96.0.10"}, []string{""}},
		{"an address taken twice is refused", "10.96.0.0/12", []string{"10.96.0.10", "10.96.0.10"}, []string{"", "provided IP is already allocated"}},
		{"an address outside the range names the range", "10.96.0.0/12", []string{"10.0.0.1"}, []string{"the provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12"}},
		{"the network address is not allocatable", "10.96.0.0/12", []string{"10.96.0.0"}, []string{"the provided IP (10.96.0.0) is not in the valid range. The range of valid IPs is 10.96.0.0/12"}},
		{"the broadcast address is not allocatable", "10.96.0.0/28", []string{"10.96.0.15"}, []string{"the provided IP (10.96.0.15) is not in the valid range. The range of valid IPs is 10.96.0.0/28"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewIPs(netip.MustParsePrefix(tc.prefix), rnd)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range tc.request {
				err := a.Allocate(netip.MustParseAddr(r))
				got := ""
				if err != nil {
					got = err.Error()
				}
				if got != tc.wantErr[i] {
					t.Errorf("Allocate(%s) = %q, want %q", r, got, tc.wantErr[i])
				}
			}
		})
	}
}

func TestDynamicIPsAvoidTheStaticBandAndNeverRepeat(t *testing.T) {
	a, _ := NewIPs(netip.MustParsePrefix("10.96.0.0/24"), rand.New(rand.NewPCG(3, 4)))
	seen := map[netip.Addr]bool{}
	for i := range 254 - 16 {
		ip, err := a.AllocateNext()
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if seen[ip] {
			t.Fatalf("%s handed out twice", ip)
		}
		seen[ip] = true
		if ip.As4()[3] <= 16 {
			t.Fatalf("%s is in the static band while the dynamic band has room", ip)
		}
	}
	// The dynamic band is full: the static band is used next, then nothing.
	for range 16 {
		if _, err := a.AllocateNext(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.AllocateNext(); err == nil {
		t.Fatal("a full range still allocated")
	}
	a.Release(netip.MustParseAddr("10.96.0.7"))
	if ip, err := a.AllocateNext(); err != nil || ip != netip.MustParseAddr("10.96.0.7") {
		t.Fatalf("after releasing 10.96.0.7 got %s, %v", ip, err)
	}
}

func TestPorts(t *testing.T) {
	p := NewPorts(30000, 32767, rand.New(rand.NewPCG(5, 6)))
	if err := p.Allocate(40000); err == nil || err.Error() != "provided port is not in the valid range. The range of valid ports is 30000-32767" {
		t.Errorf("out-of-range port: %v", err)
	}
	if err := p.Allocate(30080); err != nil {
		t.Fatal(err)
	}
	if err := p.Allocate(30080); err == nil || err.Error() != "provided port is already allocated" {
		t.Errorf("taken port: %v", err)
	}
	for range 100 {
		n, err := p.AllocateNext()
		if err != nil || n == 30080 || n < 30000 || n > 32767 {
			t.Fatalf("AllocateNext = %d, %v", n, err)
		}
	}
}
