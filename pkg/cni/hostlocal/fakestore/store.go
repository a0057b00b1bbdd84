// Package fakestore is an in-memory allocator.Store for tests of the
// allocation decisions.
package fakestore

import (
	"net/netip"
	"sort"
	"sync"

	"github.com/podnet/podnet/pkg/cni/hostlocal/allocator"
)

var _ allocator.Store = (*Store)(nil)

// Store keeps reservations in maps; Lock is a real mutex so concurrent
// allocations can be tested.
type Store struct {
	mu      sync.Mutex
	ips     map[netip.Addr]allocator.Reservation
	lastIPs map[string]netip.Addr
}

// New returns a store holding the given reservations.
func New(reserved ...allocator.Reservation) *Store {
	s := &Store{ips: map[netip.Addr]allocator.Reservation{}, lastIPs: map[string]netip.Addr{}}
	for _, r := range reserved {
		s.ips[r.IP] = r
	}
	return s
}

// SetLastReserved sets the round-robin position of a range set.
func (s *Store) SetLastReserved(rangeID string, ip netip.Addr) { s.lastIPs[rangeID] = ip }

func (s *Store) Lock() error   { s.mu.Lock(); return nil }
func (s *Store) Unlock() error { s.mu.Unlock(); return nil }

func (s *Store) Reserve(r allocator.Reservation, rangeID string) (bool, error) {
	if _, taken := s.ips[r.IP]; taken {
		return false, nil
	}
	s.ips[r.IP] = r
	s.lastIPs[rangeID] = r.IP
	return true, nil
}

func (s *Store) LastReservedIP(rangeID string) (netip.Addr, error) { return s.lastIPs[rangeID], nil }

func (s *Store) Owner(ip netip.Addr) (allocator.Reservation, bool, error) {
	r, ok := s.ips[ip]
	return r, ok, nil
}

func (s *Store) GetByID(id, ifname string) ([]netip.Addr, error) {
	var out []netip.Addr
	for ip, r := range s.ips {
		if r.ContainerID == id && r.IfName == ifname {
			out = append(out, ip)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out, nil
}

func (s *Store) ReleaseByID(id, ifname string) error {
	for ip, r := range s.ips {
		if r.ContainerID == id && r.IfName == ifname {
			delete(s.ips, ip)
		}
	}
	return nil
}

func (s *Store) Release(ip netip.Addr) error { delete(s.ips, ip); return nil }

func (s *Store) List() ([]allocator.Reservation, error) {
	out := make([]allocator.Reservation, 0, len(s.ips))
	for _, r := range s.ips {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out, nil
}
