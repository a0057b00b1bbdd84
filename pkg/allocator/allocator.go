// Package allocator hands out ClusterIPs and NodePorts the way the API server
// does: an explicit request is honoured or refused, and dynamic allocations
// come from the upper part of the range first, so that the lower band stays
// free for static assignments (KEP-3070 for Service IPs, KEP-3668 for
// NodePorts).
package allocator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
)

// ErrAllocated means the requested value is in use.
var ErrAllocated = errors.New("provided IP is already allocated")

// ErrFull means nothing is left to allocate.
var ErrFull = errors.New("range is full")

// Range is a set of integers [base, base+size) with a free-bitmap.
type Range struct {
	base, size int
	used       map[int]bool
	rnd        *rand.Rand
}

func newRange(base, size int, rnd *rand.Rand) *Range {
	return &Range{base: base, size: size, used: map[int]bool{}, rnd: rnd}
}

// staticBand is how many of the lowest offsets dynamic allocation avoids
// while anything above is free: min(max(16, size/16), 256), as upstream.
func (r *Range) staticBand() int {
	return min(max(16, r.size/16), 256)
}

func (r *Range) take(off int) bool {
	if off < 0 || off >= r.size || r.used[off] {
		return false
	}
	r.used[off] = true
	return true
}

// next picks a free offset: a random one in the dynamic band while it has
// room, then one in the static band.
func (r *Range) next() (int, error) {
	if len(r.used) >= r.size {
		return 0, ErrFull
	}
	band := r.staticBand()
	if band >= r.size {
		band = 0
	}
	if off, ok := r.pick(band, r.size); ok {
		return off, nil
	}
	if off, ok := r.pick(0, band); ok {
		return off, nil
	}
	return 0, ErrFull
}

// pick takes a free offset in [lo, hi): a few random probes, then a scan
// from a random start.
func (r *Range) pick(lo, hi int) (int, bool) {
	n := hi - lo
	if n <= 0 {
		return 0, false
	}
	for range 8 {
		if off := lo + r.rnd.IntN(n); r.take(off) {
			return off, true
		}
	}
	start := r.rnd.IntN(n)
	for i := range n {
		if off := lo + (start+i)%n; r.take(off) {
			return off, true
		}
	}
	return 0, false
}

// IPs allocates addresses from an IPv4 prefix, never its network or
// broadcast address.
type IPs struct {
	prefix netip.Prefix
	r      *Range
}

// NewIPs returns an allocator over prefix (IPv4, at most 2^24 addresses).
func NewIPs(prefix netip.Prefix, rnd *rand.Rand) (*IPs, error) {
	prefix = prefix.Masked()
	if !prefix.Addr().Is4() || prefix.Bits() < 8 || prefix.Bits() > 30 {
		return nil, fmt.Errorf("service CIDR %s: want an IPv4 prefix from /8 to /30", prefix)
	}
	size := 1<<(32-prefix.Bits()) - 2
	return &IPs{prefix: prefix, r: newRange(1, size, rnd)}, nil
}

// Prefix is the range allocated from.
func (a *IPs) Prefix() netip.Prefix { return a.prefix }

func (a *IPs) offset(ip netip.Addr) int {
	b, base := ip.As4(), a.prefix.Addr().As4()
	v := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	w := int(base[0])<<24 | int(base[1])<<16 | int(base[2])<<8 | int(base[3])
	return v - w - 1
}

func (a *IPs) addr(off int) netip.Addr {
	base := a.prefix.Addr().As4()
	v := (int(base[0])<<24 | int(base[1])<<16 | int(base[2])<<8 | int(base[3])) + off + 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Allocate reserves ip, with the API server's messages when it cannot.
func (a *IPs) Allocate(ip netip.Addr) error {
	off := a.offset(ip)
	if !a.prefix.Contains(ip) || off < 0 || off >= a.r.size {
		return fmt.Errorf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, a.prefix)
	}
	if !a.r.take(off) {
		return ErrAllocated
	}
	return nil
}

// AllocateNext reserves a free address.
func (a *IPs) AllocateNext() (netip.Addr, error) {
	off, err := a.r.next()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("failed to allocate a serviceIP: %w", err)
	}
	return a.addr(off), nil
}

// Release frees ip; releasing a free or foreign address does nothing.
func (a *IPs) Release(ip netip.Addr) {
	if a.prefix.Contains(ip) {
		delete(a.r.used, a.offset(ip))
	}
}

// Has reports whether ip is allocated.
func (a *IPs) Has(ip netip.Addr) bool { return a.prefix.Contains(ip) && a.r.used[a.offset(ip)] }

// Ports allocates NodePorts from [first, last].
type Ports struct {
	first, last int
	r           *Range
}

// NewPorts returns an allocator over the port range [first, last].
func NewPorts(first, last int, rnd *rand.Rand) *Ports {
	return &Ports{first: first, last: last, r: newRange(first, last-first+1, rnd)}
}

// Allocate reserves port.
func (p *Ports) Allocate(port int) error {
	if port < p.first || port > p.last {
		return fmt.Errorf("provided port is not in the valid range. The range of valid ports is %d-%d", p.first, p.last)
	}
	if !p.r.take(port - p.first) {
		return errors.New("provided port is already allocated")
	}
	return nil
}

// AllocateNext reserves a free port.
func (p *Ports) AllocateNext() (int, error) {
	off, err := p.r.next()
	if err != nil {
		return 0, fmt.Errorf("failed to allocate a nodePort: %w", err)
	}
	return p.first + off, nil
}

// Release frees port.
func (p *Ports) Release(port int) { delete(p.r.used, port-p.first) }

// Has reports whether port is allocated.
func (p *Ports) Has(port int) bool { return p.r.used[port-p.first] }
