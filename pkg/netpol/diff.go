package netpol

import (
	"slices"
	"strings"
)

// Change is one connection a policy change adds or removes.
type Change struct {
	Cell
	Change string `json:"change"` // "added" or "removed"
}

type cellKey struct {
	from, to string
	pp       PortProto
}

// Diff compares two matrices: connections allowed in after but not in
// before are "added", the reverse "removed". A pod present on one side
// only counts as unreachable on the other.
func Diff(before, after *Matrix) []Change {
	old := map[cellKey]bool{}
	for c := range before.Cells() {
		old[cellKey{c.From, c.To, PortProto{c.Port, c.Protocol}}] = c.Allowed
	}
	seen := map[cellKey]bool{}
	var out []Change
	for c := range after.Cells() {
		k := cellKey{c.From, c.To, PortProto{c.Port, c.Protocol}}
		seen[k] = true
		if was := old[k]; was != c.Allowed {
			ch := "added"
			if was {
				ch = "removed"
			}
			out = append(out, Change{Cell: c, Change: ch})
		}
	}
	for c := range before.Cells() {
		if !seen[cellKey{c.From, c.To, PortProto{c.Port, c.Protocol}}] && c.Allowed {
			gone := c
			gone.Allowed = false
			out = append(out, Change{Cell: gone, Change: "removed"})
		}
	}
	slices.SortFunc(out, func(a, b Change) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		if c := strings.Compare(a.To, b.To); c != 0 {
			return c
		}
		return comparePortProto(PortProto{a.Port, a.Protocol}, PortProto{b.Port, b.Protocol})
	})
	return out
}
