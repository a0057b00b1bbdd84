package proxy

import (
	"math/bits"
	"slices"
)

// Slots numbers the endpoints of every dispatch chain (a service port's
// cluster-wide or node-local endpoints) in one map, backends, keyed by
// conntrack mark: the chain sets `ct mark` to a random slot of its range and
// one rule DNATs by looking the mark up. One map bound by one rule is what
// keeps the kernel fast: per-endpoint chains, per-Service anonymous maps and
// a map bound by a rule per Service all cost it seconds to minutes at
// 10,000 Services (pkg/proxy/README.md has the figures).
//
// A range stays with its chain across compiles while it has room, so a
// change rewrites only that chain's elements; ranges of chains that are
// gone are reused. Slots belongs to one Proxier's sync loop: it is not safe
// for concurrent compiles.
type Slots struct {
	ranges map[string]slotRange
	free   map[uint32][]uint32 // capacity → bases of free ranges
	next   uint32              // first never-used slot
	seen   map[string]bool     // chains assigned during the current compile
}

type slotRange struct{ base, capacity uint32 }

// NewSlots returns an empty slot table. Slot 0 is never used: a connection
// without a ct mark has 0.
func NewSlots() *Slots {
	return &Slots{ranges: map[string]slotRange{}, free: map[uint32][]uint32{}, next: 1}
}

func (s *Slots) begin() { s.seen = map[string]bool{} }

// assign returns the first slot of chain's range, big enough for n.
func (s *Slots) assign(chain string, n int) uint32 {
	s.seen[chain] = true
	want := slotCapacity(n)
	if r, ok := s.ranges[chain]; ok {
		if r.capacity == want {
			return r.base
		}
		s.release(r)
	}
	var base uint32
	if bases := s.free[want]; len(bases) > 0 {
		// The lowest free range, so numbering does not depend on the
		// order ranges were freed in.
		i := slices.Index(bases, slices.Min(bases))
		base, s.free[want] = bases[i], slices.Delete(bases, i, i+1)
	} else {
		base, s.next = s.next, s.next+want
	}
	s.ranges[chain] = slotRange{base, want}
	return base
}

// end frees the ranges of chains the compile did not assign.
func (s *Slots) end() {
	for chain, r := range s.ranges {
		if !s.seen[chain] {
			s.release(r)
			delete(s.ranges, chain)
		}
	}
}

func (s *Slots) release(r slotRange) { s.free[r.capacity] = append(s.free[r.capacity], r.base) }

// slotCapacity rounds n up to a power of two (at least 4), so a chain
// keeps its range while its endpoints come and go within it.
func slotCapacity(n int) uint32 {
	if n <= 4 {
		return 4
	}
	return 1 << bits.Len32(uint32(n-1))
}
