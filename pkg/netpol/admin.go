package netpol

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	policyv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/source"
)

// The admin tiers of policy.networking.k8s.io/v1alpha1, around
// NetworkPolicy, for each direction of a connection:
//
//  1. AdminNetworkPolicies selecting the pod, by priority (lower first;
//     equal priorities by name, where upstream leaves the order undefined),
//     each one's rules in written order: the first rule whose peers and
//     ports match decides. Allow and Deny are final; Pass skips every
//     remaining ANP rule and goes on to 2.
//  2. NetworkPolicy, as ever, if some policy isolates the pod for this
//     direction: it decides, the baseline is not consulted.
//  3. The BaselineAdminNetworkPolicy, if it selects the pod: its rules in
//     order, the first match decides.
//  4. Allowed.
//
// What the model always allows stays allowed above every tier: a pod
// reaching itself and traffic from the pod's own node into it (engine.go).

// Admin actions, as the API spells them.
const (
	ActionAllow = "Allow"
	ActionDeny  = "Deny"
	ActionPass  = "Pass"
)

// Reasons the admin tiers give.
const (
	// AdminAllows, AdminDenies: an AdminNetworkPolicy rule decided.
	AdminAllows Reason = "admin-allows"
	AdminDenies Reason = "admin-denies"
	// BaselineAllows, BaselineDenies: no NetworkPolicy isolates the pod and
	// a BaselineAdminNetworkPolicy rule decided.
	BaselineAllows Reason = "baseline-allows"
	BaselineDenies Reason = "baseline-denies"
)

// AdminRuleRef names one rule of an AdminNetworkPolicy or of the
// BaselineAdminNetworkPolicy.
type AdminRuleRef struct {
	Baseline  bool
	Policy    string // the object's name
	Priority  int32  // ANP only
	Direction Direction
	Index     int
	Name      string // the rule's name, may be empty
	Action    string
}

// Kind is the object's kind.
func (r AdminRuleRef) Kind() source.Kind {
	if r.Baseline {
		return source.BaselineAdminNetworkPolicy
	}
	return source.AdminNetworkPolicy
}

// PolicyString is "AdminNetworkPolicy NAME (priority N)" or
// "BaselineAdminNetworkPolicy NAME".
func (r AdminRuleRef) PolicyString() string {
	if r.Baseline {
		return "BaselineAdminNetworkPolicy " + r.Policy
	}
	return fmt.Sprintf("AdminNetworkPolicy %s (priority %d)", r.Policy, r.Priority)
}

func (r AdminRuleRef) String() string {
	name := ""
	if r.Name != "" {
		name = fmt.Sprintf(" %q", r.Name)
	}
	return fmt.Sprintf("%s rule #%d%s (%s) of %s", lowerDir(r.Direction), r.Index+1, name, r.Action, r.PolicyString())
}

// AdminTrace is what the admin tiers did for one direction.
type AdminTrace struct {
	// Selecting: the AdminNetworkPolicies selecting the pod, in the order
	// they were consulted.
	Selecting []string
	// Passed: the ANP rule whose Pass handed the decision to NetworkPolicy.
	Passed *AdminRuleRef
	// Decided: the ANP or BANP rule that allowed or denied.
	Decided *AdminRuleRef
	// Baseline: the BANP selects the pod and was consulted (no
	// NetworkPolicy isolates it for this direction).
	Baseline bool
}

// adminTiers is the compiled admin layer of one Engine.
type adminTiers struct {
	anps     []*adminPolicy // precedence order
	baseline *adminPolicy   // nil without a BANP
	// blocks are the networks CIDRs, for the pod classes.
	blocks []*ipBlock
	// selecting caches, per pod, the ANPs selecting it and whether the
	// BANP does.
	selecting map[*Pod][]*adminPolicy
	baseSel   map[*Pod]bool
	nodeIPs   map[string][]netip.Addr
	nodeLbl   map[string]map[string]string
	// prefixes caches each rule's peer addresses (admin_allowances.go).
	prefixes map[*adminRule]peerPrefixes
}

type adminPolicy struct {
	name     string
	baseline bool
	priority int32
	// The subject: pods matching pods in namespaces matching namespaces.
	namespaces, pods labels.Selector
	rules            map[Direction][]*adminRule
}

type adminRule struct {
	policy *adminPolicy
	dir    Direction
	index  int
	name   string
	action string
	peers  []*adminPeer
	// allPorts: no ports field, every port of every protocol.
	allPorts bool
	ports    []adminPort
}

type adminPeerKind int

const (
	peerPods adminPeerKind = iota
	peerNodes
	peerNetworks
	// peerNothing matches nothing (domainNames: podnet resolves no names).
	peerNothing
	// peerEverything is an empty peer (a field a newer API added): it fails
	// closed, matching everything in Deny and Pass rules; in Allow rules it
	// is peerNothing.
	peerEverything
)

type adminPeer struct {
	kind adminPeerKind
	// peerPods: pods matching pods (nil = all) in namespaces matching
	// namespaces.
	namespaces, pods labels.Selector
	nodes            labels.Selector
	networks         []netip.Prefix
}

// adminPort is a portNumber or portRange (lo..hi of protocol), or a
// namedPort (name, of any protocol), resolved on the destination pod.
type adminPort struct {
	protocol corev1.Protocol
	lo, hi   int32
	name     string
}

// addAdmin keeps the admin-tier objects and node labels; true when o was
// one of the admin kinds.
func (c *Cluster) addAdmin(o source.Object) bool {
	switch o := o.(type) {
	case *policyv1alpha1.AdminNetworkPolicy:
		a := o.DeepCopy()
		manifest.Default(a)
		c.AdminPolicies = slices.DeleteFunc(c.AdminPolicies, func(x *policyv1alpha1.AdminNetworkPolicy) bool { return x.Name == a.Name })
		c.AdminPolicies = append(c.AdminPolicies, a)
		return true
	case *policyv1alpha1.BaselineAdminNetworkPolicy:
		b := o.DeepCopy()
		manifest.Default(b)
		c.Baseline = b
		return true
	case *corev1.Node:
		if c.NodeLabels == nil {
			c.NodeLabels = map[string]map[string]string{}
		}
		c.NodeLabels[o.Name] = o.Labels
	}
	return false
}

// finishAdmin puts the ANPs in precedence order: priority, then name.
func (c *Cluster) finishAdmin() {
	slices.SortFunc(c.AdminPolicies, func(a, b *policyv1alpha1.AdminNetworkPolicy) int {
		return cmp.Or(cmp.Compare(a.Spec.Priority, b.Spec.Priority), cmp.Compare(a.Name, b.Name))
	})
}

// compileAdmin turns the cluster's ANPs and BANP into matchers. An object
// that cannot be compiled is an error naming it and its field, and is left
// out.
func compileAdmin(c *Cluster) (*adminTiers, []error) {
	t := &adminTiers{selecting: map[*Pod][]*adminPolicy{}, baseSel: map[*Pod]bool{}, nodeIPs: c.Nodes, nodeLbl: c.NodeLabels,
		prefixes: map[*adminRule]peerPrefixes{}}
	var errs []error
	for _, o := range c.AdminPolicies {
		p, err := t.compileANP(o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.anps = append(t.anps, p)
	}
	if c.Baseline != nil {
		p, err := t.compileBANP(c.Baseline)
		if err != nil {
			errs = append(errs, err)
		} else {
			t.baseline = p
		}
	}
	for _, pod := range c.Pods {
		nsLabels := c.Namespaces[pod.Namespace]
		for _, p := range t.anps {
			if p.selects(pod, nsLabels) {
				t.selecting[pod] = append(t.selecting[pod], p)
			}
		}
		if t.baseline != nil && t.baseline.selects(pod, nsLabels) {
			t.baseSel[pod] = true
		}
	}
	return t, errs
}

func (p *adminPolicy) selects(pod *Pod, nsLabels map[string]string) bool {
	return p.namespaces.Matches(labels.Set(nsLabels)) && (p.pods == nil || p.pods.Matches(labels.Set(pod.Labels)))
}

func (t *adminTiers) compileANP(o *policyv1alpha1.AdminNetworkPolicy) (*adminPolicy, error) {
	at := "adminnetworkpolicy " + o.Name
	p := &adminPolicy{name: o.Name, priority: o.Spec.Priority, rules: map[Direction][]*adminRule{}}
	if err := p.compileSubject(&o.Spec.Subject, at); err != nil {
		return nil, err
	}
	for i, r := range o.Spec.Ingress {
		peers := make([]policyv1alpha1.AdminNetworkPolicyEgressPeer, len(r.From))
		for j, f := range r.From {
			peers[j] = policyv1alpha1.AdminNetworkPolicyEgressPeer{Namespaces: f.Namespaces, Pods: f.Pods}
		}
		if err := t.addRule(p, Ingress, i, r.Name, string(r.Action), peers, r.Ports, at); err != nil {
			return nil, err
		}
	}
	for i, r := range o.Spec.Egress {
		if err := t.addRule(p, Egress, i, r.Name, string(r.Action), r.To, r.Ports, at); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (t *adminTiers) compileBANP(o *policyv1alpha1.BaselineAdminNetworkPolicy) (*adminPolicy, error) {
	at := "baselineadminnetworkpolicy " + o.Name
	p := &adminPolicy{name: o.Name, baseline: true, rules: map[Direction][]*adminRule{}}
	if err := p.compileSubject(&o.Spec.Subject, at); err != nil {
		return nil, err
	}
	for i, r := range o.Spec.Ingress {
		peers := make([]policyv1alpha1.AdminNetworkPolicyEgressPeer, len(r.From))
		for j, f := range r.From {
			peers[j] = policyv1alpha1.AdminNetworkPolicyEgressPeer{Namespaces: f.Namespaces, Pods: f.Pods}
		}
		if err := t.addRule(p, Ingress, i, r.Name, string(r.Action), peers, r.Ports, at); err != nil {
			return nil, err
		}
	}
	for i, r := range o.Spec.Egress {
		peers := make([]policyv1alpha1.AdminNetworkPolicyEgressPeer, len(r.To))
		for j, f := range r.To {
			peers[j] = policyv1alpha1.AdminNetworkPolicyEgressPeer{Namespaces: f.Namespaces, Pods: f.Pods, Nodes: f.Nodes, Networks: f.Networks}
		}
		if err := t.addRule(p, Egress, i, r.Name, string(r.Action), peers, r.Ports, at); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func selector(s *metav1.LabelSelector, at string) (labels.Selector, error) {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	return sel, nil
}

func (p *adminPolicy) compileSubject(s *policyv1alpha1.AdminNetworkPolicySubject, at string) error {
	var err error
	switch {
	case s.Namespaces != nil && s.Pods == nil:
		p.namespaces, err = selector(s.Namespaces, at+": spec.subject.namespaces")
	case s.Pods != nil && s.Namespaces == nil:
		if p.namespaces, err = selector(&s.Pods.NamespaceSelector, at+": spec.subject.pods.namespaceSelector"); err == nil {
			p.pods, err = selector(&s.Pods.PodSelector, at+": spec.subject.pods.podSelector")
		}
	default:
		// Selecting everything or nothing would both be guesses.
		return fmt.Errorf("%s: spec.subject: must set exactly one of namespaces and pods", at)
	}
	return err
}

func (t *adminTiers) addRule(p *adminPolicy, dir Direction, index int, name, action string,
	peers []policyv1alpha1.AdminNetworkPolicyEgressPeer, ports *[]policyv1alpha1.AdminNetworkPolicyPort, at string) error {
	peerField := "from"
	if dir == Egress {
		peerField = "to"
	}
	field := fmt.Sprintf("%s: spec.%s[%d]", at, lowerDir(dir), index)
	switch action {
	case ActionAllow, ActionDeny:
	case ActionPass:
		if p.baseline {
			return fmt.Errorf("%s.action: a baseline rule cannot Pass", field)
		}
	default:
		return fmt.Errorf("%s.action: unsupported action %q", field, action)
	}
	r := &adminRule{policy: p, dir: dir, index: index, name: name, action: action, allPorts: ports == nil}
	for j, pe := range peers {
		pat := fmt.Sprintf("%s.%s[%d]", field, peerField, j)
		cp := &adminPeer{}
		var err error
		switch {
		case pe.Namespaces != nil:
			cp.namespaces, err = selector(pe.Namespaces, pat+".namespaces")
		case pe.Pods != nil:
			if cp.namespaces, err = selector(&pe.Pods.NamespaceSelector, pat+".pods.namespaceSelector"); err == nil {
				cp.pods, err = selector(&pe.Pods.PodSelector, pat+".pods.podSelector")
			}
		case pe.Nodes != nil:
			cp.kind = peerNodes
			cp.nodes, err = selector(pe.Nodes, pat+".nodes")
		case len(pe.Networks) > 0:
			cp.kind = peerNetworks
			for k, n := range pe.Networks {
				pfx, perr := netip.ParsePrefix(string(n))
				if perr != nil {
					return fmt.Errorf("%s.networks[%d]: %w", pat, k, perr)
				}
				cp.networks = append(cp.networks, pfx.Masked())
				t.blocks = append(t.blocks, &ipBlock{cidr: pfx.Masked()})
			}
		case len(pe.DomainNames) > 0:
			cp.kind = peerNothing
		default:
			cp.kind = peerEverything
			if action == ActionAllow {
				cp.kind = peerNothing
			}
		}
		if err != nil {
			return err
		}
		r.peers = append(r.peers, cp)
	}
	if ports != nil {
		for _, pp := range *ports {
			switch {
			case pp.PortNumber != nil:
				r.ports = append(r.ports, adminPort{protocol: protoOrTCP(pp.PortNumber.Protocol), lo: pp.PortNumber.Port, hi: pp.PortNumber.Port})
			case pp.PortRange != nil:
				r.ports = append(r.ports, adminPort{protocol: protoOrTCP(pp.PortRange.Protocol), lo: pp.PortRange.Start, hi: pp.PortRange.End})
			case pp.NamedPort != nil:
				r.ports = append(r.ports, adminPort{name: *pp.NamedPort})
			}
			// A port item with no known field matches nothing: for Allow
			// that is closed; for Deny/Pass the peers still narrow it.
		}
	}
	p.rules[dir] = append(p.rules[dir], r)
	return nil
}

func protoOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func (r *adminRule) ref() AdminRuleRef {
	return AdminRuleRef{Baseline: r.policy.baseline, Policy: r.policy.name, Priority: r.policy.priority,
		Direction: r.dir, Index: r.index, Name: r.name, Action: r.action}
}

// matches: peer is the far end, dst the connection's destination (whose
// declared ports resolve named ports).
func (t *adminTiers) matches(e *Engine, r *adminRule, peer, dst Endpoint, port int32, proto corev1.Protocol) bool {
	return r.portMatches(dst, port, proto) && t.peerMatches(e, r, peer)
}

func (r *adminRule) portMatches(dst Endpoint, port int32, proto corev1.Protocol) bool {
	if r.allPorts {
		return true
	}
	for _, m := range r.ports {
		if m.name != "" {
			if dst.Pod != nil && slices.ContainsFunc(dst.Pod.Ports, func(cp ContainerPort) bool {
				return cp.Name == m.name && cp.Port == port && cp.Protocol == proto
			}) {
				return true
			}
			continue
		}
		if m.protocol == proto && port >= m.lo && port <= m.hi {
			return true
		}
	}
	return false
}

func (t *adminTiers) peerMatches(e *Engine, r *adminRule, ep Endpoint) bool {
	for _, pe := range r.peers {
		if t.peerMatchesOne(e, pe, ep) {
			return true
		}
	}
	return false
}

func (t *adminTiers) peerMatchesOne(e *Engine, pe *adminPeer, ep Endpoint) bool {
	switch pe.kind {
	case peerEverything:
		return true
	case peerNothing:
		return false
	case peerNetworks:
		return ep.IP.IsValid() && slices.ContainsFunc(pe.networks, func(p netip.Prefix) bool { return p.Contains(ep.IP) })
	case peerNodes:
		if ep.Pod != nil || !ep.IP.IsValid() {
			return false
		}
		for node, ips := range t.nodeIPs {
			if slices.Contains(ips, ep.IP) && pe.nodes.Matches(labels.Set(t.nodeLbl[node])) {
				return true
			}
		}
		return false
	}
	if ep.Pod == nil {
		return false // namespaces and pods peers pick pods only
	}
	return pe.namespaces.Matches(labels.Set(e.Cluster.Namespaces[ep.Pod.Namespace])) &&
		(pe.pods == nil || pe.pods.Matches(labels.Set(ep.Pod.Labels)))
}

// adminTier runs the AdminNetworkPolicies selecting subject. done: an
// Allow or Deny rule decided. Otherwise d is the not-isolated decision the
// NetworkPolicy tier starts from, carrying the trace (a Pass, which ANPs
// were looked at).
func (e *Engine) adminTier(dir Direction, subject *Pod, other, dst Endpoint, port int32, proto corev1.Protocol) (d Decision, done bool) {
	d = Decision{Reason: NotIsolated, Allowed: true}
	t := e.admin
	anps := t.selecting[subject]
	if len(anps) == 0 && !t.baseSel[subject] {
		return d, false
	}
	tr := &AdminTrace{}
	d.Admin = tr
	for _, p := range anps {
		tr.Selecting = append(tr.Selecting, p.name)
	}
	for _, p := range anps {
		for _, r := range p.rules[dir] {
			if !t.matches(e, r, other, dst, port, proto) {
				continue
			}
			ref := r.ref()
			switch r.action {
			case ActionPass:
				tr.Passed = &ref
				return d, false
			case ActionAllow:
				tr.Decided = &ref
				d.Reason = AdminAllows
				return d, true
			default:
				tr.Decided = &ref
				d.Allowed, d.Reason = false, AdminDenies
				return d, true
			}
		}
	}
	return d, false
}

// baselineTier runs the BANP for a pod no NetworkPolicy isolates in dir; d
// is the not-isolated decision so far.
func (e *Engine) baselineTier(dir Direction, subject *Pod, other, dst Endpoint, port int32, proto corev1.Protocol, d Decision) Decision {
	t := e.admin
	if t.baseline == nil || !t.baseSel[subject] {
		return d
	}
	d.Admin.Baseline = true
	for _, r := range t.baseline.rules[dir] {
		if !t.matches(e, r, other, dst, port, proto) {
			continue
		}
		ref := r.ref()
		d.Admin.Decided = &ref
		if r.action == ActionAllow {
			d.Reason = BaselineAllows
		} else {
			d.Allowed, d.Reason = false, BaselineDenies
		}
		return d
	}
	return d
}
