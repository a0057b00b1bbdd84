package printers

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func describeService(d *describeWriter, svc *corev1.Service, slices []*discoveryv1.EndpointSlice) {
	d.write(0, "Name:\t%s\n", svc.Name)
	d.write(0, "Namespace:\t%s\n", svc.Namespace)
	d.labelsMultiline("Labels", svc.Labels)
	d.annotationsMultiline("Annotations", svc.Annotations)
	d.write(0, "Selector:\t%s\n", labels.FormatLabels(svc.Spec.Selector))
	d.write(0, "Type:\t%s\n", serviceType(svc))
	if svc.Spec.IPFamilyPolicy != nil {
		d.write(0, "IP Family Policy:\t%s\n", *svc.Spec.IPFamilyPolicy)
	}
	if len(svc.Spec.IPFamilies) > 0 {
		fams := make([]string, len(svc.Spec.IPFamilies))
		for i, f := range svc.Spec.IPFamilies {
			fams[i] = string(f)
		}
		d.write(0, "IP Families:\t%s\n", strings.Join(fams, ","))
	} else {
		d.write(0, "IP Families:\t<none>\n")
	}
	d.write(0, "IP:\t%s\n", svc.Spec.ClusterIP)
	if len(svc.Spec.ClusterIPs) > 0 {
		d.write(0, "IPs:\t%s\n", strings.Join(svc.Spec.ClusterIPs, ","))
	} else {
		d.write(0, "IPs:\t<none>\n")
	}
	if len(svc.Spec.ExternalIPs) > 0 {
		d.write(0, "External IPs:\t%v\n", strings.Join(svc.Spec.ExternalIPs, ","))
	}
	if svc.Spec.LoadBalancerIP != "" {
		d.write(0, "Desired LoadBalancer IP:\t%s\n", svc.Spec.LoadBalancerIP)
	}
	if svc.Spec.ExternalName != "" {
		d.write(0, "External Name:\t%s\n", svc.Spec.ExternalName)
	}
	if len(svc.Status.LoadBalancer.Ingress) > 0 {
		d.write(0, "LoadBalancer Ingress:\t%s\n", lbIngress(svc.Status.LoadBalancer.Ingress))
	}
	for _, sp := range svc.Spec.Ports {
		name := sp.Name
		if name == "" {
			name = "<unset>"
		}
		proto := protocolOrTCP(sp.Protocol)
		d.write(0, "Port:\t%s\t%d/%s\n", name, sp.Port, proto)
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(sp.Port) // the API server's default
		}
		if target.Type == intstr.Int {
			d.write(0, "TargetPort:\t%d/%s\n", target.IntVal, proto)
		} else {
			d.write(0, "TargetPort:\t%s/%s\n", target.StrVal, proto)
		}
		if sp.AppProtocol != nil {
			d.write(0, "AppProtocol:\t%s\n", *sp.AppProtocol)
		}
		if sp.NodePort != 0 {
			d.write(0, "NodePort:\t%s\t%d/%s\n", name, sp.NodePort, proto)
		}
		d.write(0, "Endpoints:\t%s\n", formatSliceEndpoints(slices, sp.Name))
	}
	affinity := svc.Spec.SessionAffinity
	if affinity == "" {
		affinity = corev1.ServiceAffinityNone
	}
	d.write(0, "Session Affinity:\t%s\n", affinity)
	if svc.Spec.ExternalTrafficPolicy != "" {
		d.write(0, "External Traffic Policy:\t%s\n", svc.Spec.ExternalTrafficPolicy)
	}
	if svc.Spec.InternalTrafficPolicy != nil {
		d.write(0, "Internal Traffic Policy:\t%s\n", *svc.Spec.InternalTrafficPolicy)
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		d.write(0, "HealthCheck NodePort:\t%d\n", svc.Spec.HealthCheckNodePort)
	}
	if len(svc.Spec.LoadBalancerSourceRanges) > 0 {
		d.write(0, "LoadBalancer Source Ranges:\t%v\n", strings.Join(svc.Spec.LoadBalancerSourceRanges, ","))
	}
	if svc.Spec.TrafficDistribution != nil {
		d.write(0, "Traffic Distribution:\t%s\n", *svc.Spec.TrafficDistribution)
	}
}

func lbIngress(in []corev1.LoadBalancerIngress) string {
	parts := make([]string, len(in))
	for i, ing := range in {
		if ing.IP == "" {
			parts[i] = ing.Hostname
			continue
		}
		parts[i] = ing.IP
		if ing.IPMode != nil {
			parts[i] += fmt.Sprintf(" (%s)", *ing.IPMode)
		}
	}
	return strings.Join(parts, ", ")
}

// formatSliceEndpoints lists the ready endpoints of one service port across
// slices, as kubectl describe service does (not-ready ones are left out).
func formatSliceEndpoints(slices []*discoveryv1.EndpointSlice, portName string) string {
	if len(slices) == 0 {
		return "<none>"
	}
	var list []string
	count := 0
	add := func(s string) {
		if len(list) < listMax {
			list = append(list, s)
		}
		count++
	}
	for _, s := range slices {
		if len(s.Ports) == 0 {
			for _, e := range s.Endpoints {
				if endpointReady(e) && len(e.Addresses) > 0 {
					add(e.Addresses[0])
				}
			}
			continue
		}
		for _, p := range s.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			if name != portName || p.Port == nil {
				continue
			}
			for _, e := range s.Endpoints {
				if endpointReady(e) && len(e.Addresses) > 0 {
					add(net.JoinHostPort(e.Addresses[0], strconv.Itoa(int(*p.Port))))
				}
			}
		}
	}
	ret := strings.Join(list, ",")
	if count > listMax {
		return fmt.Sprintf("%s + %d more...", ret, count-listMax)
	}
	return ret
}

// endpointReady reads a nil ready condition as ready, as the API asks.
func endpointReady(e discoveryv1.Endpoint) bool {
	return e.Conditions.Ready == nil || *e.Conditions.Ready
}

func describeEndpoints(d *describeWriter, ep *corev1.Endpoints) {
	d.write(0, "Name:\t%s\n", ep.Name)
	d.write(0, "Namespace:\t%s\n", ep.Namespace)
	d.labelsMultiline("Labels", ep.Labels)
	d.annotationsMultiline("Annotations", ep.Annotations)
	d.write(0, "Subsets:\n")
	for _, ss := range ep.Subsets {
		d.write(1, "Addresses:\t%s\n", orNone(joinIPs(ss.Addresses)))
		d.write(1, "NotReadyAddresses:\t%s\n", orNone(joinIPs(ss.NotReadyAddresses)))
		if len(ss.Ports) > 0 {
			d.write(1, "Ports:\n")
			d.write(2, "Name\tPort\tProtocol\n")
			d.write(2, "----\t----\t--------\n")
			for _, p := range ss.Ports {
				name := p.Name
				if name == "" {
					name = "<unset>"
				}
				d.write(2, "%s\t%d\t%s\n", name, p.Port, p.Protocol)
			}
		}
		d.write(0, "\n")
	}
}

func joinIPs(addrs []corev1.EndpointAddress) string {
	ips := make([]string, len(addrs))
	for i, a := range addrs {
		ips[i] = a.IP
	}
	return strings.Join(ips, ",")
}

func describeEndpointSlice(d *describeWriter, s *discoveryv1.EndpointSlice) {
	d.write(0, "Name:\t%s\n", s.Name)
	d.write(0, "Namespace:\t%s\n", s.Namespace)
	d.labelsMultiline("Labels", s.Labels)
	d.annotationsMultiline("Annotations", s.Annotations)
	d.write(0, "AddressType:\t%s\n", string(s.AddressType))
	if len(s.Ports) == 0 {
		d.write(0, "Ports: <unset>\n")
	} else {
		d.write(0, "Ports:\n")
		d.write(1, "Name\tPort\tProtocol\n")
		d.write(1, "----\t----\t--------\n")
		for _, p := range s.Ports {
			name, num, proto := "<unset>", "<unset>", string(corev1.ProtocolTCP)
			if p.Name != nil && *p.Name != "" {
				name = *p.Name
			}
			if p.Port != nil {
				num = strconv.Itoa(int(*p.Port))
			}
			if p.Protocol != nil {
				proto = string(*p.Protocol)
			}
			d.write(1, "%s\t%s\t%s\n", name, num, proto)
		}
	}
	if len(s.Endpoints) == 0 {
		d.write(0, "Endpoints: <none>\n")
		return
	}
	d.write(0, "Endpoints:\n")
	for _, e := range s.Endpoints {
		d.write(1, "- Addresses:\t%s\n", orNone(strings.Join(e.Addresses, ", ")))
		d.write(2, "Conditions:\n")
		d.write(3, "Ready:\t%s\n", boolPtrOrUnset(e.Conditions.Ready))
		d.write(2, "Hostname:\t%s\n", stringPtrOrUnset(e.Hostname))
		if e.TargetRef != nil {
			d.write(2, "TargetRef:\t%s/%s\n", e.TargetRef.Kind, e.TargetRef.Name)
		}
		d.write(2, "NodeName:\t%s\n", stringPtrOrUnset(e.NodeName))
		d.write(2, "Zone:\t%s\n", stringPtrOrUnset(e.Zone))
	}
}

func boolPtrOrUnset(b *bool) string {
	if b == nil {
		return "<unset>"
	}
	return strconv.FormatBool(*b)
}

func stringPtrOrUnset(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}
