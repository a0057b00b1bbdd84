package dns

import (
	"fmt"
	"testing"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The kubernetes plugin's options, one table per option: each shows what
// the option changes against the same cluster.

func TestLookupTTLOption(t *testing.T) {
	soaWith := func(zone string, soaTTL, minimum uint32) string {
		return fmt.Sprintf("%s %d IN SOA ns.dns.%s hostmaster.%s %d 7200 1800 86400 %d", zone, soaTTL, zone, zone, testSerial, minimum)
	}
	zero := Compile(inputsOf(Config{TTL: ptr.To[uint32](0)}, clusterObjects()))
	runLookupCases(t, zero, []lookupCase{
		{name: "ttl 0 gives answers a TTL of 0, so nothing caches them",
			qname: "backend.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"backend.default.svc.cluster.local. 0 IN A 10.96.0.20"}},
		{name: "ttl 0 gives the negative answer's SOA a TTL and MINIMUM of 0",
			qname: "nosuch.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError,
			ns: []string{soaWith("cluster.local.", 0, 0)}},
	})
	long := Compile(inputsOf(Config{TTL: ptr.To[uint32](3600)}, clusterObjects()))
	runLookupCases(t, long, []lookupCase{
		{name: "ttl 3600 applies to SRV answers and their additional records",
			qname: "_http._tcp.backend.default.svc.cluster.local.", qtype: mdns.TypeSRV,
			answer: []string{"_http._tcp.backend.default.svc.cluster.local. 3600 IN SRV 0 100 80 backend.default.svc.cluster.local."},
			extra:  []string{"backend.default.svc.cluster.local. 3600 IN A 10.96.0.20"}},
		{name: "the SOA's own TTL is capped at 300 while its MINIMUM is the ttl",
			qname: "nosuch.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError,
			ns: []string{soaWith("cluster.local.", 300, 3600)}},
	})
}

func TestLookupEndpointPodNames(t *testing.T) {
	z := Compile(inputsOf(Config{EndpointPodNames: true}, clusterObjects()))
	soa := []string{soaLine("cluster.local.")}
	runLookupCases(t, z, []lookupCase{
		{name: "with endpoint_pod_names an endpoint without hostname is named after its pod",
			qname: "backend-7d4f9-x2kq.backend.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"backend-7d4f9-x2kq.backend.default.svc.cluster.local. 30 IN A 10.244.1.20"}},
		{name: "with endpoint_pod_names the pod's dashed IP is no longer a name",
			qname: "10-244-1-20.backend.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "with endpoint_pod_names the PTR names the pod",
			qname: "20.1.244.10.in-addr.arpa.", qtype: mdns.TypePTR,
			answer: []string{"20.1.244.10.in-addr.arpa. 30 IN PTR backend-7d4f9-x2kq.backend.default.svc.cluster.local."}},
		{name: "with endpoint_pod_names a hostname still wins over the pod name",
			qname: "web-0.web.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"web-0.web.default.svc.cluster.local. 30 IN A 10.244.1.5"}},
		{name: "with endpoint_pod_names an endpoint without a pod keeps its dashed IP",
			qname: "10-244-2-9.pnr.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"10-244-2-9.pnr.default.svc.cluster.local. 30 IN A 10.244.2.9"}},
	})
	plain := Compile(inputsOf(Config{}, clusterObjects()))
	runLookupCases(t, plain, []lookupCase{
		{name: "without endpoint_pod_names a pod name is not an endpoint name",
			qname: "backend-7d4f9-x2kq.backend.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
	})
}

func TestLookupNoEndpoints(t *testing.T) {
	z := Compile(inputsOf(Config{NoEndpoints: true}, clusterObjects()))
	soa := []string{soaLine("cluster.local.")}
	runLookupCases(t, z, []lookupCase{
		{name: "with noendpoints a ClusterIP Service still answers its cluster IP",
			qname: "backend.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"backend.default.svc.cluster.local. 30 IN A 10.96.0.20"}},
		{name: "with noendpoints a headless Service is NXDOMAIN",
			qname: "web.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "with noendpoints an endpoint hostname is NXDOMAIN",
			qname: "web-0.web.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "with noendpoints an endpoint IP has no PTR",
			qname: "5.1.244.10.in-addr.arpa.", qtype: mdns.TypePTR, rcode: mdns.RcodeNameError,
			ns: []string{soaLine("in-addr.arpa.")}},
		{name: "with noendpoints a cluster IP keeps its PTR",
			qname: "20.0.96.10.in-addr.arpa.", qtype: mdns.TypePTR,
			answer: []string{"20.0.96.10.in-addr.arpa. 30 IN PTR backend.default.svc.cluster.local."}},
	})
}

func TestLookupIgnoreEmptyService(t *testing.T) {
	z := Compile(inputsOf(Config{IgnoreEmptyService: true}, clusterObjects()))
	soa := []string{soaLine("cluster.local.")}
	runLookupCases(t, z, []lookupCase{
		{name: "with ignore empty_service a ClusterIP Service without endpoints is NXDOMAIN",
			qname: "interginx.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "with ignore empty_service the SRV name of an empty Service is NXDOMAIN",
			qname: "_http._tcp.interginx.default.svc.cluster.local.", qtype: mdns.TypeSRV, rcode: mdns.RcodeNameError, ns: soa},
		{name: "with ignore empty_service a Service with a ready endpoint still answers",
			qname: "backend.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"backend.default.svc.cluster.local. 30 IN A 10.96.0.20"}},
		{name: "with ignore empty_service an ExternalName Service (no endpoints by nature) keeps its CNAME",
			qname: "ext.default.svc.cluster.local.", qtype: mdns.TypeCNAME,
			answer: []string{"ext.default.svc.cluster.local. 30 IN CNAME www.example.com."}},
	})
}

func TestLookupFallthrough(t *testing.T) {
	cases := []struct {
		name    string
		through []string
		qname   string
		qtype   uint16
		want    bool
	}{
		{"by default (kubeadm) an unknown reverse name falls through", nil, "8.8.8.8.in-addr.arpa.", mdns.TypePTR, true},
		{"by default a cluster-zone NXDOMAIN does not fall through", nil, "nosuch.default.svc.cluster.local.", mdns.TypeA, false},
		{"an empty list turns fallthrough off for reverse names", []string{}, "8.8.8.8.in-addr.arpa.", mdns.TypePTR, false},
		{"fallthrough of the cluster zone passes its NXDOMAIN on", []string{"cluster.local"}, "nosuch.default.svc.cluster.local.", mdns.TypeA, true},
		{"fallthrough never passes on NODATA", []string{"cluster.local"}, "backend.default.svc.cluster.local.", mdns.TypeAAAA, false},
		{"fallthrough never passes on a positive answer", []string{"cluster.local"}, "backend.default.svc.cluster.local.", mdns.TypeA, false},
		{"a zone not listed keeps its NXDOMAIN", []string{"cluster.local"}, "8.8.8.8.in-addr.arpa.", mdns.TypePTR, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			z := Compile(inputsOf(Config{Fallthrough: tc.through}, clusterObjects()))
			if got := z.Lookup(tc.qname, tc.qtype).Fallthrough; got != tc.want {
				t.Errorf("Fallthrough = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLookupCustomClusterDomain(t *testing.T) {
	z := Compile(inputsOf(Config{Zone: "Corp.Example"}, clusterObjects()))
	soa := []string{soaLine("corp.example.")}
	runLookupCases(t, z, []lookupCase{
		{name: "a Service resolves under the configured cluster domain",
			qname: "backend.default.svc.corp.example.", qtype: mdns.TypeA,
			answer: []string{"backend.default.svc.corp.example. 30 IN A 10.96.0.20"}},
		{name: "dns-version lives under the configured cluster domain",
			qname: "dns-version.corp.example.", qtype: mdns.TypeTXT,
			answer: []string{`dns-version.corp.example. 30 IN TXT "1.1.0"`}},
		{name: "a missing Service under the configured domain carries that domain's SOA",
			qname: "nosuch.default.svc.corp.example.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "cluster.local is not ours once the domain is changed",
			qname: "backend.default.svc.cluster.local.", qtype: mdns.TypeA},
		{name: "PTR names use the configured domain",
			qname: "20.0.96.10.in-addr.arpa.", qtype: mdns.TypePTR,
			answer: []string{"20.0.96.10.in-addr.arpa. 30 IN PTR backend.default.svc.corp.example."}},
	})
}

func TestLookupPodsVerified(t *testing.T) {
	pod := func(name, ip string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Status: corev1.PodStatus{Phase: phase, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}}
	}
	objs := append(clusterObjects(),
		pod("running", "10.244.1.9", corev1.PodRunning),
		pod("done", "10.244.1.10", corev1.PodSucceeded),
		pod("pending", "10.244.1.11", corev1.PodPending))
	z := Compile(inputsOf(Config{Pods: PodsVerified}, objs))
	soa := []string{soaLine("cluster.local.")}
	runLookupCases(t, z, []lookupCase{
		{name: "in verified mode a running pod's dashed IP resolves",
			qname: "10-244-1-9.default.pod.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"10-244-1-9.default.pod.cluster.local. 30 IN A 10.244.1.9"}},
		{name: "in verified mode a pending pod that has an IP resolves",
			qname: "10-244-1-11.default.pod.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"10-244-1-11.default.pod.cluster.local. 30 IN A 10.244.1.11"}},
		{name: "in verified mode a finished pod's IP is NXDOMAIN",
			qname: "10-244-1-10.default.pod.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "in verified mode an IP no pod has is NXDOMAIN",
			qname: "10-244-1-99.default.pod.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "in verified mode a pod's IP asked in another namespace is NXDOMAIN",
			qname: "10-244-1-9.remote.pod.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "in verified mode the namespace under pod is NODATA",
			qname: "default.pod.cluster.local.", qtype: mdns.TypeA, ns: soa},
	})
	disabled := Compile(inputsOf(Config{Pods: PodsDisabled}, objs))
	runLookupCases(t, disabled, []lookupCase{
		{name: "in disabled mode the namespace under pod is NXDOMAIN",
			qname: "default.pod.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
	})
}
