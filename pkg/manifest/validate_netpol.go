package manifest

import (
	"net/netip"

	networkingv1 "k8s.io/api/networking/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateNetworkPolicySpec(spec *networkingv1.NetworkPolicySpec, fldPath *field.Path) field.ErrorList {
	selOpts := metav1validation.LabelSelectorValidationOptions{}
	errs := metav1validation.ValidateLabelSelector(&spec.PodSelector, selOpts, fldPath.Child("podSelector"))
	for i, rule := range spec.Ingress {
		p := fldPath.Child("ingress").Index(i)
		for j := range rule.Ports {
			errs = append(errs, validatePolicyPort(&rule.Ports[j], p.Child("ports").Index(j))...)
		}
		for j := range rule.From {
			errs = append(errs, validatePolicyPeer(&rule.From[j], p.Child("from").Index(j))...)
		}
	}
	for i, rule := range spec.Egress {
		p := fldPath.Child("egress").Index(i)
		for j := range rule.Ports {
			errs = append(errs, validatePolicyPort(&rule.Ports[j], p.Child("ports").Index(j))...)
		}
		for j := range rule.To {
			errs = append(errs, validatePolicyPeer(&rule.To[j], p.Child("to").Index(j))...)
		}
	}
	policyTypes := []string{"Egress", "Ingress"}
	if len(spec.PolicyTypes) > len(policyTypes) {
		errs = append(errs, field.Invalid(fldPath.Child("policyTypes"), &spec.PolicyTypes, "may not specify more than two policyTypes"))
		return errs
	}
	for i, pt := range spec.PolicyTypes {
		if !sets.New(policyTypes...).Has(string(pt)) {
			errs = append(errs, field.NotSupported(fldPath.Child("policyTypes").Index(i), pt, policyTypes))
		}
	}
	return errs
}

// validatePolicyPort: endPort makes a range, which only numbers can bound.
func validatePolicyPort(port *networkingv1.NetworkPolicyPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Protocol != nil && !sets.New(portProtocols()...).Has(string(*port.Protocol)) {
		errs = append(errs, field.NotSupported(fldPath.Child("protocol"), *port.Protocol, portProtocols()))
	}
	if port.Port == nil {
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(fldPath.Child("endPort"), port.EndPort, "may not be specified when `port` is not specified"))
		}
		return errs
	}
	if port.Port.Type == intstr.String {
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(fldPath.Child("endPort"), port.EndPort, "may not be specified when `port` is non-numeric"))
		}
		for _, msg := range validation.IsValidPortName(port.Port.StrVal) {
			errs = append(errs, field.Invalid(fldPath.Child("port"), port.Port.StrVal, msg))
		}
		return errs
	}
	for _, msg := range validation.IsValidPortNum(int(port.Port.IntVal)) {
		errs = append(errs, field.Invalid(fldPath.Child("port"), port.Port.IntVal, msg))
	}
	if port.EndPort != nil {
		if *port.EndPort < port.Port.IntVal {
			errs = append(errs, field.Invalid(fldPath.Child("endPort"), port.Port.IntVal, "must be greater than or equal to `port`"))
		}
		for _, msg := range validation.IsValidPortNum(int(*port.EndPort)) {
			errs = append(errs, field.Invalid(fldPath.Child("endPort"), *port.EndPort, msg))
		}
	}
	return errs
}

// validatePolicyPeer: a peer is pods (by pod and/or namespace selector) or an
// address block, never both, since "pods in this block" has no meaning.
func validatePolicyPeer(peer *networkingv1.NetworkPolicyPeer, fldPath *field.Path) field.ErrorList {
	selOpts := metav1validation.LabelSelectorValidationOptions{}
	var errs field.ErrorList
	n := 0
	if peer.PodSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.PodSelector, selOpts, fldPath.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.NamespaceSelector, selOpts, fldPath.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		n++
		errs = append(errs, validateIPBlock(peer.IPBlock, fldPath.Child("ipBlock"))...)
	}
	switch {
	case n == 0:
		errs = append(errs, field.Required(fldPath, "must specify a peer"))
	case n > 1 && peer.IPBlock != nil:
		errs = append(errs, field.Forbidden(fldPath, "may not specify both ipBlock and another peer"))
	}
	return errs
}

func validateIPBlock(b *networkingv1.IPBlock, fldPath *field.Path) field.ErrorList {
	if b.CIDR == "" {
		return field.ErrorList{field.Required(fldPath.Child("cidr"), "")}
	}
	errs := validation.IsValidCIDR(fldPath.Child("cidr"), b.CIDR)
	if len(errs) > 0 {
		return errs
	}
	cidr := netip.MustParsePrefix(b.CIDR).Masked()
	for i, ex := range b.Except {
		p := fldPath.Child("except").Index(i)
		exErrs := validation.IsValidCIDR(p, ex)
		errs = append(errs, exErrs...)
		if len(exErrs) > 0 {
			continue
		}
		e := netip.MustParsePrefix(ex)
		// An exception must carve something out of cidr and leave
		// something of it.
		if e.Addr().Is4() != cidr.Addr().Is4() || !cidr.Contains(e.Addr()) || e.Bits() <= cidr.Bits() {
			errs = append(errs, field.Invalid(p, ex, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}

func portProtocols() []string { return []string{"SCTP", "TCP", "UDP"} }
