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
	seen   map[string]bool     // chains assigned during the current full compile
	// byService lists each Service's chains, so recompiling one Service
	// alone frees the ranges of the chains it no longer has.
	byService map[string][]string
	current   []string // chains assigned in the current service() call
}

type slotRange struct {
	base, capacity uint32
	// members are the endpoints in slot order, as last placed.
	members []string
}

// NewSlots returns an empty slot table. Slot 0 is never used: a connection
// without a ct mark has 0.
func NewSlots() *Slots {
	return &Slots{ranges: map[string]slotRange{}, free: map[uint32][]uint32{}, next: 1, byService: map[string][]string{}}
}

// begin and end bracket a full compile: ranges of chains it did not assign
// are freed at the end.
func (s *Slots) begin() { s.seen = map[string]bool{} }

// service runs compile, which assigns the chains of Service key, and frees
// the ranges of that Service's earlier chains it did not assign again.
func (s *Slots) service(key string, compile func()) {
	s.current = nil
	compile()
	kept := map[string]bool{}
	for _, c := range s.current {
		kept[c] = true
	}
	for _, c := range s.byService[key] {
		if !kept[c] {
			if r, ok := s.ranges[c]; ok {
				s.release(r)
				delete(s.ranges, c)
			}
		}
	}
	if len(s.current) == 0 {
		delete(s.byService, key)
	} else {
		s.byService[key] = s.current
	}
	s.current = nil
}

// forget frees the ranges of a Service that is gone.
func (s *Slots) forget(key string) { s.service(key, func() {}) }

// assign returns the first slot of chain's range, big enough for n.
func (s *Slots) assign(chain string, n int) uint32 {
	if s.seen != nil {
		s.seen[chain] = true
	}
	s.current = append(s.current, chain)
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
		// Two statements: in one assignment Go may run slices.Delete
		// (which shifts and zeroes) before reading bases[i].
		base = bases[i]
		s.free[want] = slices.Delete(bases, i, i+1)
	} else {
		base, s.next = s.next, s.next+want
	}
	s.ranges[chain] = slotRange{base: base, capacity: want}
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
	for key, chains := range s.byService {
		if !s.seen[chains[0]] {
			delete(s.byService, key)
		}
	}
	s.seen = nil
}

// place returns the slot order for chain's endpoints (keys, e.g.
// "ip:port"): perm[i] is the index in keys of the endpoint in slot base+i.
// Endpoints that stay keep their slot, so replacing one endpoint rewrites
// one backends element, not all of them (a deleted element costs the kernel
// a wait of several milliseconds per transaction). The first slots must
// stay contiguous, so an endpoint beyond the new count moves down.
func (s *Slots) place(chain string, keys []string) (base uint32, perm []int) {
	base = s.assign(chain, len(keys))
	r := s.ranges[chain]
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	perm = make([]int, len(keys))
	placed := make([]bool, len(keys))
	filled := make([]bool, len(keys))
	for i, k := range r.members {
		if j, ok := index[k]; ok && i < len(keys) {
			perm[i], placed[j], filled[i] = j, true, true
		}
	}
	next := 0 // the rest, in their given (sorted) order, into the holes
	for i := range perm {
		if filled[i] {
			continue
		}
		for placed[next] {
			next++
		}
		perm[i], placed[next] = next, true
	}
	r.members = make([]string, len(keys))
	for i, j := range perm {
		r.members[i] = keys[j]
	}
	s.ranges[chain] = r
	return base, perm
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
