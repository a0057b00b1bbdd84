package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// seed003 is seed 003's objects: the nginx Service with a named port, the
// Service foo in namespace bar, a headless Service with a pod that has a
// hostname and subdomain, the dns-example pod with dnsPolicy None, and a
// dnsutils pod to run dig from.
const seed003 = `apiVersion: v1
kind: Namespace
metadata: {name: bar}
---
apiVersion: v1
kind: Pod
metadata: {name: nginx, namespace: default, labels: {app: nginx}}
spec: {containers: [{name: nginx, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: nginx, namespace: default}
spec:
  selector: {app: nginx}
  ports: [{port: 80, name: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: foo, namespace: bar, labels: {app: foo}}
spec: {containers: [{name: nginx, image: nginx}]}
---
apiVersion: v1
kind: Service
metadata: {name: foo, namespace: bar}
spec:
  selector: {app: foo}
  ports: [{port: 80, name: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80, name: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: default, labels: {app: web}}
spec:
  hostname: web-0
  subdomain: web
  containers: [{name: nginx, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: dns-example, namespace: default}
spec:
  containers: [{name: test, image: nginx}]
  dnsPolicy: "None"
  dnsConfig:
    nameservers: [1.2.3.4]
    searches: [ns1.svc.cluster-domain.example, my.dns.search.suffix]
    options:
    - {name: ndots, value: "2"}
    - {name: edns0}
---
apiVersion: v1
kind: Pod
metadata: {name: dnsutils, namespace: default}
spec:
  containers: [{name: dnsutils, image: tutum/dnsutils, command: [sleep, "3600"]}]
`

// TestDNSSeed003 walks seed 003 with dig inside a pod: the records the
// tutorial shows (A with TTL 30, SRV for a named port, pod A records, short
// names through the search list), the negative answers, the custom
// dnsConfig, and a Corefile change applied without restarting the DNS pods.
func TestDNSSeed003(t *testing.T) {
	l := newLab(t)
	l.up()
	file := filepath.Join(t.TempDir(), "seed003.yaml")
	if err := os.WriteFile(file, []byte(seed003), 0o644); err != nil {
		t.Fatal(err)
	}
	l.must("apply", "-f", file)
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "-n", "bar", "--timeout=60s")

	jp := func(args ...string) string { return strings.TrimSpace(l.must(args...)) }
	vars := map[string]string{
		"{nginx}":   jp("get", "svc", "nginx", "-o", "jsonpath={.spec.clusterIP}"),
		"{foo}":     jp("get", "svc", "foo", "-n", "bar", "-o", "jsonpath={.spec.clusterIP}"),
		"{web-0}":   jp("get", "pod", "web-0", "-o", "jsonpath={.status.podIP}"),
		"{dnsutil}": jp("get", "pod", "dnsutils", "-o", "jsonpath={.status.podIP}"),
	}
	vars["{dashed}"] = strings.ReplaceAll(vars["{dnsutil}"], ".", "-")
	expand := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, k, v)
		}
		return s
	}
	dig := func(args ...string) string {
		return l.must(append([]string{"exec", "dnsutils", "--", "dig", "+noall", "+answer", "+authority", "+comments"}, args...)...)
	}

	resolv := l.must("exec", "dnsutils", "--", "cat", "/etc/resolv.conf")
	for _, want := range []string{"search default.svc.cluster.local svc.cluster.local cluster.local", "nameserver 10.96.0.10", "options ndots:5"} {
		if !strings.Contains(resolv, want) {
			t.Errorf("dnsutils' resolv.conf lacks %q:\n%s", want, resolv)
		}
	}

	cases := []struct {
		name string
		args []string
		want []string // regular expressions, after expanding {vars}
	}{
		{"a Service's A record carries the cluster IP with TTL 30", []string{"nginx.default.svc.cluster.local"},
			[]string{`status: NOERROR`, `nginx\.default\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+{nginx}`}},
		{"a named port has an SRV record (seed 003's _http._tcp.nginx)", []string{"SRV", "_http._tcp.nginx.default.svc.cluster.local"},
			[]string{`_http\._tcp\.nginx\.default\.svc\.cluster\.local\.\s+30\s+IN\s+SRV\s+0 100 80 nginx\.default\.svc\.cluster\.local\.`}},
		{"other-service.other-namespace resolves through the search list", []string{"+search", "foo.bar"},
			[]string{`foo\.bar\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+{foo}`}},
		{"a short name resolves in the pod's own namespace", []string{"+search", "nginx"},
			[]string{`nginx\.default\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+{nginx}`}},
		{"a pod has a dashed-IP record under pod", []string{"{dashed}.default.pod.cluster.local"},
			[]string{`{dashed}\.default\.pod\.cluster\.local\.\s+30\s+IN\s+A\s+{dnsutil}`}},
		{"a pod with hostname and subdomain has a record under its headless Service", []string{"web-0.web.default.svc.cluster.local"},
			[]string{`web-0\.web\.default\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+{web-0}`}},
		{"a headless Service answers with its ready pods", []string{"web.default.svc.cluster.local"},
			[]string{`web\.default\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+{web-0}`}},
		{"a cluster IP has a PTR record", []string{"-x", "{nginx}"},
			[]string{`PTR\s+nginx\.default\.svc\.cluster\.local\.`}},
		{"the schema version is published", []string{"TXT", "dns-version.cluster.local"},
			[]string{`"1\.1\.0"`}},
		{"a missing Service is NXDOMAIN with the zone's SOA", []string{"nosuch.default.svc.cluster.local"},
			[]string{`status: NXDOMAIN`, `cluster\.local\.\s+30\s+IN\s+SOA\s+ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\.`}},
		{"an existing namespace is NODATA", []string{"bar.svc.cluster.local"},
			[]string{`status: NOERROR`, `IN\s+SOA`}},
		{"a Service asked in the wrong namespace is NXDOMAIN (seed 004)", []string{"foo.default.svc.cluster.local"},
			[]string{`status: NXDOMAIN`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = expand(a)
			}
			out := dig(args...)
			for _, w := range tc.want {
				if !regexp.MustCompile(expand(w)).MatchString(out) {
					t.Errorf("dig %s: no match for %s in\n%s", strings.Join(args, " "), expand(w), out)
				}
			}
		})
	}

	example := l.must("exec", "dns-example", "--", "cat", "/etc/resolv.conf")
	for _, want := range []string{"nameserver 1.2.3.4", "search ns1.svc.cluster-domain.example my.dns.search.suffix", "options ndots:2 edns0"} {
		if !strings.Contains(example, want) {
			t.Errorf("dns-example's resolv.conf lacks %q:\n%s", want, example)
		}
	}
	if strings.Contains(example, "10.96.0.10") {
		t.Errorf("dnsPolicy None must not add the cluster DNS:\n%s", example)
	}

	// podnet dns trace explains why a short name fails from another
	// namespace, and where the Service is.
	tr := l.run("dns", "trace", "foo", "--from", "default/dnsutils")
	for _, want := range []string{"foo.default.svc.cluster.local.", "NXDOMAIN", `no Service "foo" in namespace "default"`, `exists in namespace(s) bar`} {
		if !strings.Contains(tr.out, want) {
			t.Errorf("dns trace foo lacks %q:\n%s", want, tr)
		}
	}
	if tr.code == 0 {
		t.Errorf("dns trace of a name that does not resolve should fail:\n%s", tr)
	}

	// A Service change is answered without delay; a Corefile change (ttl
	// 30 → 7) is applied by the running DNS pods, which do not restart.
	uids := jp("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "jsonpath={.items[*].metadata.uid}")
	cm := l.must("get", "configmap", "coredns", "-n", "kube-system", "-o", "yaml")
	if !strings.Contains(cm, "ttl 30") {
		t.Fatalf("the coredns ConfigMap has no ttl 30:\n%s", cm)
	}
	cmFile := filepath.Join(t.TempDir(), "coredns.yaml")
	if err := os.WriteFile(cmFile, []byte(strings.Replace(cm, "ttl 30", "ttl 7", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	l.must("apply", "-f", cmFile)
	eventually(t, "answers with the new TTL", 15*time.Second, func() error {
		if out := dig("nginx.default.svc.cluster.local"); !regexp.MustCompile(`\s7\s+IN\s+A\s`).MatchString(out) {
			return fmt.Errorf("no TTL 7 in\n%s", out)
		}
		return nil
	})
	if after := jp("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "jsonpath={.items[*].metadata.uid}"); after != uids {
		t.Errorf("the DNS pods were replaced (%s → %s): a Corefile change must not restart them", uids, after)
	}

	// A Corefile podnet refuses is not applied at all: the pods say why,
	// with the line, and keep answering with the running configuration.
	bad := strings.Replace(strings.Replace(cm, "ttl 30", "ttl 3", 1), "    prometheus :9153", "    prometheus :9153\n    forward . /etc/resolv.conf", 1)
	if err := os.WriteFile(cmFile, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	l.must("apply", "-f", cmFile)
	pods := strings.Fields(jp("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "jsonpath={.items[*].metadata.name}"))
	if len(pods) == 0 {
		t.Fatalf("no DNS pods")
	}
	eventually(t, "the DNS pods refuse the Corefile", 15*time.Second, func() error {
		logs := l.must("logs", "-n", "kube-system", pods[0])
		if !strings.Contains(logs, "Corefile not reloaded") || !regexp.MustCompile(`Corefile:\d+: forward: reading /etc/resolv.conf: the lab's DNS pods do not forward`).MatchString(logs) {
			return fmt.Errorf("logs:\n%s", logs)
		}
		return nil
	})
	if out := dig("nginx.default.svc.cluster.local"); !regexp.MustCompile(`\s7\s+IN\s+A\s`).MatchString(out) {
		t.Errorf("a refused Corefile changed the answers (ttl 3 applied?):\n%s", out)
	}

	// Metrics under CoreDNS's names, through the kube-dns Service's metrics port.
	metrics := l.must("exec", "dnsutils", "--", "curl", "-sS", "--max-time", "5", "http://kube-dns.kube-system.svc.cluster.local:9153/metrics")
	for _, want := range []string{"coredns_dns_requests_total", `coredns_dns_responses_total{plugin="kubernetes",rcode="NXDOMAIN"`, "coredns_kubernetes_dns_programming_duration_seconds"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestDNSClusterDomain: the cluster domain is configurable (seed 004: "the
// clustername is defined in the coredns Corefile"), and pods' resolv.conf
// and names follow it.
func TestDNSClusterDomain(t *testing.T) {
	l := newLab(t)
	l.must("up", "--cluster-domain", "corp.example")
	l.must("run", "box", "--image=busybox", "--", "sleep", "3600")
	l.must("wait", "--for=condition=Ready", "pod/box", "--timeout=60s")
	if cm := l.must("get", "configmap", "coredns", "-n", "kube-system", "-o", "yaml"); !strings.Contains(cm, "kubernetes corp.example in-addr.arpa ip6.arpa") {
		t.Errorf("the Corefile does not serve corp.example:\n%s", cm)
	}
	resolv := l.must("exec", "box", "--", "cat", "/etc/resolv.conf")
	if !strings.Contains(resolv, "search default.svc.corp.example svc.corp.example corp.example") {
		t.Errorf("resolv.conf does not follow the cluster domain:\n%s", resolv)
	}
	out := l.must("exec", "box", "--", "nslookup", "kubernetes.default.svc.corp.example")
	if !strings.Contains(out, "10.96.0.1") {
		t.Errorf("nslookup kubernetes.default.svc.corp.example:\n%s", out)
	}
	if r := l.run("exec", "box", "--", "nslookup", "kubernetes.default.svc.cluster.local."); r.code == 0 {
		t.Errorf("cluster.local should not be served when the domain is corp.example:\n%s", r)
	}
	bad := l.run("up", "--cluster-domain", "Not_A_Domain")
	if bad.code == 0 || !strings.Contains(bad.err, `invalid value "Not_A_Domain" for --cluster-domain`) {
		t.Errorf("a bad cluster domain should be refused:\n%s", bad)
	}
}
