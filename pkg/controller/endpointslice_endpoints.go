package controller

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podnet/podnet/pkg/source"
)

// endpointGroup is what one family of slices holds: endpoints of one
// address type that resolved the Service's ports to the same numbers.
// Upstream groups by port set because a slice has one port list for all
// its endpoints.
type endpointGroup struct {
	addressType discoveryv1.AddressType
	ports       []discoveryv1.EndpointPort
	endpoints   map[string]discoveryv1.Endpoint // by endpointKey
}

func (g *endpointGroup) key() string { return groupKey(g.addressType, g.ports) }

func groupKey(t discoveryv1.AddressType, ports []discoveryv1.EndpointPort) string {
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		parts = append(parts, fmt.Sprintf("%s/%s/%d/%s", deref(p.Name), deref(p.Protocol), deref(p.Port), deref(p.AppProtocol)))
	}
	slices.Sort(parts)
	return string(t) + "|" + strings.Join(parts, ",")
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// endpointKey identifies an endpoint across passes by the pod behind it, so
// that a pod whose IP or readiness changes is updated in the slice it is in.
func endpointKey(ep discoveryv1.Endpoint) string {
	if ep.TargetRef != nil {
		return ep.TargetRef.Namespace + "/" + ep.TargetRef.Name
	}
	return strings.Join(ep.Addresses, ",")
}

// serviceAddressTypes: the Service's IP families; a Service without any
// takes its ClusterIP's, and a headless one without any gets both, as
// upstream's getAddressTypesForService.
func serviceAddressTypes(svc *corev1.Service) []discoveryv1.AddressType {
	var out []discoveryv1.AddressType
	for _, f := range svc.Spec.IPFamilies {
		if f == corev1.IPv6Protocol {
			out = append(out, discoveryv1.AddressTypeIPv6)
		} else {
			out = append(out, discoveryv1.AddressTypeIPv4)
		}
	}
	if len(out) > 0 {
		return out
	}
	if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil {
		if ip.Is6() && !ip.Is4In6() {
			return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv6}
		}
		return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4}
	}
	return []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}
}

// podInEndpoints is ShouldPodBeInEndpoints with terminating pods kept (the
// EndpointSlice controller publishes them with terminating=true): the pod
// must have an IP and not have finished.
func podInEndpoints(pod *corev1.Pod) bool {
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	return !podTerminal(pod)
}

// podAddress is the pod's first IP of the slice's family.
func podAddress(pod *corev1.Pod, t discoveryv1.AddressType) (string, bool) {
	ips := make([]string, 0, len(pod.Status.PodIPs)+1)
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 {
		ips = append(ips, pod.Status.PodIP)
	}
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		v6 := ip.Is6() && !ip.Is4In6()
		if v6 == (t == discoveryv1.AddressTypeIPv6) {
			return ip.Unmap().String(), true
		}
	}
	return "", false
}

// endpointPorts resolves every Service port for one pod. A port the pod
// cannot resolve (a named targetPort no container declares with that
// protocol) is left out for this pod only, as upstream does; the pod then
// lands in a slice whose port list lacks it.
func endpointPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	out := []discoveryv1.EndpointPort{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		num, ok := findPort(pod, sp)
		if !ok {
			continue
		}
		name, proto := sp.Name, protocolOf(sp.Protocol)
		out = append(out, discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: &num, AppProtocol: sp.AppProtocol})
	}
	return out
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// findPort is podutil.FindPort: a number is taken as is; a name is looked
// up among the ports of the pod's containers and sidecar (restartable
// init) containers, matching name and protocol.
func findPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		if tp.IntVal == 0 {
			return sp.Port, true // targetPort defaults to port
		}
		return tp.IntVal, true
	}
	containers := slices.Clone(pod.Spec.Containers)
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(containers, c)
		}
	}
	for _, c := range containers {
		for _, p := range c.Ports {
			if p.Name == tp.StrVal && protocolOf(p.Protocol) == protocolOf(sp.Protocol) {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}

// podEndpoint is podToEndpoint: ready is the pod's readiness, or true for
// everything when the Service publishes not-ready addresses; serving is the
// pod's readiness either way; hostname only when the pod names this Service
// as its subdomain.
func (m *Manager) podEndpoint(svc *corev1.Service, pod *corev1.Pod, addr string) discoveryv1.Endpoint {
	ready := svc.Spec.PublishNotReadyAddresses || podReady(pod)
	serving := podReady(pod)
	terminating := pod.DeletionTimestamp != nil
	ep := discoveryv1.Endpoint{
		Addresses:  []string{addr},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		node := pod.Spec.NodeName
		ep.NodeName = &node
		if o, ok := m.src.Get(source.Node, "", node); ok {
			if zone, ok := o.GetLabels()[corev1.LabelTopologyZone]; ok {
				ep.Zone = &zone
			}
		}
	}
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		hostname := pod.Spec.Hostname
		ep.Hostname = &hostname
	}
	return ep
}

// desiredEndpoints groups the endpoints the Service should have.
func (m *Manager) desiredEndpoints(svc *corev1.Service) map[string]*endpointGroup {
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	groups := map[string]*endpointGroup{}
	types := serviceAddressTypes(svc)
	for _, pod := range m.podsInNamespace(svc.Namespace) {
		if !sel.Matches(labels.Set(pod.Labels)) || !podInEndpoints(pod) {
			continue
		}
		if pod.Spec.NodeName != "" {
			// Upstream leaves out pods of nodes it does not know (yet).
			if _, ok := m.src.Get(source.Node, "", pod.Spec.NodeName); !ok {
				continue
			}
		}
		ports := endpointPorts(svc, pod)
		for _, t := range types {
			addr, ok := podAddress(pod, t)
			if !ok {
				continue
			}
			k := groupKey(t, ports)
			g := groups[k]
			if g == nil {
				g = &endpointGroup{addressType: t, ports: ports, endpoints: map[string]discoveryv1.Endpoint{}}
				groups[k] = g
			}
			ep := m.podEndpoint(svc, pod, addr)
			g.endpoints[endpointKey(ep)] = ep
		}
	}
	return groups
}
