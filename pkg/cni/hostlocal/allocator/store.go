package allocator

import "net/netip"

// Reservation is one address held by one container interface.
type Reservation struct {
	IP          netip.Addr
	ContainerID string
	IfName      string
}

// Store keeps reservations. Callers hold Lock around every sequence of calls
// so that concurrent plugin processes see a consistent view.
type Store interface {
	Lock() error
	Unlock() error
	// Reserve records r and reports false, without error, when r.IP is
	// already reserved. rangeID names the range set for LastReservedIP.
	Reserve(r Reservation, rangeID string) (bool, error)
	// LastReservedIP returns the address most recently reserved in the range
	// set, or the zero Addr when there is none.
	LastReservedIP(rangeID string) (netip.Addr, error)
	// Owner returns who holds ip, with ok false when nobody does.
	Owner(ip netip.Addr) (r Reservation, ok bool, err error)
	// GetByID returns the addresses held by containerID's ifname.
	GetByID(containerID, ifname string) ([]netip.Addr, error)
	// ReleaseByID frees every address of containerID's ifname; freeing
	// nothing is not an error.
	ReleaseByID(containerID, ifname string) error
	// Release frees one address.
	Release(ip netip.Addr) error
	// List returns every reservation.
	List() ([]Reservation, error)
}
