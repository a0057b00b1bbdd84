package enforce

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/podnet/podnet/pkg/netpol"
)

// Ruleset is the desired content of the table's sets: set name → element
// key (the element's fields joined by " . ") → fields. Chains are fixed
// (chainDefs).
type Ruleset struct {
	Sets map[string]map[string][]string
}

func newRuleset() *Ruleset {
	r := &Ruleset{Sets: map[string]map[string][]string{}}
	for _, d := range setDefs {
		r.Sets[d.name] = map[string][]string{}
	}
	return r
}

func (r *Ruleset) add(set string, fields ...string) {
	r.Sets[set][strings.Join(fields, " . ")] = fields
}

// Elements counts the elements of every set.
func (r *Ruleset) Elements() int {
	n := 0
	for _, s := range r.Sets {
		n += len(s)
	}
	return n
}

// Compile turns the model's decisions for the pods of node into set
// elements. Only this node's pods are subjects (each node enforces its own
// pods' ingress and egress); peers are every pod of the cluster.
func Compile(eng *netpol.Engine, node string) *Ruleset {
	r := newRuleset()
	for _, p := range eng.Cluster.Pods {
		if enforcedHere(p, node) {
			compilePod(r, eng, p)
		}
	}
	return r
}

// enforcedHere: node enforces its own pods that have an IPv4 address.
func enforcedHere(p *netpol.Pod, node string) bool { return p.Node == node && p.IP.Is4() }

// compilePod adds the elements of one subject pod, both directions. Every
// element's key starts with the pod's IP, so pods' elements never mix.
func compilePod(r *Ruleset, eng *netpol.Engine, p *netpol.Pod) {
	compileSide(r, eng, p, netpol.Ingress, setIngressIsolated, setIngressAllow, setIngressAllowAny)
	compileSide(r, eng, p, netpol.Egress, setEgressIsolated, setEgressAllow, setEgressAllowAny)
	compileAdminSides(r, eng, p)
}

func compileSide(r *Ruleset, eng *netpol.Engine, p *netpol.Pod, dir netpol.Direction, isoSet, allowSet, anySet string) {
	isolated, allows := eng.Allowances(p, dir)
	if !isolated {
		return
	}
	self := p.IP.String()
	r.add(isoSet, self)
	shard := shardOf(ip4(p.IP))
	allowSet, anySet = shardSet(allowSet, shard), shardSet(anySet, shard)
	// A pod always reaches itself, also through its own Service.
	anyPeers := []span{{ip4(p.IP), ip4(p.IP)}}
	byProto := map[corev1.Protocol][]rect{}
	for _, a := range allows {
		peers := []span{{0, 0xffffffff}}
		if !a.AnyPeer {
			peers = spans(a.Peers)
		}
		if a.AnyPort {
			anyPeers = append(anyPeers, peers...)
			continue
		}
		for _, pr := range a.Ports {
			for _, s := range peers {
				byProto[pr.Protocol] = append(byProto[pr.Protocol], rect{s, span{uint32(pr.Lo), uint32(pr.Hi)}})
			}
		}
	}
	for _, s := range merge(anyPeers) {
		r.add(anySet, self, s.addrs())
	}
	for proto, rects := range byProto {
		for _, d := range disjoint(rects) {
			r.add(allowSet, self, d.peer.addrs(), strings.ToLower(string(proto)), d.ports.ports())
		}
	}
}

// span is an inclusive range of IPv4 addresses or ports.
type span struct{ lo, hi uint32 }

func ip4(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func addr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

func (s span) addrs() string {
	if s.lo == s.hi {
		return addr(s.lo).String()
	}
	return addr(s.lo).String() + "-" + addr(s.hi).String()
}

func (s span) ports() string {
	if s.lo == s.hi {
		return fmt.Sprint(s.lo)
	}
	return fmt.Sprintf("%d-%d", s.lo, s.hi)
}

// spans keeps the IPv4 prefixes as address ranges (this is an ip table).
func spans(ps []netip.Prefix) []span {
	var out []span
	for _, p := range ps {
		if !p.Addr().Is4() {
			continue
		}
		lo := ip4(p.Masked().Addr())
		out = append(out, span{lo, lo | (0xffffffff >> p.Bits())})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// merge sorts spans and joins overlapping or adjacent ones: nftables
// refuses overlapping elements in an interval set.
func merge(in []span) []span {
	s := slices.Clone(in)
	slices.SortFunc(s, func(a, b span) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	var out []span
	for _, x := range s {
		if n := len(out); n > 0 && uint64(x.lo) <= uint64(out[n-1].hi)+1 {
			out[n-1].hi = max(out[n-1].hi, x.hi)
			continue
		}
		out = append(out, x)
	}
	return out
}

// rect is a block of addresses × ports.
type rect struct{ peer, ports span }

// disjoint rewrites overlapping rects as non-overlapping ones covering the
// same points: the port axis is cut at every rect edge, each piece gets the
// merged addresses of the rects spanning it, and neighbouring pieces with
// the same addresses are joined again.
func disjoint(rects []rect) []rect {
	var cuts []uint64
	for _, r := range rects {
		cuts = append(cuts, uint64(r.ports.lo), uint64(r.ports.hi)+1)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	type piece struct {
		ports span
		peers []span
	}
	var pieces []piece
	for i := 0; i+1 < len(cuts); i++ {
		seg := span{uint32(cuts[i]), uint32(cuts[i+1] - 1)}
		var peers []span
		for _, r := range rects {
			if r.ports.lo <= seg.lo && r.ports.hi >= seg.hi {
				peers = append(peers, r.peer)
			}
		}
		if len(peers) == 0 {
			continue
		}
		peers = merge(peers)
		if n := len(pieces); n > 0 && pieces[n-1].ports.hi+1 == seg.lo && slices.Equal(pieces[n-1].peers, peers) {
			pieces[n-1].ports.hi = seg.hi
			continue
		}
		pieces = append(pieces, piece{seg, peers})
	}
	var out []rect
	for _, p := range pieces {
		for _, s := range p.peers {
			out = append(out, rect{s, p.ports})
		}
	}
	return out
}
