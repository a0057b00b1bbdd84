package printers

import (
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels the endpoints controller puts on the Endpoints it manages.
const (
	labelSkipMirror = "endpointslice.kubernetes.io/skip-mirror"
	labelHeadless   = "service.kubernetes.io/headless"
)

// EndpointsFromSlices builds the v1 Endpoints the endpoints controller would
// keep for svc, from the service's EndpointSlices (slices of other services
// are ignored). Ready endpoints become addresses; endpoints that are not
// ready become notReadyAddresses, except terminating ones, which the
// controller drops. Endpoints whose slices share a port list form one subset,
// addresses sorted by IP, as the controller's repacking leaves them.
func EndpointsFromSlices(svc *corev1.Service, slices []*discoveryv1.EndpointSlice) *corev1.Endpoints {
	ep := &corev1.Endpoints{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Endpoints"},
		ObjectMeta: metav1.ObjectMeta{
			Name:              svc.Name,
			Namespace:         svc.Namespace,
			CreationTimestamp: svc.CreationTimestamp,
			Labels:            endpointsLabels(svc),
		},
	}
	bySubset := map[string]*corev1.EndpointSubset{}
	var order []string
	for _, s := range slices {
		if s.Namespace != svc.Namespace || s.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		if s.AddressType == discoveryv1.AddressTypeFQDN {
			continue // Endpoints hold IPs only
		}
		ports := endpointPorts(s.Ports)
		key := portsKey(ports)
		sub, ok := bySubset[key]
		if !ok {
			sub = &corev1.EndpointSubset{Ports: ports}
			bySubset[key] = sub
			order = append(order, key)
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			addr := corev1.EndpointAddress{IP: e.Addresses[0], NodeName: e.NodeName, TargetRef: e.TargetRef}
			if e.Hostname != nil {
				addr.Hostname = *e.Hostname
			}
			switch {
			case e.Conditions.Ready == nil || *e.Conditions.Ready:
				sub.Addresses = append(sub.Addresses, addr)
			case e.Conditions.Terminating != nil && *e.Conditions.Terminating:
				// The controller leaves terminating pods out entirely.
			default:
				sub.NotReadyAddresses = append(sub.NotReadyAddresses, addr)
			}
		}
	}
	sort.Strings(order)
	for _, key := range order {
		sub := bySubset[key]
		if len(sub.Addresses) == 0 && len(sub.NotReadyAddresses) == 0 {
			continue
		}
		sortAddresses(sub.Addresses)
		sortAddresses(sub.NotReadyAddresses)
		ep.Subsets = append(ep.Subsets, *sub)
	}
	return ep
}

func endpointsLabels(svc *corev1.Service) map[string]string {
	l := map[string]string{}
	for k, v := range svc.Labels {
		l[k] = v
	}
	l[labelSkipMirror] = "true"
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[labelHeadless] = ""
	}
	return l
}

func endpointPorts(in []discoveryv1.EndpointPort) []corev1.EndpointPort {
	var out []corev1.EndpointPort
	for _, p := range in {
		if p.Port == nil {
			continue
		}
		ep := corev1.EndpointPort{Port: *p.Port, Protocol: corev1.ProtocolTCP, AppProtocol: p.AppProtocol}
		if p.Name != nil {
			ep.Name = *p.Name
		}
		if p.Protocol != nil {
			ep.Protocol = *p.Protocol
		}
		out = append(out, ep)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func portsKey(ports []corev1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = p.Name + "/" + string(p.Protocol) + "/" + itoa(p.Port)
	}
	return strings.Join(parts, ",")
}

func sortAddresses(a []corev1.EndpointAddress) {
	sort.SliceStable(a, func(i, j int) bool { return a[i].IP < a[j].IP })
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }
