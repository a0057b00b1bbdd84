package disk_test

import (
	"net/netip"
	"testing"

	"github.com/podnet/podnet/pkg/cni/hostlocal/allocator"
	"github.com/podnet/podnet/pkg/cni/hostlocal/disk"
)

func TestStore(t *testing.T) {
	ip1, ip2 := netip.MustParseAddr("10.244.0.2"), netip.MustParseAddr("10.244.0.3")
	cases := []struct {
		name  string
		check func(t *testing.T, s *disk.Store)
	}{
		{name: "a reserved address has its owner and becomes the last reserved", check: func(t *testing.T, s *disk.Store) {
			r, ok, err := s.Owner(ip1)
			if err != nil || !ok || r.ContainerID != "a" || r.IfName != "eth0" {
				t.Fatalf("Owner() = %+v %v %v", r, ok, err)
			}
			if last, err := s.LastReservedIP("0"); err != nil || last != ip2 {
				t.Fatalf("LastReservedIP() = %s %v, want %s", last, err, ip2)
			}
		}},
		{name: "reserving a taken address reports false", check: func(t *testing.T, s *disk.Store) {
			ok, err := s.Reserve(allocator.Reservation{IP: ip1, ContainerID: "c", IfName: "eth0"}, "0")
			if ok || err != nil {
				t.Fatalf("Reserve() = %v %v, want false nil", ok, err)
			}
		}},
		{name: "releasing by ID frees only that interface", check: func(t *testing.T, s *disk.Store) {
			if err := s.ReleaseByID("a", "eth0"); err != nil {
				t.Fatal(err)
			}
			all, _ := s.List()
			if len(all) != 1 || all[0].IP != ip2 || all[0].ContainerID != "b" {
				t.Fatalf("List() = %+v, want only b's %s", all, ip2)
			}
		}},
		{name: "releasing twice succeeds", check: func(t *testing.T, s *disk.Store) {
			for range 2 {
				if err := s.ReleaseByID("a", "eth0"); err != nil {
					t.Fatal(err)
				}
				if err := s.Release(ip1); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "a second store of the same directory sees the reservations", check: func(t *testing.T, s *disk.Store) {
			other, err := disk.New(s.Dir()+"/..", "net")
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if ips, _ := other.GetByID("b", "eth0"); len(ips) != 1 || ips[0] != ip2 {
				t.Fatalf("GetByID() = %v, want [%s]", ips, ip2)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := disk.New(t.TempDir(), "net")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Lock(); err != nil {
				t.Fatal(err)
			}
			defer s.Unlock()
			for _, r := range []allocator.Reservation{{IP: ip1, ContainerID: "a", IfName: "eth0"}, {IP: ip2, ContainerID: "b", IfName: "eth0"}} {
				if ok, err := s.Reserve(r, "0"); !ok || err != nil {
					t.Fatalf("Reserve(%s) = %v %v", r.IP, ok, err)
				}
			}
			tc.check(t, s)
		})
	}
}

func TestNewRejectsNetworkNamesThatEscapeTheDataDir(t *testing.T) {
	for _, name := range []string{"", "..", "a/b"} {
		t.Run("network name "+name+" is refused", func(t *testing.T) {
			if _, err := disk.New(t.TempDir(), name); err == nil {
				t.Fatalf("New(%q) succeeded", name)
			}
		})
	}
}
