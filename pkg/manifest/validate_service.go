package manifest

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxClientIPTimeout is upstream's MaxClientIPServiceAffinitySeconds (a day).
const maxClientIPTimeout = 86400

func serviceTypes() []string {
	return []string{"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"}
}
func affinityTypes() []string   { return []string{"ClientIP", "None"} }
func trafficPolicies() []string { return []string{"Cluster", "Local"} }

func validateService(svc *corev1.Service, opts Options) field.ErrorList {
	spec := &svc.Spec
	specPath := field.NewPath("spec")
	var errs field.ErrorList

	if !sets.New(serviceTypes()...).Has(string(spec.Type)) {
		errs = append(errs, field.NotSupported(specPath.Child("type"), spec.Type, serviceTypes()))
	}
	headless := spec.ClusterIP == corev1.ClusterIPNone
	if len(spec.Ports) == 0 && !headless && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(specPath.Child("ports"), ""))
	}
	errs = append(errs, validateServicePorts(svc, specPath.Child("ports"))...)
	errs = append(errs, validateClusterIPs(svc, opts, specPath)...)
	errs = append(errs, validateNodePorts(svc, opts, specPath.Child("ports"))...)

	if spec.Type == corev1.ServiceTypeExternalName {
		// The CNAME target may end with a dot, as a fully qualified name.
		cname := strings.TrimSuffix(spec.ExternalName, ".")
		if cname == "" {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		}
		for _, msg := range validation.IsDNS1123Subdomain(cname) {
			if cname != "" {
				errs = append(errs, field.Invalid(specPath.Child("externalName"), cname, msg))
			}
		}
	}

	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabels(spec.Selector, specPath.Child("selector"))...)
	}
	errs = append(errs, validateSessionAffinity(spec, specPath)...)
	errs = append(errs, validateTrafficPolicies(svc, specPath)...)

	for i, ip := range spec.ExternalIPs {
		errs = append(errs, validation.IsValidIP(specPath.Child("externalIPs").Index(i), ip)...)
	}
	if len(spec.LoadBalancerSourceRanges) > 0 {
		rangesPath := specPath.Child("loadBalancerSourceRanges")
		if spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(rangesPath, "may only be used when `type` is 'LoadBalancer'"))
		}
		for i, cidr := range spec.LoadBalancerSourceRanges {
			errs = append(errs, validation.IsValidCIDR(rangesPath.Index(i), strings.TrimSpace(cidr))...)
		}
	}
	return errs
}

func validateServicePorts(svc *corev1.Service, portsPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	seen := map[corev1.ServicePort]bool{}
	for i, sp := range svc.Spec.Ports {
		p := portsPath.Index(i)
		// A name tells ports apart in EndpointSlices and SRV records, so
		// it is required once there are several.
		if len(svc.Spec.Ports) > 1 && sp.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else if sp.Name != "" {
			for _, msg := range validation.IsDNS1123Label(sp.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), sp.Name, msg))
			}
			if names.Has(sp.Name) {
				errs = append(errs, field.Duplicate(p.Child("name"), sp.Name))
			}
			names.Insert(sp.Name)
		}
		for _, msg := range validation.IsValidPortNum(int(sp.Port)) {
			errs = append(errs, field.Invalid(p.Child("port"), sp.Port, msg))
		}
		errs = append(errs, validateProtocol(sp.Protocol, p.Child("protocol"))...)
		errs = append(errs, validatePortNumOrName(sp.TargetPort.IntVal, sp.TargetPort.StrVal, p.Child("targetPort"))...)

		key := corev1.ServicePort{Protocol: sp.Protocol, Port: sp.Port}
		if seen[key] {
			errs = append(errs, field.Duplicate(p, key))
		}
		seen[key] = true
	}
	return errs
}

func validateProtocol(proto corev1.Protocol, fldPath *field.Path) field.ErrorList {
	if proto == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if !sets.New(portProtocols()...).Has(string(proto)) {
		return field.ErrorList{field.NotSupported(fldPath, proto, portProtocols())}
	}
	return nil
}

// validatePortNumOrName checks an int-or-string port: a number in 1-65535
// or an IANA service name that a container port carries.
func validatePortNumOrName(num int32, name string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name != "" {
		for _, msg := range validation.IsValidPortName(name) {
			errs = append(errs, field.Invalid(fldPath, name, msg))
		}
		return errs
	}
	for _, msg := range validation.IsValidPortNum(int(num)) {
		errs = append(errs, field.Invalid(fldPath, num, msg))
	}
	return errs
}

// validateClusterIPs checks the ClusterIP fields as the API server does after
// copying clusterIP into clusterIPs, plus the static part of allocation: an
// address chosen by the user must lie in the service CIDR.
func validateClusterIPs(svc *corev1.Service, opts Options, specPath *field.Path) field.ErrorList {
	spec := &svc.Spec
	ips := spec.ClusterIPs
	if len(ips) == 0 && spec.ClusterIP != "" {
		ips = []string{spec.ClusterIP}
	}
	ipsPath := specPath.Child("clusterIPs")
	var errs field.ErrorList
	if len(spec.ClusterIPs) > 0 && spec.ClusterIP != "" && spec.ClusterIP != spec.ClusterIPs[0] {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
	}
	if spec.Type == corev1.ServiceTypeExternalName {
		if len(ips) > 0 {
			errs = append(errs, field.Forbidden(ipsPath, "may not be set for ExternalName services"))
		}
		return errs
	}
	if len(ips) == 0 {
		return errs
	}
	if ips[0] == corev1.ClusterIPNone {
		switch spec.Type {
		case corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
			errs = append(errs, field.Invalid(ipsPath.Index(0), ips[0],
				fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
		}
		return errs
	}
	for i, ip := range ips {
		fieldErrs := validation.IsValidIP(ipsPath.Index(i), ip)
		errs = append(errs, fieldErrs...)
		if len(fieldErrs) > 0 {
			continue
		}
		addr := netip.MustParseAddr(ip)
		if addr.Is4() == opts.ServiceCIDR.Addr().Is4() && !opts.ServiceCIDR.Contains(addr) {
			errs = append(errs, field.Invalid(ipsPath, ips, fmt.Sprintf(
				"failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s",
				ip, ip, opts.ServiceCIDR)))
		}
	}
	return errs
}

// validateNodePorts checks nodePorts against the type and the node port range.
// Whether a port is already taken is the allocator's business, not this one's.
func validateNodePorts(svc *corev1.Service, opts Options, portsPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.ServicePort]bool{}
	for i, sp := range svc.Spec.Ports {
		if sp.NodePort == 0 {
			continue
		}
		p := portsPath.Index(i).Child("nodePort")
		if svc.Spec.Type == corev1.ServiceTypeClusterIP || svc.Spec.Type == corev1.ServiceTypeExternalName {
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("may not be used when `type` is '%s'", svc.Spec.Type)))
			continue
		}
		key := corev1.ServicePort{Protocol: sp.Protocol, NodePort: sp.NodePort}
		if seen[key] {
			errs = append(errs, field.Duplicate(p, sp.NodePort))
		}
		seen[key] = true
		if !opts.NodePortRange.Contains(int(sp.NodePort)) {
			errs = append(errs, field.Invalid(p, sp.NodePort, fmt.Sprintf(
				"provided port is not in the valid range. The range of valid ports is %s", opts.NodePortRange.String())))
		}
	}
	return errs
}

func validateSessionAffinity(spec *corev1.ServiceSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !sets.New(affinityTypes()...).Has(string(spec.SessionAffinity)) {
		return field.ErrorList{field.NotSupported(specPath.Child("sessionAffinity"), spec.SessionAffinity, affinityTypes())}
	}
	if spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		return nil
	}
	if spec.Type == corev1.ServiceTypeExternalName {
		errs = append(errs, field.Invalid(specPath.Child("sessionAffinity"), spec.SessionAffinity,
			"must be None when type is ExternalName"))
	}
	timeout := spec.SessionAffinityConfig.ClientIP.TimeoutSeconds
	if *timeout <= 0 || *timeout > maxClientIPTimeout {
		errs = append(errs, field.Invalid(specPath.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), *timeout,
			fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPTimeout)))
	}
	return errs
}

func validateTrafficPolicies(svc *corev1.Service, specPath *field.Path) field.ErrorList {
	spec := &svc.Spec
	var errs field.ErrorList
	etp := specPath.Child("externalTrafficPolicy")
	switch {
	case !externallyAccessible(svc) && spec.ExternalTrafficPolicy != "":
		errs = append(errs, field.Invalid(etp, spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
	case externallyAccessible(svc) && !sets.New(trafficPolicies()...).Has(string(spec.ExternalTrafficPolicy)):
		errs = append(errs, field.NotSupported(etp, spec.ExternalTrafficPolicy, trafficPolicies()))
	}
	hc := specPath.Child("healthCheckNodePort")
	switch {
	case spec.HealthCheckNodePort == 0:
	case spec.Type != corev1.ServiceTypeLoadBalancer || spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal:
		errs = append(errs, field.Invalid(hc, spec.HealthCheckNodePort,
			"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	case spec.HealthCheckNodePort < 0 || spec.HealthCheckNodePort > 65535:
		errs = append(errs, field.Invalid(hc, spec.HealthCheckNodePort, "must be between 1 and 65535, inclusive"))
	}
	if spec.InternalTrafficPolicy != nil && !sets.New(trafficPolicies()...).Has(string(*spec.InternalTrafficPolicy)) {
		errs = append(errs, field.NotSupported(specPath.Child("internalTrafficPolicy"), *spec.InternalTrafficPolicy, trafficPolicies()))
	}
	return errs
}
