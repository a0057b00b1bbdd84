package manifest

import (
	"fmt"
	"net/netip"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	policyv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
)

// AdminNetworkPolicy and BaselineAdminNetworkPolicy are CRDs: the API
// server checks them against the CRD's OpenAPI schema and CEL rules
// (sigs.k8s.io/network-policy-api config/crd), and words its errors the way
// apiextensions-apiserver does: bounds as "<field> in body should be ...",
// too many list items or properties as "Too many", CEL failures as
// `Invalid value: "object": <message>`. podnet checks the same rules here,
// plus the protocol names podnet knows.

const (
	adminMaxRules    = 100
	adminMaxPeers    = 100
	adminMaxPorts    = 100
	adminMaxNetworks = 25
	adminMaxName     = 100
	adminMaxPriority = 1000
)

// adminRuleView is an ingress or egress rule of either kind, so one
// function checks all four rule types.
type adminRuleView struct {
	name    string
	action  string
	peers   []adminPeerView
	noPeers bool // from/to absent
	ports   *[]policyv1alpha1.AdminNetworkPolicyPort
}

type adminPeerView struct {
	namespaces  *metav1.LabelSelector
	pods        *policyv1alpha1.NamespacedPod
	nodes       *metav1.LabelSelector
	networks    []policyv1alpha1.CIDR
	domainNames []policyv1alpha1.DomainName
}

func ingressPeerViews(in []policyv1alpha1.AdminNetworkPolicyIngressPeer) []adminPeerView {
	out := make([]adminPeerView, len(in))
	for i, p := range in {
		out[i] = adminPeerView{namespaces: p.Namespaces, pods: p.Pods}
	}
	return out
}

func validateAdminNetworkPolicy(o *policyv1alpha1.AdminNetworkPolicy) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if o.Spec.Priority < 0 {
		errs = append(errs, bodyBound(spec.Child("priority"), o.Spec.Priority, "greater than or equal to", 0))
	}
	if o.Spec.Priority > adminMaxPriority {
		errs = append(errs, bodyBound(spec.Child("priority"), o.Spec.Priority, "less than or equal to", adminMaxPriority))
	}
	errs = append(errs, validateAdminSubject(&o.Spec.Subject, spec.Child("subject"))...)
	actions := []string{"Allow", "Deny", "Pass"}
	var in, eg []adminRuleView
	for _, r := range o.Spec.Ingress {
		in = append(in, adminRuleView{r.Name, string(r.Action), ingressPeerViews(r.From), r.From == nil, r.Ports})
	}
	for _, r := range o.Spec.Egress {
		peers := make([]adminPeerView, len(r.To))
		for i, p := range r.To {
			peers[i] = adminPeerView{p.Namespaces, p.Pods, p.Nodes, p.Networks, p.DomainNames}
		}
		eg = append(eg, adminRuleView{r.Name, string(r.Action), peers, r.To == nil, r.Ports})
	}
	errs = append(errs, validateAdminRules(in, actions, spec.Child("ingress"), "from")...)
	errs = append(errs, validateAdminRules(eg, actions, spec.Child("egress"), "to")...)
	return errs
}

func validateBaselineAdminNetworkPolicy(o *policyv1alpha1.BaselineAdminNetworkPolicy) field.ErrorList {
	var errs field.ErrorList
	if o.Name != "default" {
		// The CRD's CEL rule on the whole object: its path is empty.
		errs = append(errs, field.Invalid(nil, "object", `Only one baseline admin network policy with metadata.name="default" can be created in the cluster`))
	}
	spec := field.NewPath("spec")
	errs = append(errs, validateAdminSubject(&o.Spec.Subject, spec.Child("subject"))...)
	actions := []string{"Allow", "Deny"}
	var in, eg []adminRuleView
	for _, r := range o.Spec.Ingress {
		in = append(in, adminRuleView{r.Name, string(r.Action), ingressPeerViews(r.From), r.From == nil, r.Ports})
	}
	for _, r := range o.Spec.Egress {
		peers := make([]adminPeerView, len(r.To))
		for i, p := range r.To {
			peers[i] = adminPeerView{namespaces: p.Namespaces, pods: p.Pods, nodes: p.Nodes, networks: p.Networks}
		}
		eg = append(eg, adminRuleView{r.Name, string(r.Action), peers, r.To == nil, r.Ports})
	}
	errs = append(errs, validateAdminRules(in, actions, spec.Child("ingress"), "from")...)
	errs = append(errs, validateAdminRules(eg, actions, spec.Child("egress"), "to")...)
	return errs
}

// bodyBound is the schema's minimum/maximum error.
func bodyBound(p *field.Path, v any, rel string, bound any) *field.Error {
	return field.Invalid(p, v, fmt.Sprintf("%s in body should be %s %v", p, rel, bound))
}

// oneOf is the schema's minProperties=1/maxProperties=1 pair: exactly one
// field of an object set.
func oneOf(p *field.Path, n int) field.ErrorList {
	switch {
	case n == 0:
		return field.ErrorList{field.Invalid(p, 0, fmt.Sprintf("%s in body should have at least 1 properties", p))}
	case n > 1:
		return field.ErrorList{field.TooMany(p, n, 1)}
	}
	return nil
}

func validateAdminSubject(s *policyv1alpha1.AdminNetworkPolicySubject, p *field.Path) field.ErrorList {
	n := 0
	var errs field.ErrorList
	if s.Namespaces != nil {
		n++
		errs = append(errs, validateSelector(s.Namespaces, p.Child("namespaces"))...)
	}
	if s.Pods != nil {
		n++
		errs = append(errs, validateNamespacedPod(s.Pods, p.Child("pods"))...)
	}
	return append(oneOf(p, n), errs...)
}

func validateSelector(s *metav1.LabelSelector, p *field.Path) field.ErrorList {
	return metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, p)
}

func validateNamespacedPod(np *policyv1alpha1.NamespacedPod, p *field.Path) field.ErrorList {
	errs := validateSelector(&np.NamespaceSelector, p.Child("namespaceSelector"))
	return append(errs, validateSelector(&np.PodSelector, p.Child("podSelector"))...)
}

func validateAdminRules(rules []adminRuleView, actions []string, p *field.Path, peerField string) field.ErrorList {
	var errs field.ErrorList
	if len(rules) > adminMaxRules {
		errs = append(errs, field.TooMany(p, len(rules), adminMaxRules))
	}
	for i, r := range rules {
		rp := p.Index(i)
		if len(r.name) > adminMaxName {
			errs = append(errs, field.TooLong(rp.Child("name"), r.name, adminMaxName))
		}
		switch {
		case r.action == "":
			errs = append(errs, field.Required(rp.Child("action"), ""))
		case !sets.New(actions...).Has(r.action):
			errs = append(errs, field.NotSupported(rp.Child("action"), r.action, actions))
		}
		pp := rp.Child(peerField)
		switch {
		case r.noPeers:
			errs = append(errs, field.Required(pp, ""))
		case len(r.peers) == 0:
			errs = append(errs, field.Invalid(pp, "null", fmt.Sprintf("%s in body should have at least 1 items", pp)))
		case len(r.peers) > adminMaxPeers:
			errs = append(errs, field.TooMany(pp, len(r.peers), adminMaxPeers))
		}
		addressPeer := false
		for j, peer := range r.peers {
			errs = append(errs, validateAdminPeer(peer, r.action, pp.Index(j))...)
			addressPeer = addressPeer || peer.nodes != nil || peer.networks != nil || peer.domainNames != nil
		}
		namedPort := false
		if r.ports != nil {
			ports := *r.ports
			portsPath := rp.Child("ports")
			switch {
			case len(ports) == 0:
				errs = append(errs, field.Invalid(portsPath, "null", fmt.Sprintf("%s in body should have at least 1 items", portsPath)))
			case len(ports) > adminMaxPorts:
				errs = append(errs, field.TooMany(portsPath, len(ports), adminMaxPorts))
			}
			for j := range ports {
				errs = append(errs, validateAdminPort(&ports[j], portsPath.Index(j))...)
				namedPort = namedPort || ports[j].NamedPort != nil
			}
		}
		if addressPeer && namedPort {
			errs = append(errs, field.Invalid(rp, "object", "networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames"))
		}
	}
	return errs
}

// domainNamePattern is the CRD's pattern for DomainName.
var domainNamePattern = regexp.MustCompile(`^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$`)

func validateAdminPeer(peer adminPeerView, action string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	if peer.namespaces != nil {
		n++
		errs = append(errs, validateSelector(peer.namespaces, p.Child("namespaces"))...)
	}
	if peer.pods != nil {
		n++
		errs = append(errs, validateNamespacedPod(peer.pods, p.Child("pods"))...)
	}
	if peer.nodes != nil {
		n++
		errs = append(errs, validateSelector(peer.nodes, p.Child("nodes"))...)
	}
	if peer.networks != nil {
		n++
		np := p.Child("networks")
		switch {
		case len(peer.networks) == 0:
			errs = append(errs, field.Invalid(np, "null", fmt.Sprintf("%s in body should have at least 1 items", np)))
		case len(peer.networks) > adminMaxNetworks:
			errs = append(errs, field.TooMany(np, len(peer.networks), adminMaxNetworks))
		}
		seen := map[policyv1alpha1.CIDR]bool{}
		for k, c := range peer.networks {
			cp := np.Index(k)
			if seen[c] {
				errs = append(errs, field.Duplicate(cp, string(c)))
			}
			seen[c] = true
			if pfx, err := netip.ParsePrefix(string(c)); err != nil || pfx != pfx.Masked() {
				errs = append(errs, field.Invalid(cp, "string", "Invalid CIDR format provided"))
			}
		}
	}
	if peer.domainNames != nil {
		n++
		dp := p.Child("domainNames")
		if action != "Allow" {
			errs = append(errs, field.Forbidden(dp, "domainNames peers may only be used in Allow rules"))
		}
		for k, d := range peer.domainNames {
			if !domainNamePattern.MatchString(string(d)) {
				errs = append(errs, field.Invalid(dp.Index(k), string(d), fmt.Sprintf("%s in body should match '%s'", dp.Index(k), domainNamePattern)))
			}
		}
	}
	return append(oneOf(p, n), errs...)
}

func validateAdminPort(port *policyv1alpha1.AdminNetworkPolicyPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	proto := func(pr corev1.Protocol, at *field.Path) {
		if !sets.New(portProtocols()...).Has(string(pr)) {
			errs = append(errs, field.NotSupported(at, pr, portProtocols()))
		}
	}
	num := func(v int32, at *field.Path) {
		if v < 1 {
			errs = append(errs, bodyBound(at, v, "greater than or equal to", 1))
		}
		if v > 65535 {
			errs = append(errs, bodyBound(at, v, "less than or equal to", 65535))
		}
	}
	if port.PortNumber != nil {
		n++
		proto(port.PortNumber.Protocol, p.Child("portNumber", "protocol"))
		num(port.PortNumber.Port, p.Child("portNumber", "port"))
	}
	if port.NamedPort != nil {
		n++
		for _, msg := range validation.IsValidPortName(*port.NamedPort) {
			errs = append(errs, field.Invalid(p.Child("namedPort"), *port.NamedPort, msg))
		}
	}
	if r := port.PortRange; r != nil {
		n++
		proto(r.Protocol, p.Child("portRange", "protocol"))
		num(r.Start, p.Child("portRange", "start"))
		num(r.End, p.Child("portRange", "end"))
		if r.End < r.Start {
			errs = append(errs, field.Invalid(p.Child("portRange", "end"), r.End, "must be greater than or equal to `start`"))
		}
	}
	return append(oneOf(p, n), errs...)
}
