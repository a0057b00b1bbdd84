package allocator

import (
	"fmt"
	"net/netip"
)

// Allocator hands out addresses of one RangeSet. Its methods assume the caller
// holds the store's lock.
type Allocator struct {
	set     RangeSet
	store   Store
	rangeID string
}

// New returns an allocator for set; rangeID tells the store which set's
// round-robin position to keep.
func New(set RangeSet, store Store, rangeID string) *Allocator {
	return &Allocator{set: set, store: store, rangeID: rangeID}
}

// Allocation is an address with its subnet's prefix length and the gateway of
// its range.
type Allocation struct {
	Address netip.Prefix
	Gateway netip.Addr
}

// Get reserves an address for containerID's ifname. A valid requested address
// is honoured or refused, never replaced. When the interface already holds an
// address of this set (a retried ADD) that address is returned again, so ADD
// is safe to repeat.
func (a *Allocator) Get(containerID, ifname string, requested netip.Addr) (Allocation, error) {
	held, err := a.store.GetByID(containerID, ifname)
	if err != nil {
		return Allocation{}, err
	}
	for _, ip := range held {
		if r, ok := a.set.RangeFor(ip); ok {
			if requested.IsValid() && requested != ip {
				return Allocation{}, fmt.Errorf("container %q interface %q already holds %s, cannot take requested %s", containerID, ifname, ip, requested)
			}
			return allocation(r, ip), nil
		}
	}
	if requested.IsValid() {
		return a.getRequested(containerID, ifname, requested)
	}

	start := a.set[0].Start
	last, err := a.store.LastReservedIP(a.rangeID)
	if err != nil {
		return Allocation{}, err
	}
	if _, ok := a.set.RangeFor(last); ok {
		start = a.set.next(last)
	}
	for cur := start; ; {
		r, _ := a.set.RangeFor(cur)
		if cur != r.Gateway {
			ok, err := a.store.Reserve(Reservation{IP: cur, ContainerID: containerID, IfName: ifname}, a.rangeID)
			if err != nil {
				return Allocation{}, err
			}
			if ok {
				return allocation(r, cur), nil
			}
		}
		if cur = a.set.next(cur); cur == start {
			break
		}
	}
	return Allocation{}, fmt.Errorf("no IP addresses available in range set: %s", a.set)
}

func (a *Allocator) getRequested(containerID, ifname string, ip netip.Addr) (Allocation, error) {
	r, ok := a.set.RangeFor(ip)
	if !ok {
		return Allocation{}, fmt.Errorf("requested IP address %s is not in range set %s", ip, a.set)
	}
	if ip == r.Gateway {
		return Allocation{}, fmt.Errorf("requested IP address %s is the gateway of range %s", ip, r)
	}
	reserved, err := a.store.Reserve(Reservation{IP: ip, ContainerID: containerID, IfName: ifname}, a.rangeID)
	if err != nil {
		return Allocation{}, err
	}
	if !reserved {
		owner, _, err := a.store.Owner(ip)
		if err != nil {
			return Allocation{}, err
		}
		return Allocation{}, fmt.Errorf("requested IP address %s is already allocated to container %q interface %q", ip, owner.ContainerID, owner.IfName)
	}
	return allocation(r, ip), nil
}

func allocation(r Range, ip netip.Addr) Allocation {
	return Allocation{Address: netip.PrefixFrom(ip, r.Subnet.Bits()), Gateway: r.Gateway}
}

// Release frees the addresses of containerID's ifname; releasing an interface
// that holds nothing succeeds, so DEL stays idempotent.
func (a *Allocator) Release(containerID, ifname string) error {
	return a.store.ReleaseByID(containerID, ifname)
}
