package enforce

import (
	"cmp"
	"container/heap"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/podnet/podnet/pkg/netpol"
)

// The admin tiers in the kernel. Every new connection crosses, per
// direction, one fixed chain (egress-tiers, ingress-tiers):
//
//	admin allow sets   → return (this direction is allowed: NetworkPolicy
//	                     and the baseline are skipped)
//	admin deny sets    → drop
//	isolated by NetworkPolicy → goto the NetworkPolicy chain (egress,
//	                     ingress: return if a rule allows, else drop)
//	baseline deny sets → drop
//	                   → return (default allow)
//
// ANP precedence and first-match-wins are resolved at compile time: the
// rules of a subject are painted, highest precedence first, onto the
// plane of peer addresses × ports of each protocol, so each point gets the
// action of the first rule covering it. Allow and Deny regions become
// elements of disjoint interval sets; Pass regions and unmatched ones are
// left out, and so fall through to NetworkPolicy. As for NetworkPolicy,
// per-packet work is a fixed number of lookups whatever the number of
// policies, and a change is element additions and deletions.
//
// Rules without ports also cover protocols without ports (ICMP...): the
// -other sets, keyed by addresses only, are consulted for those.

const (
	chainEgressTiers  = "egress-tiers"
	chainIngressTiers = "ingress-tiers"

	setAdminIngressAllow        = "admin-ingress-allow"
	setAdminIngressDeny         = "admin-ingress-deny"
	setAdminIngressAllowOther   = "admin-ingress-allow-other"
	setAdminIngressDenyOther    = "admin-ingress-deny-other"
	setAdminEgressAllow         = "admin-egress-allow"
	setAdminEgressDeny          = "admin-egress-deny"
	setAdminEgressAllowOther    = "admin-egress-allow-other"
	setAdminEgressDenyOther     = "admin-egress-deny-other"
	setBaselineIngressDeny      = "baseline-ingress-deny"
	setBaselineIngressDenyOther = "baseline-ingress-deny-other"
	setBaselineEgressDeny       = "baseline-egress-deny"
	setBaselineEgressDenyOther  = "baseline-egress-deny-other"
	portKey                     = "ipv4_addr . ipv4_addr . inet_proto . inet_service"
	addrKey                     = "ipv4_addr . ipv4_addr"
	portProtocols               = "{ tcp, udp, sctp }"
	notPortProtocol             = "meta l4proto != " + portProtocols + " "
)

var adminSetDefs = []setDef{
	{setAdminIngressAllow, portKey, true}, {setAdminIngressDeny, portKey, true},
	{setAdminIngressAllowOther, addrKey, true}, {setAdminIngressDenyOther, addrKey, true},
	{setAdminEgressAllow, portKey, true}, {setAdminEgressDeny, portKey, true},
	{setAdminEgressAllowOther, addrKey, true}, {setAdminEgressDenyOther, addrKey, true},
	{setBaselineIngressDeny, portKey, true}, {setBaselineIngressDenyOther, addrKey, true},
	{setBaselineEgressDeny, portKey, true}, {setBaselineEgressDenyOther, addrKey, true},
}

// tierSets names one direction's sets.
type tierSets struct {
	allow, deny, allowOther, denyOther, baseDeny, baseDenyOther string
}

var tiers = map[netpol.Direction]tierSets{
	netpol.Ingress: {setAdminIngressAllow, setAdminIngressDeny, setAdminIngressAllowOther, setAdminIngressDenyOther, setBaselineIngressDeny, setBaselineIngressDenyOther},
	netpol.Egress:  {setAdminEgressAllow, setAdminEgressDeny, setAdminEgressAllowOther, setAdminEgressDenyOther, setBaselineEgressDeny, setBaselineEgressDenyOther},
}

// tierChain is one direction's chain; the subject is the source for
// egress, the destination for ingress.
func tierChain(name string, s tierSets, isolated, npChain, subject, peer string) chainDef {
	ports := subject + " . " + peer + " . meta l4proto . th dport"
	addrs := subject + " . " + peer
	return chainDef{name, "", []string{
		ports + " @" + s.allow + " return",
		ports + " @" + s.deny + " counter drop",
		notPortProtocol + addrs + " @" + s.allowOther + " return",
		notPortProtocol + addrs + " @" + s.denyOther + " counter drop",
		subject + " @" + isolated + " goto " + npChain,
		ports + " @" + s.baseDeny + " counter drop",
		notPortProtocol + addrs + " @" + s.baseDenyOther + " counter drop",
	}}
}

var adminChainDefs = []chainDef{
	tierChain(chainEgressTiers, tiers[netpol.Egress], setEgressIsolated, "egress", "ip saddr", "ip daddr"),
	tierChain(chainIngressTiers, tiers[netpol.Ingress], setIngressIsolated, "ingress", "ip daddr", "ip saddr"),
}

// verdict of a painted region; 0 is "no rule".
type verdict uint8

const (
	vNone verdict = iota
	vAllow
	vDeny
	vPass
)

func verdictOf(action string) verdict {
	switch action {
	case netpol.ActionAllow:
		return vAllow
	case netpol.ActionDeny:
		return vDeny
	}
	return vPass
}

// compileAdminSides adds pod p's admin and baseline elements, both
// directions.
func compileAdminSides(r *Ruleset, eng *netpol.Engine, p *netpol.Pod) {
	for _, dir := range []netpol.Direction{netpol.Ingress, netpol.Egress} {
		admin, baseline := eng.AdminAllowances(p, dir)
		if len(admin) == 0 && len(baseline) == 0 {
			continue
		}
		s := tiers[dir]
		self := span{ip4(p.IP), ip4(p.IP)}
		// A pod always reaches itself: it comes first, as an Allow.
		selfRule := []item{{peers: []span{self}, anyPort: true, v: vAllow}}
		paint(r, p, append(selfRule, items(admin)...), s.allow, s.deny, s.allowOther, s.denyOther)
		paint(r, p, items(baseline), "", s.baseDeny, "", s.baseDenyOther)
	}
}

// item is one allowance as spans, in precedence order.
type item struct {
	peers   []span
	anyPort bool
	ports   []netpol.PortRange
	v       verdict
}

func items(as []netpol.AdminAllowance) []item {
	var out []item
	for _, a := range as {
		it := item{anyPort: a.AnyPort, ports: a.Ports, v: verdictOf(a.Action)}
		if a.AnyPeer {
			it.peers = []span{{0, 0xffffffff}}
		} else {
			it.peers = spans(a.Peers)
		}
		if len(it.peers) > 0 {
			out = append(out, it)
		}
	}
	return out
}

// paint resolves first-match over the items and writes Allow regions to
// allowSet/allowOther and Deny regions to denySet/denyOther ("" drops
// that verdict: the baseline needs only its denials).
func paint(r *Ruleset, p *netpol.Pod, its []item, allowSet, denySet, allowOther, denyOther string) {
	self := p.IP.String()
	emit := func(set string, fields ...string) {
		if set != "" {
			r.add(set, append([]string{self}, fields...)...)
		}
	}
	for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
		var rects []prect
		for order, it := range its {
			var ports []span
			if it.anyPort {
				ports = []span{{0, 65535}}
			}
			for _, pr := range it.ports {
				if pr.Protocol == proto {
					ports = append(ports, span{uint32(pr.Lo), uint32(pr.Hi)})
				}
			}
			for _, ps := range ports {
				for _, a := range it.peers {
					rects = append(rects, prect{rect{a, ps}, order, it.v})
				}
			}
		}
		name := strings.ToLower(string(proto))
		for _, pc := range firstMatch(rects) {
			switch pc.v {
			case vAllow:
				emit(allowSet, pc.peer.addrs(), name, pc.ports.ports())
			case vDeny:
				emit(denySet, pc.peer.addrs(), name, pc.ports.ports())
			}
		}
	}
	var others []vspan
	for order, it := range its {
		if !it.anyPort {
			continue
		}
		for _, a := range it.peers {
			others = append(others, vspan{a, order, it.v})
		}
	}
	for _, vs := range paint1D(others) {
		switch vs.v {
		case vAllow:
			emit(allowOther, vs.s.addrs())
		case vDeny:
			emit(denyOther, vs.s.addrs())
		}
	}
}

// prect is a rect with the precedence (lower first) and verdict of the
// rule it comes from.
type prect struct {
	rect
	order int
	v     verdict
}

type pcell struct {
	peer, ports span
	v           verdict
}

// firstMatch cuts the port axis at every rect edge; in each piece, the
// address axis is painted with the first rect covering each address; then
// neighbouring pieces painted alike are joined. Regions no rect covers are
// left out; the rest are disjoint.
func firstMatch(rects []prect) []pcell {
	var cuts []uint64
	for _, r := range rects {
		cuts = append(cuts, uint64(r.ports.lo), uint64(r.ports.hi)+1)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	type piece struct {
		ports   span
		painted []vspan
	}
	var pieces []piece
	for i := 0; i+1 < len(cuts); i++ {
		seg := span{uint32(cuts[i]), uint32(cuts[i+1] - 1)}
		var here []vspan
		for _, r := range rects {
			if r.ports.lo <= seg.lo && r.ports.hi >= seg.hi {
				here = append(here, vspan{r.peer, r.order, r.v})
			}
		}
		painted := paint1D(here)
		if len(painted) == 0 {
			continue
		}
		if n := len(pieces); n > 0 && pieces[n-1].ports.hi+1 == seg.lo && sameVerdicts(pieces[n-1].painted, painted) {
			pieces[n-1].ports.hi = seg.hi
			continue
		}
		pieces = append(pieces, piece{seg, painted})
	}
	var out []pcell
	for _, p := range pieces {
		for _, vs := range p.painted {
			out = append(out, pcell{vs.s, p.ports, vs.v})
		}
	}
	return out
}

func sameVerdicts(a, b []vspan) bool {
	return slices.EqualFunc(a, b, func(x, y vspan) bool { return x.s == y.s && x.v == y.v })
}

// vspan is an address span with precedence and verdict.
type vspan struct {
	s     span
	order int
	v     verdict
}

// paint1D gives each address the verdict of the lowest-order span covering
// it, by a sweep over the span edges with a heap of the spans open there;
// neighbouring results with one verdict are joined (order is dropped).
func paint1D(in []vspan) []vspan {
	if len(in) == 0 {
		return nil
	}
	type edge struct {
		at  uint64
		idx int // the span starting here, or -1 for a cut only
	}
	var edges []edge
	for i, v := range in {
		edges = append(edges, edge{uint64(v.s.lo), i}, edge{uint64(v.s.hi) + 1, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Compare(a.at, b.at) })
	open := &openSpans{in: in}
	var out []vspan
	for i := 0; i < len(edges); {
		at := edges[i].at
		for ; i < len(edges) && edges[i].at == at; i++ {
			if edges[i].idx >= 0 {
				heap.Push(open, edges[i].idx)
			}
		}
		for open.Len() > 0 && uint64(in[open.idx[0]].s.hi) < at {
			heap.Pop(open)
		}
		if open.Len() == 0 || i == len(edges) {
			continue
		}
		next := edges[i].at // the next edge ends this segment
		v := in[open.idx[0]].v
		seg := span{uint32(at), uint32(next - 1)}
		if n := len(out); n > 0 && out[n-1].v == v && uint64(out[n-1].s.hi)+1 == at {
			out[n-1].s.hi = seg.hi
			continue
		}
		out = append(out, vspan{s: seg, v: v})
	}
	return out
}

// openSpans is a min-heap of indexes into in by order.
type openSpans struct {
	in  []vspan
	idx []int
}

func (h *openSpans) Len() int           { return len(h.idx) }
func (h *openSpans) Less(i, j int) bool { return h.in[h.idx[i]].order < h.in[h.idx[j]].order }
func (h *openSpans) Swap(i, j int)      { h.idx[i], h.idx[j] = h.idx[j], h.idx[i] }
func (h *openSpans) Push(x any)         { h.idx = append(h.idx, x.(int)) }
func (h *openSpans) Pop() any {
	n := len(h.idx)
	x := h.idx[n-1]
	h.idx = h.idx[:n-1]
	return x
}
