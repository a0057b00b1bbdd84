package netpol

import (
	"net/netip"
	"slices"

	"k8s.io/apimachinery/pkg/labels"
)

// AdminAllowance is one AdminNetworkPolicy or BaselineAdminNetworkPolicy
// rule, for one subject pod, in terms a packet filter matches: far-end
// address prefixes and port ranges, selectors and named ports resolved
// against the cluster. A rule matches where both its peers and its ports
// do.
type AdminAllowance struct {
	Rule   AdminRuleRef
	Action string
	// AnyPeer: every address (a peer that fails closed).
	AnyPeer bool
	Peers   []netip.Prefix
	// AnyPort: every port of every protocol, and protocols without ports
	// (the rule has no ports).
	AnyPort bool
	Ports   []PortRange
}

// AdminAllowances lists, for pod p and direction dir, the rules of the
// AdminNetworkPolicies selecting p in precedence order (the first that
// matches a packet decides; a rule may become several allowances, all
// with its action), and those of the BaselineAdminNetworkPolicy if it
// selects p. A data plane that gives the first matching admin allowance
// its action (Pass and no match: on to NetworkPolicy), then, for a pod no
// NetworkPolicy isolates, the first matching baseline allowance, enforces
// what Evaluate decides.
func (e *Engine) AdminAllowances(p *Pod, dir Direction) (admin, baseline []AdminAllowance) {
	t := e.admin
	for _, pol := range t.selecting[p] {
		for _, r := range pol.rules[dir] {
			admin = append(admin, e.adminAllowances(p, r)...)
		}
	}
	if t.baseline != nil && t.baseSel[p] {
		for _, r := range t.baseline.rules[dir] {
			baseline = append(baseline, e.adminAllowances(p, r)...)
		}
	}
	return admin, baseline
}

func (e *Engine) adminAllowances(subject *Pod, r *adminRule) []AdminAllowance {
	base := AdminAllowance{Rule: r.ref(), Action: r.action}
	anyPeer, peers := e.adminPeerPrefixes(r)
	if !anyPeer && len(peers) == 0 {
		return nil
	}
	if r.allPorts {
		a := base
		a.AnyPeer, a.Peers, a.AnyPort = anyPeer, peers, true
		return []AdminAllowance{a}
	}
	var numbered, named []PortRange
	for _, m := range r.ports {
		if m.name == "" {
			numbered = append(numbered, PortRange{Protocol: m.protocol, Lo: m.lo, Hi: m.hi})
		}
	}
	if r.dir == Ingress {
		// The subject receives: names resolve on it.
		named = resolveAdminNames(r, subject.Ports)
	}
	var out []AdminAllowance
	if ports := append(numbered, named...); len(ports) > 0 {
		a := base
		a.AnyPeer, a.Peers, a.Ports = anyPeer, peers, ports
		out = append(out, a)
	}
	if r.dir == Egress {
		// Each destination pod resolves names its own way.
		for _, dst := range e.Cluster.Pods {
			if !dst.IP.IsValid() {
				continue
			}
			ports := resolveAdminNames(r, dst.Ports)
			if len(ports) == 0 || !e.admin.peerMatches(e, r, PodEndpoint(dst)) {
				continue
			}
			a := base
			a.Peers, a.Ports = []netip.Prefix{netip.PrefixFrom(dst.IP, dst.IP.BitLen())}, ports
			out = append(out, a)
		}
	}
	return out
}

// resolveAdminNames: a namedPort is every declared port of that name,
// whatever its protocol.
func resolveAdminNames(r *adminRule, declared []ContainerPort) []PortRange {
	var out []PortRange
	for _, m := range r.ports {
		if m.name == "" {
			continue
		}
		for _, cp := range declared {
			if cp.Name == m.name {
				pr := PortRange{Protocol: cp.Protocol, Lo: cp.Port, Hi: cp.Port}
				if !slices.Contains(out, pr) {
					out = append(out, pr)
				}
			}
		}
	}
	return out
}

// adminPeerPrefixes: the addresses a rule's peers match. They do not
// depend on the subject, so each rule's are worked out once per Engine.
func (e *Engine) adminPeerPrefixes(r *adminRule) (bool, []netip.Prefix) {
	if c, ok := e.admin.prefixes[r]; ok {
		return c.any, c.prefixes
	}
	any, out := e.adminPeerPrefixesUncached(r)
	e.admin.prefixes[r] = peerPrefixes{any, out}
	return any, out
}

type peerPrefixes struct {
	any      bool
	prefixes []netip.Prefix
}

func (e *Engine) adminPeerPrefixesUncached(r *adminRule) (any bool, out []netip.Prefix) {
	host := func(ip netip.Addr) netip.Prefix { return netip.PrefixFrom(ip, ip.BitLen()) }
	for _, pe := range r.peers {
		switch pe.kind {
		case peerEverything:
			return true, nil
		case peerNothing:
		case peerNetworks:
			out = append(out, pe.networks...)
		case peerNodes:
			for node, ips := range e.admin.nodeIPs {
				if pe.nodes.Matches(labels.Set(e.admin.nodeLbl[node])) {
					for _, ip := range ips {
						out = append(out, host(ip))
					}
				}
			}
		default:
			for _, p := range e.Cluster.Pods {
				if p.IP.IsValid() && e.admin.peerMatchesOne(e, pe, PodEndpoint(p)) {
					out = append(out, host(p.IP))
				}
			}
		}
	}
	return false, out
}
