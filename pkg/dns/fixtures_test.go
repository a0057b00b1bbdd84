package dns

import (
	"fmt"
	"strings"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/podnet/podnet/pkg/source"
)

const testSerial = 1700000000

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func tcpPort(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP}
}

func clusterIPService(ns, name string, ips []string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: ips[0], ClusterIPs: ips, Ports: ports,
		},
	}
}

func headlessService(ns, name string, ports ...corev1.ServicePort) *corev1.Service {
	return clusterIPService(ns, name, []string{corev1.ClusterIPNone}, ports...)
}

func externalService(ns, name, target string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: target},
	}
}

// readiness of a test endpoint: nil means the condition is unset.
func endpoint4(addr, hostname string, ready *bool) discoveryv1.Endpoint {
	e := discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
	if hostname != "" {
		e.Hostname = ptr.To(hostname)
	}
	return e
}

func withPod(e discoveryv1.Endpoint, pod string) discoveryv1.Endpoint {
	e.TargetRef = &corev1.ObjectReference{Kind: "Pod", Name: pod}
	return e
}

func slicePort(name string, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}
}

func endpointSlice(ns, name, service string, family discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: family,
		Ports:       ports,
		Endpoints:   eps,
	}
}

// clusterObjects is the cluster most tests answer from.
func clusterObjects() []source.Object {
	pnr := headlessService("default", "pnr", tcpPort("http", 80))
	pnr.Spec.PublishNotReadyAddresses = true
	http := []discoveryv1.EndpointPort{slicePort("http", 8080)}
	return []source.Object{
		namespace("default"), namespace("remote"), namespace("kube-system"), namespace("empty"),
		clusterIPService("kube-system", "kube-dns", []string{"10.96.0.10"},
			corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
			corev1.ServicePort{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP}),
		clusterIPService("default", "backend", []string{"10.96.0.20"}, tcpPort("http", 80)),
		endpointSlice("default", "backend-abc", "backend", discoveryv1.AddressTypeIPv4, http,
			withPod(endpoint4("10.244.1.20", "", nil), "backend-7d4f9-x2kq")),
		clusterIPService("default", "plain", []string{"10.96.0.21"}, tcpPort("", 8000)),
		clusterIPService("default", "interginx", []string{"10.96.0.30"}, tcpPort("http", 80)),
		clusterIPService("default", "dual", []string{"10.96.0.40", "fd00:96::40"}, tcpPort("http", 80)),
		headlessService("default", "web", tcpPort("http", 80)),
		endpointSlice("default", "web-1", "web", discoveryv1.AddressTypeIPv4, http,
			endpoint4("10.244.1.5", "web-0", ptr.To(true)),
			endpoint4("10.244.1.6", "web-1", nil),
			endpoint4("10.244.1.7", "", ptr.To(false))),
		headlessService("default", "sleepy", tcpPort("http", 80)),
		endpointSlice("default", "sleepy-1", "sleepy", discoveryv1.AddressTypeIPv4, http,
			endpoint4("10.244.3.3", "", ptr.To(false))),
		pnr,
		endpointSlice("default", "pnr-1", "pnr", discoveryv1.AddressTypeIPv4, http,
			endpoint4("10.244.2.9", "", ptr.To(false))),
		externalService("default", "ext", "www.example.com"),
		externalService("default", "alias", "backend.default.svc.cluster.local"),
		clusterIPService("remote", "other", []string{"10.96.1.1"}, tcpPort("http", 80)),
	}
}

// inputsOf sorts objects into Inputs, as the server's rebuild does.
func inputsOf(cfg Config, objs []source.Object) Inputs {
	in := Inputs{Config: cfg, Serial: testSerial}
	for _, o := range objs {
		switch v := o.(type) {
		case *corev1.Service:
			in.Services = append(in.Services, v)
		case *discoveryv1.EndpointSlice:
			in.EndpointSlices = append(in.EndpointSlices, v)
		case *corev1.Namespace:
			in.Namespaces = append(in.Namespaces, v)
		case *corev1.Pod:
			in.Pods = append(in.Pods, v)
		}
	}
	return in
}

// zoneLines renders records as zone-file lines with single spaces.
func zoneLines(rrs []mdns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == mdns.TypeOPT {
			continue
		}
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

func soaLine(zone string) string {
	return fmt.Sprintf("%s 30 IN SOA ns.dns.%s hostmaster.%s %d 7200 1800 86400 30", zone, zone, zone, testSerial)
}
