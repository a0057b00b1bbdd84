// Package allocator decides which address a container gets from a set of
// ranges. It never touches the disk: reservations go through a Store, so the
// decisions are unit-tested against an in-memory store.
package allocator

import (
	"fmt"
	"net/netip"
	"strings"
)

// Range is one contiguous block of assignable addresses inside a subnet.
type Range struct {
	Subnet  netip.Prefix
	Start   netip.Addr
	End     netip.Addr
	Gateway netip.Addr
}

// Contains reports whether a lies between Start and End inclusive.
func (r Range) Contains(a netip.Addr) bool {
	return a.IsValid() && r.Start.Compare(a) <= 0 && a.Compare(r.End) <= 0
}

// Overlaps reports whether two ranges share an address.
func (r Range) Overlaps(o Range) bool {
	return r.Contains(o.Start) || r.Contains(o.End) || o.Contains(r.Start) || o.Contains(r.End)
}

func (r Range) String() string { return r.Start.String() + "-" + r.End.String() }

// RangeSet is the list of ranges one address is picked from; a container gets
// exactly one address per RangeSet.
type RangeSet []Range

// RangeFor returns the range of the set that holds a.
func (s RangeSet) RangeFor(a netip.Addr) (Range, bool) {
	for _, r := range s {
		if r.Contains(a) {
			return r, true
		}
	}
	return Range{}, false
}

func (s RangeSet) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// next returns the address after a in set order, wrapping from the end of one
// range to the start of the next and from the last range to the first, which
// is what makes allocation round-robin across the whole set.
func (s RangeSet) next(a netip.Addr) netip.Addr {
	for i, r := range s {
		if r.Contains(a) {
			if a != r.End {
				return a.Next()
			}
			return s[(i+1)%len(s)].Start
		}
	}
	return s[0].Start
}

// Validate checks that every range lies inside its subnet and that no two
// ranges of the set overlap.
func (s RangeSet) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("empty range set")
	}
	for i, r := range s {
		if !r.Subnet.IsValid() {
			return fmt.Errorf("range %d: invalid subnet", i)
		}
		for _, a := range []netip.Addr{r.Start, r.End} {
			if !r.Subnet.Contains(a) {
				return fmt.Errorf("range %d: %s is outside subnet %s", i, a, r.Subnet)
			}
		}
		if r.Start.Compare(r.End) > 0 {
			return fmt.Errorf("range %d: rangeStart %s is after rangeEnd %s", i, r.Start, r.End)
		}
		if r.Gateway.IsValid() && !r.Subnet.Contains(r.Gateway) {
			return fmt.Errorf("range %d: gateway %s is outside subnet %s", i, r.Gateway, r.Subnet)
		}
		for j := 0; j < i; j++ {
			if r.Overlaps(s[j]) {
				return fmt.Errorf("range %d (%s) overlaps range %d (%s)", i, r, j, s[j])
			}
		}
	}
	return nil
}
