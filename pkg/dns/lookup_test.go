package dns

import (
	"slices"
	"testing"

	mdns "github.com/miekg/dns"
)

type lookupCase struct {
	name   string
	qname  string
	qtype  uint16
	rcode  int
	answer []string
	ns     []string
	extra  []string
}

func runLookupCases(t *testing.T, z *Zone, cases []lookupCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := z.Lookup(tc.qname, tc.qtype)
			if r.Rcode != tc.rcode {
				t.Errorf("rcode = %s, want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tc.rcode])
			}
			check := func(section string, got []mdns.RR, want []string) {
				if g := zoneLines(got); !slices.Equal(g, want) {
					t.Errorf("%s:\n got %q\nwant %q", section, g, want)
				}
			}
			check("answer", r.Answer, tc.answer)
			check("authority", r.Ns, tc.ns)
			check("additional", r.Extra, tc.extra)
		})
	}
}

func TestLookupSpecRecords(t *testing.T) {
	z := Compile(inputsOf(Config{}, clusterObjects()))
	soa := []string{soaLine("cluster.local.")}
	runLookupCases(t, z, []lookupCase{
		{name: "the schema version is a TXT record at dns-version",
			qname: "dns-version.cluster.local.", qtype: mdns.TypeTXT,
			answer: []string{`dns-version.cluster.local. 30 IN TXT "1.1.0"`}},
		{name: "dns-version has no A record, so A is NODATA",
			qname: "dns-version.cluster.local.", qtype: mdns.TypeA, ns: soa},
		{name: "a ClusterIP Service has an A record for its cluster IP",
			qname: "backend.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"backend.default.svc.cluster.local. 30 IN A 10.96.0.20"}},
		{name: "a name without the final dot is read as fully qualified",
			qname: "backend.default.svc.cluster.local", qtype: mdns.TypeA,
			answer: []string{"backend.default.svc.cluster.local. 30 IN A 10.96.0.20"}},
		{name: "names are matched case-insensitively and answered in the query's case",
			qname: "BackEnd.Default.SVC.Cluster.Local.", qtype: mdns.TypeA,
			answer: []string{"BackEnd.Default.SVC.Cluster.Local. 30 IN A 10.96.0.20"}},
		{name: "a negative answer's SOA owner keeps the query's case",
			qname: "Nope.Default.SVC.Cluster.Local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError,
			ns: []string{"Cluster.Local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 30"}},
		{name: "an IPv4-only ClusterIP Service has no AAAA, so AAAA is NODATA",
			qname: "backend.default.svc.cluster.local.", qtype: mdns.TypeAAAA, ns: soa},
		{name: "a dual-stack Service answers A with its IPv4 cluster IP",
			qname: "dual.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"dual.default.svc.cluster.local. 30 IN A 10.96.0.40"}},
		{name: "a dual-stack Service answers AAAA with its IPv6 cluster IP",
			qname: "dual.default.svc.cluster.local.", qtype: mdns.TypeAAAA,
			answer: []string{"dual.default.svc.cluster.local. 30 IN AAAA fd00:96::40"}},
		{name: "a Service in another namespace resolves by its own namespace",
			qname: "other.remote.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"other.remote.svc.cluster.local. 30 IN A 10.96.1.1"}},
		{name: "a Service that lives only in another namespace is NXDOMAIN (seed 004)",
			qname: "interginx.remote.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "a TXT query on a Service is NODATA",
			qname: "backend.default.svc.cluster.local.", qtype: mdns.TypeTXT, ns: soa},
		{name: "a named port has an SRV record targeting the Service, with its A record as additional",
			qname: "_http._tcp.backend.default.svc.cluster.local.", qtype: mdns.TypeSRV,
			answer: []string{"_http._tcp.backend.default.svc.cluster.local. 30 IN SRV 0 100 80 backend.default.svc.cluster.local."},
			extra:  []string{"backend.default.svc.cluster.local. 30 IN A 10.96.0.20"}},
		{name: "SRV port and protocol labels are case-insensitive",
			qname: "_HTTP._TCP.backend.default.svc.cluster.local.", qtype: mdns.TypeSRV,
			answer: []string{"_HTTP._TCP.backend.default.svc.cluster.local. 30 IN SRV 0 100 80 backend.default.svc.cluster.local."},
			extra:  []string{"backend.default.svc.cluster.local. 30 IN A 10.96.0.20"}},
		{name: "a port name with the wrong protocol has no SRV and is NXDOMAIN",
			qname: "_http._udp.backend.default.svc.cluster.local.", qtype: mdns.TypeSRV, rcode: mdns.RcodeNameError, ns: soa},
		{name: "an A query on an SRV name is NODATA",
			qname: "_http._tcp.backend.default.svc.cluster.local.", qtype: mdns.TypeA, ns: soa},
		{name: "an unnamed port has no _port._proto name",
			qname: "_._tcp.plain.default.svc.cluster.local.", qtype: mdns.TypeSRV, rcode: mdns.RcodeNameError, ns: soa},
		{name: "an SRV query on the bare Service name lists every port, unnamed ones too",
			qname: "plain.default.svc.cluster.local.", qtype: mdns.TypeSRV,
			answer: []string{"plain.default.svc.cluster.local. 30 IN SRV 0 100 8000 plain.default.svc.cluster.local."},
			extra:  []string{"plain.default.svc.cluster.local. 30 IN A 10.96.0.21"}},
		{name: "an SRV record of a dual-stack Service carries both addresses as additional",
			qname: "_http._tcp.dual.default.svc.cluster.local.", qtype: mdns.TypeSRV,
			answer: []string{"_http._tcp.dual.default.svc.cluster.local. 30 IN SRV 0 100 80 dual.default.svc.cluster.local."},
			extra: []string{"dual.default.svc.cluster.local. 30 IN A 10.96.0.40",
				"dual.default.svc.cluster.local. 30 IN AAAA fd00:96::40"}},
		{name: "a single label under a Service is an endpoint name, so _tcp alone is NXDOMAIN",
			qname: "_tcp.backend.default.svc.cluster.local.", qtype: mdns.TypeSRV, rcode: mdns.RcodeNameError, ns: soa},
		{name: "an endpoint of a ClusterIP Service resolves by its dashed IP",
			qname: "10-244-1-20.backend.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"10-244-1-20.backend.default.svc.cluster.local. 30 IN A 10.244.1.20"}},
		{name: "a headless Service answers A with every ready endpoint, nil readiness counting as ready",
			qname: "web.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"web.default.svc.cluster.local. 30 IN A 10.244.1.5",
				"web.default.svc.cluster.local. 30 IN A 10.244.1.6"}},
		{name: "a headless endpoint with a hostname resolves by hostname",
			qname: "web-0.web.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"web-0.web.default.svc.cluster.local. 30 IN A 10.244.1.5"}},
		{name: "an endpoint with a hostname is not reachable by its dashed IP",
			qname: "10-244-1-5.web.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "a not-ready endpoint has no name",
			qname: "10-244-1-7.web.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "a hostname has no AAAA when its endpoint is IPv4, so AAAA is NODATA",
			qname: "web-1.web.default.svc.cluster.local.", qtype: mdns.TypeAAAA, ns: soa},
		{name: "a headless named port has one SRV per ready endpoint, with the endpoint port and targets' A records",
			qname: "_http._tcp.web.default.svc.cluster.local.", qtype: mdns.TypeSRV,
			answer: []string{
				"_http._tcp.web.default.svc.cluster.local. 30 IN SRV 0 50 8080 web-0.web.default.svc.cluster.local.",
				"_http._tcp.web.default.svc.cluster.local. 30 IN SRV 0 50 8080 web-1.web.default.svc.cluster.local."},
			extra: []string{"web-0.web.default.svc.cluster.local. 30 IN A 10.244.1.5",
				"web-1.web.default.svc.cluster.local. 30 IN A 10.244.1.6"}},
		{name: "a headless Service with no ready endpoints is NXDOMAIN",
			qname: "sleepy.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "the SRV name of a headless Service with no ready endpoints is NXDOMAIN",
			qname: "_http._tcp.sleepy.default.svc.cluster.local.", qtype: mdns.TypeSRV, rcode: mdns.RcodeNameError, ns: soa},
		{name: "publishNotReadyAddresses publishes a not-ready endpoint",
			qname: "pnr.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"pnr.default.svc.cluster.local. 30 IN A 10.244.2.9"}},
		{name: "a headless SRV target without hostname is its dashed IP",
			qname: "_http._tcp.pnr.default.svc.cluster.local.", qtype: mdns.TypeSRV,
			answer: []string{"_http._tcp.pnr.default.svc.cluster.local. 30 IN SRV 0 100 8080 10-244-2-9.pnr.default.svc.cluster.local."},
			extra:  []string{"10-244-2-9.pnr.default.svc.cluster.local. 30 IN A 10.244.2.9"}},
		{name: "an ExternalName Service is a CNAME to its external name",
			qname: "ext.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"ext.default.svc.cluster.local. 30 IN CNAME www.example.com."}},
		{name: "an ExternalName Service answers a CNAME query with its CNAME",
			qname: "ext.default.svc.cluster.local.", qtype: mdns.TypeCNAME,
			answer: []string{"ext.default.svc.cluster.local. 30 IN CNAME www.example.com."}},
		{name: "an ExternalName pointing into the cluster is chased to the target's A record",
			qname: "alias.default.svc.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"alias.default.svc.cluster.local. 30 IN CNAME backend.default.svc.cluster.local.",
				"backend.default.svc.cluster.local. 30 IN A 10.96.0.20"}},
		{name: "a name below an ExternalName Service is NXDOMAIN",
			qname: "x.ext.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "a ClusterIP Service name has no CNAME, so CNAME is NODATA",
			qname: "backend.default.svc.cluster.local.", qtype: mdns.TypeCNAME, ns: soa},
	})
}

func TestLookupNegativeAnswers(t *testing.T) {
	z := Compile(inputsOf(Config{}, clusterObjects()))
	soa := []string{soaLine("cluster.local.")}
	runLookupCases(t, z, []lookupCase{
		{name: "the zone apex is NODATA for A",
			qname: "cluster.local.", qtype: mdns.TypeA, ns: soa},
		{name: "the zone apex answers its SOA",
			qname: "cluster.local.", qtype: mdns.TypeSOA, answer: soa},
		{name: "the zone apex NS names the kube-dns Service with its address as glue",
			qname: "cluster.local.", qtype: mdns.TypeNS,
			answer: []string{"cluster.local. 30 IN NS kube-dns.kube-system.svc.cluster.local."},
			extra:  []string{"kube-dns.kube-system.svc.cluster.local. 30 IN A 10.96.0.10"}},
		{name: "svc under the zone is NODATA",
			qname: "svc.cluster.local.", qtype: mdns.TypeA, ns: soa},
		{name: "an existing namespace with Services is NODATA",
			qname: "default.svc.cluster.local.", qtype: mdns.TypeA, ns: soa},
		{name: "an existing namespace without Services is NODATA",
			qname: "empty.svc.cluster.local.", qtype: mdns.TypeA, ns: soa},
		{name: "a missing namespace is NXDOMAIN",
			qname: "nosuch.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "a Service in a missing namespace is NXDOMAIN",
			qname: "backend.nosuch.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "a missing Service in an existing namespace is NXDOMAIN",
			qname: "nosuch.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "a label that is neither svc nor pod is NXDOMAIN",
			qname: "foo.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "a name with a junk label before the zone is NXDOMAIN",
			qname: "web.prod.junk.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "a name too long for the grammar is NXDOMAIN",
			qname: "a._http._tcp.backend.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "a wildcard is not expanded and is NXDOMAIN",
			qname: "*.default.svc.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "a name outside every zone is not ours",
			qname: "www.example.com.", qtype: mdns.TypeA, rcode: mdns.RcodeSuccess},
	})
}

func TestLookupPods(t *testing.T) {
	soa := []string{soaLine("cluster.local.")}
	insecure := Compile(inputsOf(Config{}, clusterObjects()))
	runLookupCases(t, insecure, []lookupCase{
		{name: "in insecure mode a dashed IPv4 in an existing namespace resolves",
			qname: "10-244-1-9.default.pod.cluster.local.", qtype: mdns.TypeA,
			answer: []string{"10-244-1-9.default.pod.cluster.local. 30 IN A 10.244.1.9"}},
		{name: "in insecure mode a dashed IPv6 resolves to AAAA",
			qname: "fd00-10-244-2--50.default.pod.cluster.local.", qtype: mdns.TypeAAAA,
			answer: []string{"fd00-10-244-2--50.default.pod.cluster.local. 30 IN AAAA fd00:10:244:2::50"}},
		{name: "a dashed IPv4 has no AAAA, so AAAA is NODATA",
			qname: "10-244-1-9.default.pod.cluster.local.", qtype: mdns.TypeAAAA, ns: soa},
		{name: "a pod name that is not an IP is NXDOMAIN",
			qname: "web-0.default.pod.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "a dashed IP in a missing namespace is NXDOMAIN",
			qname: "10-244-1-9.nosuch.pod.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
		{name: "an existing namespace under pod is NODATA",
			qname: "default.pod.cluster.local.", qtype: mdns.TypeA, ns: soa},
	})
	disabled := Compile(inputsOf(Config{Pods: PodsDisabled}, clusterObjects()))
	runLookupCases(t, disabled, []lookupCase{
		{name: "in disabled mode every pod name is NXDOMAIN",
			qname: "10-244-1-9.default.pod.cluster.local.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, ns: soa},
	})
}

func TestLookupReverse(t *testing.T) {
	z := Compile(inputsOf(Config{}, clusterObjects()))
	runLookupCases(t, z, []lookupCase{
		{name: "a cluster IP has a PTR to its Service",
			qname: "20.0.96.10.in-addr.arpa.", qtype: mdns.TypePTR,
			answer: []string{"20.0.96.10.in-addr.arpa. 30 IN PTR backend.default.svc.cluster.local."}},
		{name: "a headless endpoint IP has a PTR to its hostname name",
			qname: "5.1.244.10.in-addr.arpa.", qtype: mdns.TypePTR,
			answer: []string{"5.1.244.10.in-addr.arpa. 30 IN PTR web-0.web.default.svc.cluster.local."}},
		{name: "an endpoint of a ClusterIP Service has a PTR to its dashed-IP name",
			qname: "20.1.244.10.in-addr.arpa.", qtype: mdns.TypePTR,
			answer: []string{"20.1.244.10.in-addr.arpa. 30 IN PTR 10-244-1-20.backend.default.svc.cluster.local."}},
		{name: "an IPv6 cluster IP has a PTR under ip6.arpa",
			qname: "0.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa.", qtype: mdns.TypePTR,
			answer: []string{"0.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa. 30 IN PTR dual.default.svc.cluster.local."}},
		{name: "a not-ready endpoint has no PTR",
			qname: "7.1.244.10.in-addr.arpa.", qtype: mdns.TypePTR, rcode: mdns.RcodeNameError,
			ns: []string{soaLine("in-addr.arpa.")}},
		{name: "an A query on a cluster IP's reverse name is NODATA",
			qname: "20.0.96.10.in-addr.arpa.", qtype: mdns.TypeA,
			ns: []string{soaLine("in-addr.arpa.")}},
	})
	if r := z.Lookup("8.8.8.8.in-addr.arpa.", mdns.TypePTR); !r.Fallthrough {
		t.Errorf("a reverse name outside the cluster should fall through to upstreams")
	}
}

func TestCompileIgnoresObjectOrder(t *testing.T) {
	objs := clusterObjects()
	a := Compile(inputsOf(Config{}, objs))
	slices.Reverse(objs)
	b := Compile(inputsOf(Config{}, objs))
	for _, q := range []string{"web.default.svc.cluster.local.", "_http._tcp.web.default.svc.cluster.local."} {
		for _, qt := range []uint16{mdns.TypeA, mdns.TypeSRV} {
			if x, y := zoneLines(a.Lookup(q, qt).Answer), zoneLines(b.Lookup(q, qt).Answer); !slices.Equal(x, y) {
				t.Errorf("%s %s: %q vs %q", q, mdns.TypeToString[qt], x, y)
			}
		}
	}
}
