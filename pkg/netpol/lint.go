package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Finding is one pitfall lint found, naming the policy and the field.
type Finding struct {
	Policy  string `json:"policy"`
	Field   string `json:"field"`
	Check   string `json:"check"`
	Message string `json:"message"`
}

// Lint checks, in order: namespace selectors no namespace matches (the
// `name: kube-system` trap), policies selecting no pod, rules left inert by
// policyTypes, ports and named ports no pod declares, egress isolation that
// cuts pods off cluster DNS, and rules another rule shadows.
func (e *Engine) Lint() []Finding {
	var out []Finding
	for _, p := range e.policies {
		out = append(out, e.lintPolicy(p)...)
	}
	out = append(out, e.lintDNS()...)
	out = append(out, e.lintAdmin()...)
	return out
}

func (e *Engine) selected(p *policy) []*Pod {
	var out []*Pod
	for _, c := range e.classes {
		if slices.Contains(c.selecting, p) {
			out = append(out, c.members...)
		}
	}
	return out
}

func (e *Engine) lintPolicy(p *policy) []Finding {
	var out []Finding
	add := func(field, check, format string, a ...any) {
		out = append(out, Finding{Policy: p.key, Field: field, Check: check, Message: fmt.Sprintf(format, a...)})
	}
	subjects := e.selected(p)
	if len(subjects) == 0 {
		add("spec.podSelector", "selects-no-pod", "selects no pod in namespace %s (%s)", p.np.Namespace, selectorText(&p.np.Spec.PodSelector))
	}
	for _, dir := range []Direction{Ingress, Egress} {
		if len(p.rules[dir]) > 0 && !p.isolates[dir] {
			add("spec.policyTypes", "inert-rules", "has %s rules but policyTypes %v leaves out %s, so they have no effect", lowerDir(dir), p.np.Spec.PolicyTypes, dir)
		}
	}
	for _, dir := range []Direction{Ingress, Egress} {
		peerField := map[Direction]string{Ingress: "from", Egress: "to"}[dir]
		for _, r := range p.rules[dir] {
			at := fmt.Sprintf("spec.%s[%d]", lowerDir(dir), r.index)
			for _, pe := range r.peers {
				f := fmt.Sprintf("%s.%s[%d].namespaceSelector", at, peerField, pe.index)
				if pe.namespaces != nil && len(e.matchingNamespaces(pe.namespaces)) == 0 {
					sel := namespaceSelector(p, dir, r.index, pe.index)
					hint := ""
					if v, ok := sel.MatchLabels["name"]; ok {
						hint = fmt.Sprintf("; namespaces are labelled kubernetes.io/metadata.name=%s, not name=%s", v, v)
					}
					add(f, "namespace-selector-matches-nothing", "namespaceSelector %s matches no namespace%s", selectorText(sel), hint)
				}
			}
			dsts := subjects
			if dir == Egress {
				dsts = e.Cluster.Pods
			}
			for j, m := range r.ports {
				f := fmt.Sprintf("%s.ports[%d]", at, j)
				if m.name != "" {
					if !anyDeclares(dsts, func(cp ContainerPort) bool { return cp.Name == m.name && cp.Protocol == m.protocol }) {
						whose := "no pod this policy selects"
						if dir == Egress {
							whose = "no pod"
						}
						add(f, "named-port-undefined", "named port %q (%s) is declared by %s", m.name, m.protocol, whose)
					}
					continue
				}
				if dir == Ingress && m.port != 0 && declaresAny(subjects) &&
					!anyDeclares(subjects, func(cp ContainerPort) bool {
						return cp.Protocol == m.protocol && cp.Port >= m.port && cp.Port <= m.endPort
					}) {
					add(f, "port-not-exposed", "port %s/%s is not among the ports the selected pods declare", portRange(m), m.protocol)
				}
			}
			if by := e.shadowedBy(p, r); by != nil {
				add(at, "shadowed-rule", "everything it allows is already allowed by %s", RuleRef{Policy: by.policy.key, Direction: dir, Index: by.index})
			}
		}
	}
	return out
}

// namespaceSelector is the selector as written, for messages.
func namespaceSelector(p *policy, dir Direction, rule, peer int) *metav1.LabelSelector {
	if dir == Ingress {
		return p.np.Spec.Ingress[rule].From[peer].NamespaceSelector
	}
	return p.np.Spec.Egress[rule].To[peer].NamespaceSelector
}

func (e *Engine) matchingNamespaces(sel labels.Selector) []string {
	var out []string
	for ns, lbl := range e.Cluster.Namespaces {
		if sel.Matches(labels.Set(lbl)) {
			out = append(out, ns)
		}
	}
	return out
}

func anyDeclares(pods []*Pod, f func(ContainerPort) bool) bool {
	for _, p := range pods {
		if slices.ContainsFunc(p.Ports, f) {
			return true
		}
	}
	return false
}

func declaresAny(pods []*Pod) bool {
	for _, p := range pods {
		if len(p.Ports) > 0 {
			return true
		}
	}
	return false
}

func portRange(m portMatch) string {
	if m.endPort != m.port {
		return fmt.Sprintf("%d-%d", m.port, m.endPort)
	}
	return fmt.Sprint(m.port)
}

func selectorText(sel *metav1.LabelSelector) string {
	if sel == nil {
		return "<none>"
	}
	s := metav1.FormatLabelSelector(sel)
	if s == "<none>" {
		return "{}"
	}
	return s
}

// shadowedBy returns another rule, of the same direction, in a policy that
// selects every pod p selects, that allows everything r allows (every peer
// pod, every address block, every port); the earlier rule wins a tie, so
// of two identical rules only the later is reported.
func (e *Engine) shadowedBy(p *policy, r *rule) *rule {
	subjects := e.selected(p)
	if len(subjects) == 0 {
		return nil
	}
	for _, q := range e.byNS[p.np.Namespace] {
		if !q.isolates[r.dir] {
			continue
		}
		if q != p && !e.selectsAll(q, subjects) {
			continue
		}
		for _, o := range q.rules[r.dir] {
			if o == r {
				continue
			}
			if e.covers(o, r, subjects) && !(e.covers(r, o, subjects) && e.before(r, o)) {
				return o
			}
		}
	}
	return nil
}

func (e *Engine) before(a, b *rule) bool {
	if a.policy != b.policy {
		return a.policy.key < b.policy.key
	}
	return a.index < b.index
}

func (e *Engine) selectsAll(q *policy, pods []*Pod) bool {
	for _, p := range pods {
		if !slices.Contains(e.classOf[p].selecting, q) {
			return false
		}
	}
	return true
}

// covers: o allows at least what r allows, for the given subject pods.
func (e *Engine) covers(o, r *rule, subjects []*Pod) bool {
	return e.peersCover(o, r) && e.portsCover(o, r, subjects)
}

func (e *Engine) peersCover(o, r *rule) bool {
	if o.allPeers {
		return true
	}
	if r.allPeers {
		return false
	}
	for _, pe := range r.peers {
		if pe.block != nil {
			if !slices.ContainsFunc(o.peers, func(q *peer) bool { return q.block != nil && blockCovers(q.block, pe.block) }) {
				return false
			}
			continue
		}
		for _, pod := range e.Cluster.Pods {
			if e.peerMatchesOne(pe, PodEndpoint(pod)) && !e.peerMatches(o, PodEndpoint(pod)) {
				return false
			}
		}
	}
	return true
}

// blockCovers: every address of b is in a.
func blockCovers(a, b *ipBlock) bool {
	if !a.cidr.Contains(b.cidr.Addr()) || a.cidr.Bits() > b.cidr.Bits() {
		return false
	}
	for _, ex := range a.except {
		if ex.Overlaps(b.cidr) && !slices.ContainsFunc(b.except, func(be netip.Prefix) bool {
			return be.Contains(ex.Addr()) && be.Bits() <= ex.Bits()
		}) {
			return false
		}
	}
	return true
}

func (e *Engine) portsCover(o, r *rule, subjects []*Pod) bool {
	if o.allPorts {
		return true
	}
	if r.allPorts {
		return false
	}
	for _, m := range r.ports {
		if !slices.ContainsFunc(o.ports, func(q portMatch) bool { return portCovers(q, m) }) {
			return false
		}
	}
	return true
}

func portCovers(q, m portMatch) bool {
	if q.protocol != m.protocol {
		return false
	}
	switch {
	case q.name != "" || m.name != "":
		return q.name == m.name || (q.name == "" && q.port == 0)
	case q.port == 0:
		return true
	case m.port == 0:
		return false
	}
	return q.port <= m.port && m.endPort <= q.endPort
}

// lintDNS finds pods isolated for egress that cannot reach any cluster DNS
// pod (kube-system, k8s-app=kube-dns) on 53/UDP. Without DNS pods in the
// input, it asks whether anything at all is reachable on 53/UDP.
func (e *Engine) lintDNS() []Finding {
	var dns []*Pod
	for _, p := range e.Cluster.Pods {
		if p.Namespace == "kube-system" && p.Labels["k8s-app"] == "kube-dns" {
			dns = append(dns, p)
		}
	}
	var out []Finding
	reported := map[string]bool{}
	// Pod by pod: a class shares its policies, but the DNS pods' ingress
	// may tell its members apart by IP.
	for _, src := range e.Cluster.Pods {
		c := e.classOf[src]
		var isolating []string
		for _, p := range c.selecting {
			if p.isolates[Egress] {
				isolating = append(isolating, p.key)
			}
		}
		if len(isolating) == 0 || slices.Contains(dns, src) {
			continue
		}
		ok := false
		if len(dns) > 0 {
			for _, d := range dns {
				if e.Allowed(PodEndpoint(src), PodEndpoint(d), 53, corev1.ProtocolUDP) {
					ok = true
					break
				}
			}
		} else {
			v := e.decide(Egress, PodEndpoint(src), IPEndpoint(netip.MustParseAddr("10.96.0.10")), 53, corev1.ProtocolUDP, false)
			ok = v.Allowed || e.anyRulePort(isolating, 53, corev1.ProtocolUDP)
		}
		key := strings.Join(isolating, ",")
		if ok || reported[key] {
			continue
		}
		reported[key] = true
		var pods []string
		for _, cc := range e.classes {
			if slices.Equal(e.egressIsolators(cc), isolating) {
				for _, m := range cc.members {
					pods = append(pods, m.Key())
				}
			}
		}
		out = append(out, Finding{Policy: strings.Join(isolating, ", "), Field: "spec.egress", Check: "egress-without-dns",
			Message: fmt.Sprintf("isolates %s for egress without allowing DNS (53/UDP to kube-system pods k8s-app=kube-dns): name lookups will fail", strings.Join(pods, ", "))})
	}
	return out
}

func (e *Engine) egressIsolators(c *class) []string {
	var out []string
	for _, p := range c.selecting {
		if p.isolates[Egress] {
			out = append(out, p.key)
		}
	}
	return out
}

// anyRulePort: some egress rule of the policies opens port/proto to some
// peer (used when the input has no DNS pods to test against).
func (e *Engine) anyRulePort(keys []string, port int32, proto corev1.Protocol) bool {
	for _, k := range keys {
		for _, r := range e.policy(k).rules[Egress] {
			if r.allPorts || slices.ContainsFunc(r.ports, func(m portMatch) bool {
				return m.protocol == proto && m.name == "" && (m.port == 0 || (port >= m.port && port <= m.endPort))
			}) {
				return true
			}
		}
	}
	return false
}
