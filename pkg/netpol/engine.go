package netpol

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Engine answers "is this connection allowed" for one Cluster. Pods that
// selectors cannot tell apart (same namespace, labels and declared ports)
// share a class: the policies selecting them and per-peer selector matches
// are worked out once per class.
type Engine struct {
	Cluster  *Cluster
	policies []*policy
	byNS     map[string][]*policy
	selPeers int

	classOf map[*Pod]*class
	classes []*class
	sets    *sets // the matrix's per-peer and per-subject pod sets, built on first use

	// admin holds the AdminNetworkPolicy and BaselineAdminNetworkPolicy
	// tiers (admin.go).
	admin *adminTiers
}

type class struct {
	id      int
	rep     *Pod
	members []*Pod
	nsLabel map[string]string
	// selecting holds the policies whose podSelector picks this class.
	selecting []*policy
	// peerHit caches selector peer matches: 0 unknown, 1 yes, 2 no.
	peerHit []uint8
}

// New compiles the cluster's policies. A policy that cannot be compiled
// (an invalid selector or CIDR) is an error naming it and its field; the
// caller decides whether to go on without it.
func New(c *Cluster) (*Engine, error) { return (*Cache)(nil).New(c) }

// New is the package's New, reusing policies compiled by earlier calls.
func (k *Cache) New(c *Cluster) (*Engine, error) {
	e := &Engine{Cluster: c, byNS: map[string][]*policy{}, classOf: map[*Pod]*class{}}
	var errs []error
	var compiled map[*networkingv1.NetworkPolicy]*policy
	if k != nil {
		compiled = map[*networkingv1.NetworkPolicy]*policy{}
	}
	for _, np := range c.Policies {
		p, ok := k.compiledPolicy(np)
		if !ok {
			var err error
			if p, err = compilePolicy(np); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if compiled != nil {
			compiled[np] = p
		}
		e.policies = append(e.policies, p)
		e.byNS[np.Namespace] = append(e.byNS[np.Namespace], p)
		for _, dir := range []Direction{Ingress, Egress} {
			for _, r := range p.rules[dir] {
				for _, pe := range r.peers {
					if pe.block == nil {
						pe.id = e.selPeers
						e.selPeers++
					}
				}
			}
		}
	}
	if k != nil {
		k.compiled = compiled
	}
	// The admin tiers are few and recompiled with every model; they match
	// peers by their own IPs, so they do not split pod classes.
	var adminErrs []error
	e.admin, adminErrs = compileAdmin(c)
	errs = append(errs, adminErrs...)
	e.buildClasses()
	return e, errors.Join(errs...)
}

func (k *Cache) compiledPolicy(np *networkingv1.NetworkPolicy) (*policy, bool) {
	if k == nil {
		return nil, false
	}
	p, ok := k.compiled[np]
	return p, ok
}

// classKey holds everything selectors and named ports can observe of a
// pod. Addresses are not part of it: ipBlocks are matched on each pod's
// own IP.
func classKey(p *Pod) string {
	if p.class != "" {
		return p.class
	}
	var b strings.Builder
	b.WriteString(p.Namespace)
	b.WriteByte(0)
	keys := make([]string, 0, len(p.Labels))
	for k := range p.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(k + "=" + p.Labels[k] + "\x00")
	}
	b.WriteByte(1)
	for _, cp := range p.Ports {
		fmt.Fprintf(&b, "%s/%d/%s,", cp.Name, cp.Port, cp.Protocol)
	}
	p.class = b.String()
	return p.class
}

func (e *Engine) buildClasses() {
	byKey := map[string]*class{}
	for _, p := range e.Cluster.Pods {
		k := classKey(p)
		c := byKey[k]
		if c == nil {
			c = &class{id: len(e.classes), rep: p, nsLabel: e.Cluster.Namespaces[p.Namespace], peerHit: make([]uint8, e.selPeers)}
			for _, pol := range e.byNS[p.Namespace] {
				if pol.subject.Matches(labels.Set(p.Labels)) {
					c.selecting = append(c.selecting, pol)
				}
			}
			byKey[k] = c
			e.classes = append(e.classes, c)
		}
		c.members = append(c.members, p)
		e.classOf[p] = c
	}
}

// Endpoint is one end of a connection: a pod of the cluster, or an address
// that is not a pod (a node, something outside the cluster).
type Endpoint struct {
	Pod *Pod
	IP  netip.Addr
}

// PodEndpoint and IPEndpoint make Endpoints.
func PodEndpoint(p *Pod) Endpoint       { return Endpoint{Pod: p, IP: p.IP} }
func IPEndpoint(ip netip.Addr) Endpoint { return Endpoint{IP: ip} }

func (ep Endpoint) String() string {
	if ep.Pod != nil {
		return ep.Pod.Key()
	}
	return ep.IP.String()
}

// Reason says why one direction decided as it did.
type Reason string

const (
	// NotAPod: the source (egress) or destination (ingress) is not a pod,
	// so no policy of that direction applies.
	NotAPod Reason = "not-a-pod"
	// NotIsolated: no policy selects the pod for this direction.
	NotIsolated Reason = "not-isolated"
	// RuleAllows: the pod is isolated and at least one rule allows it.
	RuleAllows Reason = "rule-allows"
	// NoRuleAllows: the pod is isolated and no rule allows it.
	NoRuleAllows Reason = "no-rule-allows"
	// SamePod: a pod can always reach itself.
	SamePod Reason = "same-pod"
	// FromOwnNode: traffic from the destination pod's own node is always
	// allowed in (kubelet probes).
	FromOwnNode Reason = "from-own-node"
)

// RuleRef names one rule of one policy.
type RuleRef struct {
	Policy    string
	Direction Direction
	Index     int
}

func (r RuleRef) String() string {
	return fmt.Sprintf("%s rule #%d of %s", lowerDir(r.Direction), r.Index+1, r.Policy)
}

// Decision is one direction's answer.
type Decision struct {
	Allowed bool
	Reason  Reason
	// Policies isolate the pod in this direction (all of them, in order).
	Policies []string
	// Rules allow the connection (all of them when explaining, else the first).
	Rules []RuleRef
	// Admin is what the AdminNetworkPolicy and BaselineAdminNetworkPolicy
	// tiers did (nil when none selects the pod).
	Admin *AdminTrace
}

// Verdict is the answer for one connection: it is allowed when the source's
// egress and the destination's ingress both allow it.
type Verdict struct {
	From, To Endpoint
	Port     int32
	Protocol corev1.Protocol
	Allowed  bool
	Egress   Decision
	Ingress  Decision
}

// Evaluate decides one connection and says why, naming every policy and
// rule involved.
func (e *Engine) Evaluate(from, to Endpoint, port int32, proto corev1.Protocol) Verdict {
	return e.evaluate(from, to, port, proto, true)
}

// Allowed decides one connection, stopping at the first allowing rule.
func (e *Engine) Allowed(from, to Endpoint, port int32, proto corev1.Protocol) bool {
	return e.evaluate(from, to, port, proto, false).Allowed
}

func (e *Engine) evaluate(from, to Endpoint, port int32, proto corev1.Protocol, all bool) Verdict {
	v := Verdict{From: from, To: to, Port: port, Protocol: proto}
	if from.Pod != nil && from.Pod == to.Pod {
		v.Egress = Decision{Allowed: true, Reason: SamePod}
		v.Ingress = Decision{Allowed: true, Reason: SamePod}
		v.Allowed = true
		return v
	}
	v.Egress = e.decide(Egress, from, to, port, proto, all)
	v.Ingress = e.decide(Ingress, from, to, port, proto, all)
	v.Allowed = v.Egress.Allowed && v.Ingress.Allowed
	return v
}

// decide is one direction: subject is the pod whose policies apply (the
// source for egress, the destination for ingress), other the far end.
func (e *Engine) decide(dir Direction, from, to Endpoint, port int32, proto corev1.Protocol, all bool) Decision {
	subject, other := from, to
	if dir == Ingress {
		subject, other = to, from
	}
	if subject.Pod == nil {
		return Decision{Allowed: true, Reason: NotAPod}
	}
	if dir == Ingress && other.Pod == nil && slices.Contains(e.Cluster.Nodes[subject.Pod.Node], other.IP) {
		return Decision{Allowed: true, Reason: FromOwnNode}
	}
	// The admin tier decides first; Pass or no match goes on to policies.
	d, done := e.adminTier(dir, subject.Pod, other, to, port, proto)
	if done {
		return d
	}
	sc := e.classOf[subject.Pod]
	var isolating []*policy
	for _, p := range sc.selecting {
		if p.isolates[dir] {
			isolating = append(isolating, p)
			d.Policies = append(d.Policies, p.key)
		}
	}
	if len(isolating) == 0 {
		return e.baselineTier(dir, subject.Pod, other, to, port, proto, d)
	}
	d.Allowed, d.Reason = false, NoRuleAllows
	// The receiving end resolves named ports.
	dst := to
	for _, p := range isolating {
		for _, r := range p.rules[dir] {
			if e.ruleMatches(r, other, dst, port, proto) {
				d.Allowed, d.Reason = true, RuleAllows
				d.Rules = append(d.Rules, RuleRef{Policy: p.key, Direction: dir, Index: r.index})
				if !all {
					return d
				}
			}
		}
	}
	return d
}

// ruleMatches: peer is the far end (source for ingress, destination for
// egress); dst is the connection's destination, whose ports resolve names.
func (e *Engine) ruleMatches(r *rule, peer, dst Endpoint, port int32, proto corev1.Protocol) bool {
	return e.portMatches(r, dst, port, proto) && e.peerMatches(r, peer)
}

func (e *Engine) portMatches(r *rule, dst Endpoint, port int32, proto corev1.Protocol) bool {
	if r.allPorts {
		return true
	}
	var declared []ContainerPort
	if dst.Pod != nil {
		declared = dst.Pod.Ports
	}
	for _, m := range r.ports {
		if m.protocol != proto {
			continue
		}
		if lo, hi, ok := m.resolve(declared, dst.Pod != nil); ok && port >= lo && port <= hi {
			return true
		}
	}
	return false
}

func (e *Engine) peerMatches(r *rule, ep Endpoint) bool {
	if r.allPeers {
		return true
	}
	for _, pe := range r.peers {
		if e.peerMatchesOne(pe, ep) {
			return true
		}
	}
	return false
}

func (e *Engine) peerMatchesOne(pe *peer, ep Endpoint) bool {
	if pe.block != nil {
		return pe.block.contains(ep.IP)
	}
	if ep.Pod == nil {
		return false // selectors pick pods only, never nodes or outside addresses
	}
	c := e.classOf[ep.Pod]
	switch c.peerHit[pe.id] {
	case 1:
		return true
	case 2:
		return false
	}
	hit := pe.matchesPod(c.rep, c.nsLabel)
	c.peerHit[pe.id] = 2
	if hit {
		c.peerHit[pe.id] = 1
	}
	return hit
}
