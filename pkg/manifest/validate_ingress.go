package manifest

import (
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func pathTypes() []string { return []string{"Exact", "ImplementationSpecific", "Prefix"} }

func validateIngressSpec(spec *networkingv1.IngressSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		errs = append(errs, field.Invalid(fldPath, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(spec.DefaultBackend, fldPath.Child("defaultBackend"))...)
	}
	for i, rule := range spec.Rules {
		p := fldPath.Child("rules").Index(i)
		if rule.Host != "" {
			errs = append(errs, validateIngressHost(rule.Host, p.Child("host"))...)
		}
		if rule.HTTP == nil {
			continue
		}
		pathsPath := p.Child("http", "paths")
		if len(rule.HTTP.Paths) == 0 {
			errs = append(errs, field.Required(pathsPath, ""))
		}
		for j := range rule.HTTP.Paths {
			errs = append(errs, validateIngressPath(&rule.HTTP.Paths[j], pathsPath.Index(j))...)
		}
	}
	for i, tls := range spec.TLS {
		for j, host := range tls.Hosts {
			errs = append(errs, validateIngressHost(host, fldPath.Child("tls").Index(i).Child("hosts").Index(j))...)
		}
	}
	return errs
}

// validateIngressHost: a host is a DNS name, or one with a leading "*."
// wildcard label; IP addresses are not hosts.
func validateIngressHost(host string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if strings.Contains(host, "*") {
		for _, msg := range validation.IsWildcardDNS1123Subdomain(host) {
			errs = append(errs, field.Invalid(fldPath, host, msg))
		}
		return errs
	}
	if len(validation.IsValidIP(fldPath, host)) == 0 {
		return field.ErrorList{field.Invalid(fldPath, host, "must be a DNS name, not an IP address")}
	}
	return dns1123Subdomain(host, fldPath)
}

func validateIngressPath(path *networkingv1.HTTPIngressPath, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.PathType == nil {
		errs = append(errs, field.Required(fldPath.Child("pathType"), "pathType must be specified"))
	} else {
		switch *path.PathType {
		case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
			if !strings.HasPrefix(path.Path, "/") {
				errs = append(errs, field.Invalid(fldPath.Child("path"), path.Path, "must be an absolute path"))
			}
		case networkingv1.PathTypeImplementationSpecific:
			if path.Path != "" && !strings.HasPrefix(path.Path, "/") {
				errs = append(errs, field.Invalid(fldPath.Child("path"), path.Path, "must be an absolute path"))
			}
		default:
			errs = append(errs, field.NotSupported(fldPath.Child("pathType"), *path.PathType, pathTypes()))
		}
	}
	errs = append(errs, validateIngressBackend(&path.Backend, fldPath.Child("backend"))...)
	return errs
}

func validateIngressBackend(b *networkingv1.IngressBackend, fldPath *field.Path) field.ErrorList {
	switch {
	case b.Service != nil && b.Resource != nil:
		return field.ErrorList{field.Invalid(fldPath, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		return nil // podnet does not route to resource backends; upstream accepts them
	case b.Service == nil:
		return field.ErrorList{field.Invalid(fldPath, "", "resource or service backend is required")}
	}
	var errs field.ErrorList
	svcPath := fldPath.Child("service")
	if b.Service.Name == "" {
		errs = append(errs, field.Required(svcPath.Child("name"), ""))
	} else {
		for _, msg := range apivalidation.NameIsDNS1035Label(b.Service.Name, false) {
			errs = append(errs, field.Invalid(svcPath.Child("name"), b.Service.Name, msg))
		}
	}
	port := b.Service.Port
	portPath := svcPath.Child("port")
	switch {
	case port.Name != "" && port.Number != 0:
		errs = append(errs, field.Invalid(portPath, port, "cannot set both port name & port number"))
	case port.Name != "":
		for _, msg := range validation.IsValidPortName(port.Name) {
			errs = append(errs, field.Invalid(portPath.Child("name"), port.Name, msg))
		}
	case port.Number != 0:
		for _, msg := range validation.IsValidPortNum(int(port.Number)) {
			errs = append(errs, field.Invalid(portPath.Child("number"), port.Number, msg))
		}
	default:
		errs = append(errs, field.Required(portPath, "port name or number is required"))
	}
	return errs
}
