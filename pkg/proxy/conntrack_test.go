package proxy

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestStaleUDPFlows(t *testing.T) {
	dns := service("kube-system", "kube-dns", "10.96.0.10", udpPort("dns", 53), tcpPort("dns-tcp", 53))
	dnsEPs := endpointSlice("kube-system", "kube-dns", "a",
		[]slicePortSpec{{"dns", corev1.ProtocolUDP, 53}, {"dns-tcp", corev1.ProtocolTCP, 53}}, ready(podA), terminating(podB))
	np := withType(service("default", "np", "10.96.0.70", withNodePort(udpPort("", 90), 30090)), corev1.ServiceTypeNodePort)
	npEPs := endpointSlice("default", "np", "a", []slicePortSpec{{"", corev1.ProtocolUDP, 90}}, ready(podA))
	gone := service("default", "gone", "10.96.0.80", udpPort("", 90))
	in := testInputs(dns, dnsEPs, np, npEPs, gone)
	in.NodeIPs = []netip.Addr{netip.MustParseAddr(nodeIP)}
	stale := staleUDP(in)
	ap := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	for _, tc := range []struct {
		name   string
		dst    netip.AddrPort
		reply  netip.Addr
		delete bool
	}{
		{"a ClusterIP flow answered by a serving endpoint stays", ap("10.96.0.10:53"), ip(podA), false},
		{"a terminating endpoint that still serves keeps its flows", ap("10.96.0.10:53"), ip(podB), false},
		{"a ClusterIP flow answered by a gone endpoint goes", ap("10.96.0.10:53"), ip("10.244.0.77"), true},
		{"a flow of a Service with no endpoints left goes", ap("10.96.0.80:90"), ip("10.244.0.77"), true},
		{"a NodePort flow to a gone endpoint goes", ap(nodeIP + ":30090"), ip("10.244.0.77"), true},
		{"a NodePort flow to a serving endpoint stays", ap(nodeIP + ":30090"), ip(podA), false},
		{"the NodePort number on another address is not a NodePort flow", ap("172.18.0.9:30090"), ip("10.244.0.77"), false},
		{"a flow to a pod, not a Service, is not touched", ap(podA + ":53"), ip(podA), false},
		{"an unanswered flow still DNATed nowhere (reply from the VIP itself) goes", ap("10.96.0.10:53"), ip("10.96.0.10"), true},
	} {
		if got := stale(tc.dst, tc.reply); got != tc.delete {
			t.Errorf("%s: stale = %v, want %v", tc.name, got, tc.delete)
		}
	}
	if hasUDP(testInputs(service("default", "web", "10.96.0.20", tcpPort("http", 80)))) {
		t.Errorf("a TCP-only cluster has no UDP flows to clean")
	}
}
