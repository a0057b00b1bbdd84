package netpol

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Allowance is one rule of one policy in terms a packet filter matches:
// address prefixes of the far end and port ranges, with selectors and
// named ports already resolved against the cluster.
type Allowance struct {
	Rule RuleRef
	// AnyPeer: every address (the rule has no from/to).
	AnyPeer bool
	Peers   []netip.Prefix
	// AnyPort: every port of every protocol (the rule has no ports).
	AnyPort bool
	Ports   []PortRange
}

// PortRange is an inclusive range of ports of one protocol.
type PortRange struct {
	Protocol corev1.Protocol
	Lo, Hi   int32
}

// Allowances says whether pod p is isolated in dir and, if so, what the
// rules of the isolating policies allow. A data plane that accepts exactly
// the union of these (plus replies, p to itself and, for ingress, p's own
// node) enforces what Evaluate decides.
func (e *Engine) Allowances(p *Pod, dir Direction) (isolated bool, out []Allowance) {
	c := e.classOf[p]
	if c == nil {
		return false, nil
	}
	for _, pol := range c.selecting {
		if !pol.isolates[dir] {
			continue
		}
		isolated = true
		for _, r := range pol.rules[dir] {
			out = append(out, e.allowances(p, r)...)
		}
	}
	return isolated, out
}

// DependsOn says whether subject's allowances (either direction) may
// change when pod q changes: q is subject itself, or a rule of a policy
// isolating subject has a peer that matches q, or allows named ports to
// every destination (each destination pod resolves them). q may be from
// another Cluster, the state before a change; nsLabels are the labels of
// its namespace there.
func (e *Engine) DependsOn(subject, q *Pod, nsLabels map[string]string) bool {
	if subject.Key() == q.Key() {
		return true
	}
	c := e.classOf[subject]
	if c == nil {
		return false
	}
	for _, pol := range c.selecting {
		for _, dir := range []Direction{Ingress, Egress} {
			if !pol.isolates[dir] {
				continue
			}
			for _, r := range pol.rules[dir] {
				if r.allPeers {
					if dir == Egress && slices.ContainsFunc(r.ports, func(m portMatch) bool { return m.name != "" }) {
						return true
					}
					continue
				}
				for _, pe := range r.peers {
					if pe.matchesPod(q, nsLabels) {
						return true
					}
				}
			}
		}
	}
	return false
}

func (e *Engine) allowances(subject *Pod, r *rule) []Allowance {
	ref := RuleRef{Policy: r.policy.key, Direction: r.dir, Index: r.index}
	peers := func() []netip.Prefix {
		if r.allPeers {
			return nil
		}
		return e.peerPrefixes(r)
	}
	// Ingress resolves names on the subject itself.
	if r.dir == Ingress || r.allPorts {
		return []Allowance{{Rule: ref, AnyPeer: r.allPeers, Peers: peers(), AnyPort: r.allPorts, Ports: resolvePorts(r, subject.Ports, true)}}
	}
	// Egress: numbered ports hold for every peer address; a name is
	// resolved on each destination pod, so it becomes one allowance per
	// destination pod.
	var out []Allowance
	if numbered := resolvePorts(r, nil, false); len(numbered) > 0 {
		out = append(out, Allowance{Rule: ref, AnyPeer: r.allPeers, Peers: peers(), Ports: numbered})
	}
	for _, dst := range e.Cluster.Pods {
		if !dst.IP.IsValid() {
			continue
		}
		ports := namedPorts(r, dst.Ports)
		if len(ports) == 0 || !e.peerMatches(r, PodEndpoint(dst)) {
			continue
		}
		out = append(out, Allowance{Rule: ref, Peers: []netip.Prefix{netip.PrefixFrom(dst.IP, dst.IP.BitLen())}, Ports: ports})
	}
	return out
}

func namedPorts(r *rule, declared []ContainerPort) []PortRange {
	var out []PortRange
	for _, m := range r.ports {
		if m.name == "" {
			continue
		}
		if lo, hi, ok := m.resolve(declared, true); ok {
			out = append(out, PortRange{Protocol: m.protocol, Lo: lo, Hi: hi})
		}
	}
	return out
}

// resolvePorts turns a rule's ports into ranges, resolving names against
// the receiving pod's declared ports (a name it lacks allows nothing).
func resolvePorts(r *rule, declared []ContainerPort, isPod bool) []PortRange {
	var out []PortRange
	for _, m := range r.ports {
		if lo, hi, ok := m.resolve(declared, isPod); ok {
			out = append(out, PortRange{Protocol: m.protocol, Lo: lo, Hi: hi})
		}
	}
	return out
}

// peerPrefixes lists the addresses a rule's peers match: pod IPs for
// selector peers, the block minus its exceptions for ipBlocks.
func (e *Engine) peerPrefixes(r *rule) []netip.Prefix {
	var out []netip.Prefix
	for _, pe := range r.peers {
		if pe.block != nil {
			out = append(out, subtract(pe.block.cidr, pe.block.except)...)
			continue
		}
		for _, c := range e.classes {
			if !e.peerMatchesOne(pe, PodEndpoint(c.rep)) {
				continue
			}
			for _, p := range c.members {
				if p.IP.IsValid() {
					out = append(out, netip.PrefixFrom(p.IP, p.IP.BitLen()))
				}
			}
		}
	}
	return out
}

// subtract returns p without the addresses in except, as prefixes.
func subtract(p netip.Prefix, except []netip.Prefix) []netip.Prefix {
	for _, ex := range except {
		if !ex.Overlaps(p) {
			continue
		}
		if ex.Bits() <= p.Bits() {
			return nil // the exception covers all of p
		}
		// Split p in halves and subtract from each.
		lo, hi := halves(p)
		return append(subtract(lo, except), subtract(hi, except)...)
	}
	return []netip.Prefix{p}
}

func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits() + 1
	idx, mask := (bits-1)/8, byte(1)<<(7-uint((bits-1)%8))
	if p.Addr().Is4() {
		a := p.Addr().As4()
		a[idx] |= mask
		return netip.PrefixFrom(p.Addr(), bits), netip.PrefixFrom(netip.AddrFrom4(a), bits)
	}
	a := p.Addr().As16()
	a[idx] |= mask
	return netip.PrefixFrom(p.Addr(), bits), netip.PrefixFrom(netip.AddrFrom16(a), bits)
}
