package proxy

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Traffic policies and LoadBalancer source ranges, traced through the
// compiled rules of node-1 (podA is on node-1, podB on node-2).
func TestCompileTrafficPolicies(t *testing.T) {
	const lbIP = "172.18.255.200"
	withETP := func(s *corev1.Service, p corev1.ServiceExternalTrafficPolicy) *corev1.Service {
		s.Spec.ExternalTrafficPolicy = p
		return s
	}
	withITP := func(s *corev1.Service) *corev1.Service {
		s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
		return s
	}
	withLB := func(s *corev1.Service, ranges ...string) *corev1.Service {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.LoadBalancerSourceRanges = ranges
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: lbIP}}
		return s
	}
	both := []sliceEndpoint{on("node-1", ready(podA)), on("node-2", ready(podB))}
	onlyRemote := []sliceEndpoint{on("node-2", ready(podB))}
	slice := func(name string, eps []sliceEndpoint) any {
		return endpointSlice("default", name, "a", []slicePortSpec{sliceTCP("", 80)}, eps...)
	}
	np := func(name, ip string, nodePort int32) *corev1.Service {
		return withType(service("default", name, ip, withNodePort(tcpPort("", 80), nodePort)), corev1.ServiceTypeNodePort)
	}

	in := testInputs(
		withETP(np("local", "10.96.1.1", 30001), corev1.ServiceExternalTrafficPolicyLocal), slice("local", both),
		withETP(np("local-none", "10.96.1.2", 30002), corev1.ServiceExternalTrafficPolicyLocal), slice("local-none", onlyRemote),
		np("cluster", "10.96.1.3", 30003), slice("cluster", both),
		withITP(service("default", "itp", "10.96.1.4", tcpPort("", 80))), slice("itp", both),
		withITP(service("default", "itp-none", "10.96.1.5", tcpPort("", 80))), slice("itp-none", onlyRemote),
		withETP(np("local-empty", "10.96.1.6", 30006), corev1.ServiceExternalTrafficPolicyLocal), slice("local-empty", nil),
	)
	in.ClusterCIDRs = []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}
	inFW := func(ranges ...string) Inputs {
		return testInputs(withLB(np("lb", "10.96.2.1", 30010), ranges...), slice("lb", both))
	}
	inLBLocal := testInputs(withETP(withLB(np("lb", "10.96.2.1", 30010)), corev1.ServiceExternalTrafficPolicyLocal), slice("lb", both))
	inLBLocal.ClusterCIDRs = in.ClusterCIDRs

	tr := newTracer(t, applied(t, in), nodeIP, "10.244.0.1")
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"eTP Local: an external client reaches only this node's endpoint, unmasqueraded",
			tr.fromPod(outsider, nodeIP, "tcp", 30001), endpoints(podA + ":80")},
		{"eTP Local: no endpoint on this node drops external traffic",
			tr.fromPod(outsider, nodeIP, "tcp", 30002), endpoints("drop")},
		{"eTP Local: a pod reaching the NodePort is not external: every endpoint",
			tr.fromPod("10.244.0.9", nodeIP, "tcp", 30001), endpoints(podA+":80", podB+":80")},
		{"eTP Local: the node itself reaches every endpoint, masqueraded",
			tr.fromNode(nodeIP, nodeIP, "tcp", 30001), endpoints(podA+":80 masq", podB+":80 masq")},
		{"eTP Local: the ClusterIP still reaches every endpoint",
			tr.fromPod("10.244.0.9", "10.96.1.1", "tcp", 80), endpoints(podA+":80", podB+":80")},
		{"eTP Local with no endpoints anywhere rejects",
			tr.fromPod(outsider, nodeIP, "tcp", 30006), endpoints("reject")},
		{"eTP Cluster: an external client reaches every endpoint, masqueraded",
			tr.fromPod(outsider, nodeIP, "tcp", 30003), endpoints(podA+":80 masq", podB+":80 masq")},
		{"a ClusterIP reached from outside the pod ranges is masqueraded",
			tr.fromPod(outsider, "10.96.1.3", "tcp", 80), endpoints(podA+":80 masq", podB+":80 masq")},
		{"a ClusterIP reached from the node itself is masqueraded",
			tr.fromNode(nodeIP, "10.96.1.3", "tcp", 80), endpoints(podA+":80 masq", podB+":80 masq")},
		{"a ClusterIP reached from a pod is not masqueraded",
			tr.fromPod("10.244.0.9", "10.96.1.3", "tcp", 80), endpoints(podA+":80", podB+":80")},
		{"an undefined port of a ClusterIP from outside is still rejected",
			tr.fromPod(outsider, "10.96.1.3", "tcp", 81), endpoints("reject")},
		{"iTP Local: a pod reaches only this node's endpoint",
			tr.fromPod("10.244.0.9", "10.96.1.4", "tcp", 80), endpoints(podA + ":80")},
		{"iTP Local: no endpoint on this node drops",
			tr.fromPod("10.244.0.9", "10.96.1.5", "tcp", 80), endpoints("drop")},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}

	for _, tc := range []struct {
		name  string
		in    Inputs
		src   string
		dst   string
		dport int
		want  []string
	}{
		{"source ranges admit a listed client", inFW("172.18.0.0/24"), outsider, lbIP, 80, endpoints(podA+":80 masq", podB+":80 masq")},
		{"source ranges drop other clients", inFW("10.0.0.0/8", "192.168.0.0/16"), outsider, lbIP, 80, endpoints("drop")},
		{"no source ranges admit everyone", inFW(), outsider, lbIP, 80, endpoints(podA+":80 masq", podB+":80 masq")},
		{"source ranges do not apply to the NodePort", inFW("10.0.0.0/8"), outsider, nodeIP, 30010, endpoints(podA+":80 masq", podB+":80 masq")},
		{"LoadBalancer with eTP Local keeps the client address", inLBLocal, outsider, lbIP, 80, endpoints(podA + ":80")},
	} {
		got := newTracer(t, applied(t, tc.in), nodeIP, "10.244.0.1").fromPod(tc.src, tc.dst, "tcp", tc.dport)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
