package proxy

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Test objects are built with small helpers so each case reads as the
// manifest it stands for.

func service(ns, name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, ClusterIPs: []string{clusterIP}, Ports: ports,
		},
	}
}

func tcpPort(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: corev1.ProtocolTCP, Port: port}
}

func udpPort(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: corev1.ProtocolUDP, Port: port}
}

func withNodePort(p corev1.ServicePort, nodePort int32) corev1.ServicePort {
	p.NodePort = nodePort
	return p
}

func withType(s *corev1.Service, t corev1.ServiceType) *corev1.Service {
	s.Spec.Type = t
	return s
}

func withAffinity(s *corev1.Service, seconds int32) *corev1.Service {
	s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
	s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(seconds)}}
	return s
}

type sliceEndpoint struct {
	ip                          string
	ready, serving, terminating bool
	node                        string
}

// on places an endpoint on a node (the slice's nodeName).
func on(node string, e sliceEndpoint) sliceEndpoint { e.node = node; return e }

func ready(ip string) sliceEndpoint { return sliceEndpoint{ip: ip, ready: true, serving: true} }
func terminating(ip string) sliceEndpoint {
	return sliceEndpoint{ip: ip, serving: true, terminating: true}
}
func notReady(ip string) sliceEndpoint { return sliceEndpoint{ip: ip} }

type slicePortSpec struct {
	name  string
	proto corev1.Protocol
	port  int32
}

func sliceTCP(name string, port int32) slicePortSpec {
	return slicePortSpec{name, corev1.ProtocolTCP, port}
}

func endpointSlice(ns, svc, suffix string, ports []slicePortSpec, eps ...sliceEndpoint) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: svc + "-" + suffix,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, p := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.name), Protocol: ptr.To(p.proto), Port: ptr.To(p.port)})
	}
	for _, e := range eps {
		ep := discoveryv1.Endpoint{
			Addresses: []string{e.ip},
			Conditions: discoveryv1.EndpointConditions{
				Ready: ptr.To(e.ready), Serving: ptr.To(e.serving), Terminating: ptr.To(e.terminating),
			},
		}
		if e.node != "" {
			ep.NodeName = ptr.To(e.node)
		}
		s.Endpoints = append(s.Endpoints, ep)
	}
	return s
}

// manyServices builds n services with eps endpoints each, for benchmarks and
// scale tests.
func manyServices(n, eps int) Inputs {
	in := Inputs{ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}}
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		cip := fmt.Sprintf("10.96.%d.%d", i/250, i%250+1)
		in.Services = append(in.Services, service("bench", name, cip, tcpPort("http", 80)))
		// Distinct addresses for every endpoint of every service.
		list := make([]sliceEndpoint, eps)
		for j := range list {
			k := i*eps + j
			list[j] = ready(fmt.Sprintf("10.%d.%d.%d", 128+k/62500, (k/250)%250, k%250+1))
		}
		in.EndpointSlices = append(in.EndpointSlices, endpointSlice("bench", name, "a", []slicePortSpec{sliceTCP("http", 8080)}, list...))
	}
	return in
}
