package manifest

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Upstream's limits on one EndpointSlice.
const (
	maxSliceEndpoints = 1000
	maxSlicePorts     = 20000
	maxSliceAddresses = 100
)

func addressTypes() []string { return []string{"FQDN", "IPv4", "IPv6"} }

func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	var errs field.ErrorList
	if !sets.New(addressTypes()...).Has(string(es.AddressType)) {
		errs = append(errs, field.NotSupported(field.NewPath("addressType"), es.AddressType, addressTypes()))
	}
	epsPath := field.NewPath("endpoints")
	if len(es.Endpoints) > maxSliceEndpoints {
		errs = append(errs, field.TooMany(epsPath, len(es.Endpoints), maxSliceEndpoints))
	}
	for i, ep := range es.Endpoints {
		p := epsPath.Index(i)
		addrPath := p.Child("addresses")
		switch {
		case len(ep.Addresses) == 0:
			errs = append(errs, field.Required(addrPath, "must contain at least 1 address"))
		case len(ep.Addresses) > maxSliceAddresses:
			errs = append(errs, field.TooMany(addrPath, len(ep.Addresses), maxSliceAddresses))
		}
		for j, addr := range ep.Addresses {
			errs = append(errs, validateSliceAddress(es.AddressType, addr, addrPath.Index(j))...)
		}
		if ep.Hostname != nil {
			errs = append(errs, dns1123Label(*ep.Hostname, p.Child("hostname"))...)
		}
		if ep.NodeName != nil {
			errs = append(errs, dns1123Subdomain(*ep.NodeName, p.Child("nodeName"))...)
		}
	}
	errs = append(errs, validateSlicePorts(es.Ports, field.NewPath("ports"))...)
	return errs
}

func validateSliceAddress(t discoveryv1.AddressType, addr string, fldPath *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4:
		if a, err := netip.ParseAddr(addr); err != nil || !a.Is4() {
			return field.ErrorList{field.Invalid(fldPath, addr, "must be a valid IPv4 address")}
		}
	case discoveryv1.AddressTypeIPv6:
		if a, err := netip.ParseAddr(addr); err != nil || !a.Is6() || a.Is4In6() {
			return field.ErrorList{field.Invalid(fldPath, addr, "must be a valid IPv6 address")}
		}
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(fldPath, addr)
	}
	return nil
}

func validateSlicePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(ports) > maxSlicePorts {
		errs = append(errs, field.TooMany(fldPath, len(ports), maxSlicePorts))
	}
	names := sets.New[string]()
	for i, port := range ports {
		p := fldPath.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			errs = append(errs, dns1123Label(name, p.Child("name"))...)
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		}
		names.Insert(name)
		if port.Protocol == nil {
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		} else {
			errs = append(errs, validateProtocol(corev1.Protocol(*port.Protocol), p.Child("protocol"))...)
		}
		if port.Port != nil {
			for _, msg := range validation.IsInRange(int(*port.Port), 0, 65535) {
				errs = append(errs, field.Invalid(p.Child("port"), *port.Port, msg))
			}
		}
	}
	return errs
}
