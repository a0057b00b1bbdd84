package netpol

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	policyv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
)

// lintAdmin checks the admin tiers: subjects selecting no pod, namespace
// selectors no namespace matches, ANPs of equal priority over the same
// pods (upstream leaves their order undefined), and domainNames peers,
// which podnet does not resolve.
func (e *Engine) lintAdmin() []Finding {
	var out []Finding
	t := e.admin
	objs := map[string]any{}
	for _, o := range e.Cluster.AdminPolicies {
		objs[o.Name] = o
	}
	all := slices.Clone(t.anps)
	if t.baseline != nil {
		all = append(all, t.baseline)
	}
	for _, p := range all {
		key := "AdminNetworkPolicy/" + p.name
		if p.baseline {
			key = "BaselineAdminNetworkPolicy/" + p.name
		}
		add := func(field, check, format string, a ...any) {
			out = append(out, Finding{Policy: key, Field: field, Check: check, Message: fmt.Sprintf(format, a...)})
		}
		subjects := t.subjects(p)
		if len(subjects) == 0 {
			add("spec.subject", "selects-no-pod", "subject selects no pod")
		}
		if !p.baseline {
			for _, q := range t.anps {
				if q == p || q.priority != p.priority || q.name > p.name || !shareDirection(p, q) {
					continue
				}
				if shared := sharedPods(subjects, t.subjects(q)); len(shared) > 0 {
					add("spec.priority", "same-priority",
						"has the same priority (%d) as AdminNetworkPolicy %s and both select %s: upstream leaves their order undefined; podnet consults %s first (by name)",
						p.priority, q.name, strings.Join(shared, ", "), q.name)
				}
			}
		}
		for _, dir := range []Direction{Ingress, Egress} {
			peerField := map[Direction]string{Ingress: "from", Egress: "to"}[dir]
			for _, r := range p.rules[dir] {
				for j, pe := range r.peers {
					at := fmt.Sprintf("spec.%s[%d].%s[%d]", lowerDir(dir), r.index, peerField, j)
					if pe.kind == peerNothing && r.action == ActionAllow {
						add(at+".domainNames", "domain-names-unsupported", "podnet does not resolve domainNames: this peer matches nothing")
					}
					if pe.kind == peerPods && len(e.matchingNamespaces(pe.namespaces)) == 0 {
						f := at + ".namespaces"
						sel := adminNamespaceSelector(objs[p.name], e.Cluster.Baseline, p.baseline, dir, r.index, j)
						if pe.pods != nil {
							f = at + ".pods.namespaceSelector"
						}
						hint := ""
						if sel != nil {
							if v, ok := sel.MatchLabels["name"]; ok {
								hint = fmt.Sprintf("; namespaces are labelled kubernetes.io/metadata.name=%s, not name=%s", v, v)
							}
						}
						add(f, "namespace-selector-matches-nothing", "namespace selector %s matches no namespace%s", selectorText(sel), hint)
					}
				}
			}
		}
	}
	return out
}

func (t *adminTiers) subjects(p *adminPolicy) []*Pod {
	var out []*Pod
	for pod, ps := range t.selecting {
		if slices.Contains(ps, p) {
			out = append(out, pod)
		}
	}
	if p.baseline {
		for pod, ok := range t.baseSel {
			if ok {
				out = append(out, pod)
			}
		}
	}
	slices.SortFunc(out, func(a, b *Pod) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// shareDirection: both have rules for ingress, or both for egress, so a
// connection could match both.
func shareDirection(p, q *adminPolicy) bool {
	return (len(p.rules[Ingress]) > 0 && len(q.rules[Ingress]) > 0) || (len(p.rules[Egress]) > 0 && len(q.rules[Egress]) > 0)
}

func sharedPods(a, b []*Pod) []string {
	var out []string
	for _, p := range a {
		if slices.Contains(b, p) {
			out = append(out, p.Key())
		}
	}
	if len(out) > 3 {
		out = append(out[:3], fmt.Sprintf("%d more", len(out)-3))
	}
	return out
}

// adminNamespaceSelector is a peer's namespace selector as written, for
// messages.
func adminNamespaceSelector(anp any, banp *policyv1alpha1.BaselineAdminNetworkPolicy, baseline bool, dir Direction, rule, peer int) *metav1.LabelSelector {
	var ns *metav1.LabelSelector
	var pods *policyv1alpha1.NamespacedPod
	switch {
	case baseline && dir == Ingress:
		ns, pods = banp.Spec.Ingress[rule].From[peer].Namespaces, banp.Spec.Ingress[rule].From[peer].Pods
	case baseline:
		ns, pods = banp.Spec.Egress[rule].To[peer].Namespaces, banp.Spec.Egress[rule].To[peer].Pods
	default:
		o, ok := anp.(*policyv1alpha1.AdminNetworkPolicy)
		if !ok {
			return nil
		}
		if dir == Ingress {
			ns, pods = o.Spec.Ingress[rule].From[peer].Namespaces, o.Spec.Ingress[rule].From[peer].Pods
		} else {
			ns, pods = o.Spec.Egress[rule].To[peer].Namespaces, o.Spec.Egress[rule].To[peer].Pods
		}
	}
	if ns == nil && pods != nil {
		ns = &pods.NamespaceSelector
	}
	return ns
}
