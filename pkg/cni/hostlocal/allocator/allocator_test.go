package allocator_test

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/podnet/podnet/pkg/cni/hostlocal/allocator"
	"github.com/podnet/podnet/pkg/cni/hostlocal/fakestore"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// smallSet is 10.244.0.0/24 restricted to .1-.4 with gateway .1, so three
// addresses are assignable.
func smallSet() allocator.RangeSet {
	return allocator.RangeSet{{
		Subnet:  netip.MustParsePrefix("10.244.0.0/24"),
		Start:   addr("10.244.0.1"),
		End:     addr("10.244.0.4"),
		Gateway: addr("10.244.0.1"),
	}}
}

func reservation(ip, id string) allocator.Reservation {
	return allocator.Reservation{IP: addr(ip), ContainerID: id, IfName: "eth0"}
}

func TestGet(t *testing.T) {
	cases := []struct {
		name      string
		reserved  []allocator.Reservation
		last      string
		id        string
		requested string
		want      string
		wantErr   string
	}{
		{name: "the first allocation skips the gateway", id: "a", want: "10.244.0.2/24"},
		{name: "allocation continues after the last reserved address", last: "10.244.0.2", id: "a", want: "10.244.0.3/24"},
		{name: "allocation wraps around to the start of the range", last: "10.244.0.4", id: "a", want: "10.244.0.2/24"},
		{name: "allocation moves past the last reserved address even when it is taken", reserved: []allocator.Reservation{reservation("10.244.0.3", "b")}, last: "10.244.0.3", id: "a", want: "10.244.0.4/24"},
		{name: "taken addresses are skipped", reserved: []allocator.Reservation{reservation("10.244.0.2", "b"), reservation("10.244.0.3", "c")}, id: "a", want: "10.244.0.4/24"},
		{name: "a last reserved address outside the set is ignored", last: "192.168.0.9", id: "a", want: "10.244.0.2/24"},
		{
			name:     "an exhausted range set names its ranges",
			reserved: []allocator.Reservation{reservation("10.244.0.2", "b"), reservation("10.244.0.3", "c"), reservation("10.244.0.4", "d")},
			id:       "a", wantErr: "no IP addresses available in range set: 10.244.0.1-10.244.0.4",
		},
		{name: "a free requested address is honoured", id: "a", requested: "10.244.0.4", want: "10.244.0.4/24"},
		{
			name:     "a requested address held by another container is refused",
			reserved: []allocator.Reservation{reservation("10.244.0.4", "b")},
			id:       "a", requested: "10.244.0.4",
			wantErr: `requested IP address 10.244.0.4 is already allocated to container "b" interface "eth0"`,
		},
		{name: "a requested address outside the set is refused", id: "a", requested: "10.244.0.9", wantErr: "is not in range set"},
		{name: "the gateway cannot be requested", id: "a", requested: "10.244.0.1", wantErr: "is the gateway"},
		{name: "a retried ADD gets the address it already holds", reserved: []allocator.Reservation{reservation("10.244.0.3", "a")}, id: "a", want: "10.244.0.3/24"},
		{
			name:     "a retried ADD asking for another address is refused",
			reserved: []allocator.Reservation{reservation("10.244.0.3", "a")},
			id:       "a", requested: "10.244.0.4", wantErr: "already holds 10.244.0.3",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := fakestore.New(tc.reserved...)
			if tc.last != "" {
				store.SetLastReserved("0", addr(tc.last))
			}
			var req netip.Addr
			if tc.requested != "" {
				req = addr(tc.requested)
			}
			got, err := allocator.New(smallSet(), store, "0").Get(tc.id, "eth0", req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Get() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get() error = %v", err)
			}
			if got.Address.String() != tc.want || got.Gateway != addr("10.244.0.1") {
				t.Fatalf("Get() = %s gw %s, want %s gw 10.244.0.1", got.Address, got.Gateway, tc.want)
			}
			if owner, ok, _ := store.Owner(got.Address.Addr()); !ok || owner.ContainerID != tc.id {
				t.Fatalf("store owner of %s = %+v (held %v), want container %q", got.Address.Addr(), owner, ok, tc.id)
			}
		})
	}
}

func TestRoundRobinAcrossRanges(t *testing.T) {
	set := allocator.RangeSet{
		{Subnet: netip.MustParsePrefix("10.0.0.0/24"), Start: addr("10.0.0.10"), End: addr("10.0.0.11"), Gateway: addr("10.0.0.1")},
		{Subnet: netip.MustParsePrefix("10.0.1.0/24"), Start: addr("10.0.1.10"), End: addr("10.0.1.10"), Gateway: addr("10.0.1.1")},
	}
	store := fakestore.New()
	a := allocator.New(set, store, "0")
	var got []string
	for i := range 4 {
		id := fmt.Sprintf("c%d", i)
		al, err := a.Get(id, "eth0", netip.Addr{})
		if err != nil {
			got = append(got, "error")
			continue
		}
		got = append(got, al.Address.String())
		if i == 1 {
			// Free the first address: round robin must not hand it out next.
			if err := a.Release("c0", "eth0"); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{"10.0.0.10/24", "10.0.0.11/24", "10.0.1.10/24", "10.0.0.10/24"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("allocations = %v, want %v", got, want)
	}
}

func TestReleaseIsIdempotent(t *testing.T) {
	cases := []struct {
		name     string
		reserved []allocator.Reservation
	}{
		{name: "releasing a held address frees it", reserved: []allocator.Reservation{reservation("10.244.0.2", "a")}},
		{name: "releasing nothing succeeds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := fakestore.New(tc.reserved...)
			a := allocator.New(smallSet(), store, "0")
			for range 2 {
				if err := a.Release("a", "eth0"); err != nil {
					t.Fatalf("Release() error = %v", err)
				}
			}
			if held, _ := store.GetByID("a", "eth0"); len(held) != 0 {
				t.Fatalf("container still holds %v", held)
			}
		})
	}
}

func TestConcurrentAllocationsGetDistinctAddresses(t *testing.T) {
	set := allocator.RangeSet{{
		Subnet: netip.MustParsePrefix("10.244.0.0/24"), Start: addr("10.244.0.1"), End: addr("10.244.0.254"), Gateway: addr("10.244.0.1"),
	}}
	store := fakestore.New()
	const n = 100
	results := make([]netip.Addr, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store.Lock()
			defer store.Unlock()
			al, err := allocator.New(set, store, "0").Get(fmt.Sprintf("c%d", i), "eth0", netip.Addr{})
			results[i], errs[i] = al.Address.Addr(), err
		}()
	}
	wg.Wait()
	seen := map[netip.Addr]int{}
	for i, ip := range results {
		if errs[i] != nil {
			t.Fatalf("allocation %d: %v", i, errs[i])
		}
		if j, dup := seen[ip]; dup {
			t.Fatalf("allocations %d and %d both got %s", j, i, ip)
		}
		seen[ip] = i
	}
}

func TestValidate(t *testing.T) {
	sub := netip.MustParsePrefix("10.0.0.0/24")
	cases := []struct {
		name    string
		set     allocator.RangeSet
		wantErr string
	}{
		{name: "a range inside its subnet is valid", set: allocator.RangeSet{{Subnet: sub, Start: addr("10.0.0.2"), End: addr("10.0.0.9")}}},
		{name: "an empty set is invalid", wantErr: "empty range set"},
		{name: "a start after the end is invalid", set: allocator.RangeSet{{Subnet: sub, Start: addr("10.0.0.9"), End: addr("10.0.0.2")}}, wantErr: "is after rangeEnd"},
		{name: "an end outside the subnet is invalid", set: allocator.RangeSet{{Subnet: sub, Start: addr("10.0.0.2"), End: addr("10.0.1.2")}}, wantErr: "outside subnet"},
		{
			name:    "overlapping ranges are invalid",
			set:     allocator.RangeSet{{Subnet: sub, Start: addr("10.0.0.2"), End: addr("10.0.0.9")}, {Subnet: sub, Start: addr("10.0.0.9"), End: addr("10.0.0.20")}},
			wantErr: "overlaps",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.set.Validate()
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}
