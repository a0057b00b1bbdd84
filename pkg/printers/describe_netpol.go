package printers

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ruleIndent is where kubectl describe starts a rule's lines, under
// "Allowing ingress traffic:".
const ruleIndent = "    "

func describeNetworkPolicy(d *describeWriter, np *networkingv1.NetworkPolicy) {
	d.write(0, "Name:\t%s\n", np.Name)
	d.write(0, "Namespace:\t%s\n", np.Namespace)
	// kubectl prints metav1.Time with %s, i.e. Go's time.Time String form.
	d.write(0, "Created on:\t%s\n", np.CreationTimestamp)
	d.labelsMultiline("Labels", np.Labels)
	d.annotationsMultiline("Annotations", np.Annotations)
	spec := np.Spec
	d.write(0, "Spec:\n")
	d.write(1, "PodSelector: ")
	if len(spec.PodSelector.MatchLabels) == 0 && len(spec.PodSelector.MatchExpressions) == 0 {
		d.write(2, "<none> (Allowing the specific traffic to all pods in this namespace)\n")
	} else {
		d.write(2, "%s\n", metav1.FormatLabelSelector(&spec.PodSelector))
	}
	types := policyTypes(spec)
	ingress := slices.Contains(types, networkingv1.PolicyTypeIngress)
	egress := slices.Contains(types, networkingv1.PolicyTypeEgress)
	if ingress {
		d.write(1, "Allowing ingress traffic:\n")
		var rules []peerRule
		for _, r := range spec.Ingress {
			rules = append(rules, peerRule{ports: r.Ports, peers: r.From})
		}
		describeRules(d, rules, "From", "source", "ingress")
	} else {
		d.write(1, "Not affecting ingress traffic\n")
	}
	if egress {
		d.write(1, "Allowing egress traffic:\n")
		var rules []peerRule
		for _, r := range spec.Egress {
			rules = append(rules, peerRule{ports: r.Ports, peers: r.To})
		}
		describeRules(d, rules, "To", "destination", "egress")
	} else {
		d.write(1, "Not affecting egress traffic\n")
	}
	d.write(1, "Policy Types: %v\n", policyTypesString(types))
}

// policyTypes reads spec.policyTypes, defaulted as the API server does on
// create when a manifest leaves it out: Ingress, plus Egress when there are
// egress rules.
func policyTypes(spec networkingv1.NetworkPolicySpec) []networkingv1.PolicyType {
	if len(spec.PolicyTypes) > 0 {
		return spec.PolicyTypes
	}
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(spec.Egress) > 0 {
		types = append(types, networkingv1.PolicyTypeEgress)
	}
	return types
}

func policyTypesString(types []networkingv1.PolicyType) string {
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = string(t)
	}
	return orNone(strings.Join(parts, ", "))
}

// peerRule is an ingress or egress rule with its direction forgotten.
type peerRule struct {
	ports []networkingv1.NetworkPolicyPort
	peers []networkingv1.NetworkPolicyPeer
}

func describeRules(d *describeWriter, rules []peerRule, peerTitle, peerWord, direction string) {
	if len(rules) == 0 {
		d.write(0, "%s<none> (Selected pods are isolated for %s connectivity)\n", ruleIndent, direction)
		return
	}
	for i, r := range rules {
		if len(r.ports) == 0 {
			d.write(0, "%sTo Port: <any> (traffic allowed to all ports)\n", ruleIndent)
		}
		for _, p := range r.ports {
			proto := corev1.ProtocolTCP
			if p.Protocol != nil {
				proto = *p.Protocol
			}
			if p.EndPort == nil {
				d.write(0, "%sTo Port: %s/%s\n", ruleIndent, p.Port, proto)
			} else {
				d.write(0, "%sTo Port Range: %s-%d/%s\n", ruleIndent, p.Port, *p.EndPort, proto)
			}
		}
		if len(r.peers) == 0 {
			d.write(0, "%s%s: <any> (traffic not restricted by %s)\n", ruleIndent, peerTitle, peerWord)
		}
		for _, peer := range r.peers {
			d.write(0, "%s%s:\n", ruleIndent, peerTitle)
			switch {
			case peer.PodSelector != nil && peer.NamespaceSelector != nil:
				d.write(1, "%sNamespaceSelector: %s\n", ruleIndent, metav1.FormatLabelSelector(peer.NamespaceSelector))
				d.write(1, "%sPodSelector: %s\n", ruleIndent, metav1.FormatLabelSelector(peer.PodSelector))
			case peer.PodSelector != nil:
				d.write(1, "%sPodSelector: %s\n", ruleIndent, metav1.FormatLabelSelector(peer.PodSelector))
			case peer.NamespaceSelector != nil:
				d.write(1, "%sNamespaceSelector: %s\n", ruleIndent, metav1.FormatLabelSelector(peer.NamespaceSelector))
			case peer.IPBlock != nil:
				d.write(1, "%sIPBlock:\n", ruleIndent)
				d.write(2, "%sCIDR: %s\n", ruleIndent, peer.IPBlock.CIDR)
				d.write(2, "%sExcept: %v\n", ruleIndent, strings.Join(peer.IPBlock.Except, ", "))
			}
		}
		if i != len(rules)-1 {
			d.write(0, "%s----------\n", ruleIndent)
		}
	}
}
