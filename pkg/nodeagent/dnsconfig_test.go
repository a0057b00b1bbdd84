package nodeagent

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/podnet/podnet/pkg/source"
)

const hostResolvText = "nameserver 192.0.2.53\nsearch lab.example. corp.example\noptions timeout:2\n"

func TestResolvConf(t *testing.T) {
	many := func(n int, f func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	long := strings.Repeat("a", 254)
	cases := []struct {
		name     string
		spec     corev1.PodSpec
		ns       string
		want     string
		warnings []string
	}{
		{"ClusterFirst searches the pod's namespace, svc and the domain, then the node's search list; ndots:5 only",
			corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}, "remote",
			"search remote.svc.cluster.local svc.cluster.local cluster.local lab.example corp.example\nnameserver 10.96.0.10\noptions ndots:5\n", nil},
		{"an empty dnsPolicy is ClusterFirst",
			corev1.PodSpec{}, "default",
			"search default.svc.cluster.local svc.cluster.local cluster.local lab.example corp.example\nnameserver 10.96.0.10\noptions ndots:5\n", nil},
		{"dnsConfig appends nameservers and searches and overrides options by name",
			corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst, DNSConfig: &corev1.PodDNSConfig{
				Nameservers: []string{"1.2.3.4"}, Searches: []string{"example.com", "svc.cluster.local"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "edns0"}}}}, "default",
			"search default.svc.cluster.local svc.cluster.local cluster.local lab.example corp.example example.com\nnameserver 10.96.0.10\nnameserver 1.2.3.4\noptions ndots:2 edns0\n", nil},
		{"None takes only dnsConfig (seed 003's dns-example)",
			corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{
				Nameservers: []string{"1.2.3.4"}, Searches: []string{"ns1.svc.cluster-domain.example", "my.dns.search.suffix"},
				Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "edns0"}}}}, "default",
			"search ns1.svc.cluster-domain.example my.dns.search.suffix\nnameserver 1.2.3.4\noptions ndots:2 edns0\n", nil},
		{"Default uses the node's resolv.conf, trailing dots stripped",
			corev1.PodSpec{DNSPolicy: corev1.DNSDefault}, "default",
			"search lab.example corp.example\nnameserver 192.0.2.53\noptions timeout:2\n", nil},
		{"ClusterFirst on the host network falls back to Default",
			corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst, HostNetwork: true}, "default",
			"search lab.example corp.example\nnameserver 192.0.2.53\noptions timeout:2\n", nil},
		{"ClusterFirstWithHostNet on the host network uses the cluster DNS",
			corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirstWithHostNet, HostNetwork: true}, "kube-system",
			"search kube-system.svc.cluster.local svc.cluster.local cluster.local lab.example corp.example\nnameserver 10.96.0.10\noptions ndots:5\n", nil},
		{"more than three nameservers are cut to three, with kubelet's warning",
			corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"}}}, "default",
			"nameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\n",
			[]string{"Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 1.1.1.1 2.2.2.2 3.3.3.3"}},
		{"more than 32 search domains are cut to 32",
			corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"},
				Searches: many(33, func(i int) string { return fmt.Sprintf("d%d.example", i) })}}, "default",
			"search " + strings.Join(many(32, func(i int) string { return fmt.Sprintf("d%d.example", i) }), " ") + "\nnameserver 1.1.1.1\n",
			[]string{"Search Line limits were exceeded, some search paths have been omitted, the applied search line is: " + strings.Join(many(32, func(i int) string { return fmt.Sprintf("d%d.example", i) }), " ")}},
		{"a search domain over 253 characters is dropped",
			corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.example", long, "b.example"}}}, "default",
			"search a.example b.example\nnameserver 1.1.1.1\n",
			[]string{"Search Line limits were exceeded, some search paths have been omitted, the applied search line is: a.example b.example"}},
		{"a search line over 2048 characters loses domains from the end",
			corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"},
				Searches: many(10, func(i int) string { return fmt.Sprintf("%d%s", i, strings.Repeat("x", 249)) })}}, "default",
			"search " + strings.Join(many(8, func(i int) string { return fmt.Sprintf("%d%s", i, strings.Repeat("x", 249)) }), " ") + "\nnameserver 1.1.1.1\n",
			[]string{"Search Line limits were exceeded, some search paths have been omitted, the applied search line is: " + strings.Join(many(8, func(i int) string { return fmt.Sprintf("%d%s", i, strings.Repeat("x", 249)) }), " ")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: tc.ns}, Spec: tc.spec}
			got, warnings := resolvConf(pod, "10.96.0.10", "cluster.local", hostResolvText)
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if strings.Join(warnings, "|") != strings.Join(tc.warnings, "|") {
				t.Errorf("warnings %q, want %q", warnings, tc.warnings)
			}
		})
	}
}

func TestHostsFile(t *testing.T) {
	const header = "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
	cases := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"hostname and subdomain give the FQDN before the short name",
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "default"}, Spec: corev1.PodSpec{Hostname: "web-0", Subdomain: "nginx"}},
			header + "10.244.0.7\tweb-0.nginx.default.svc.corp.example\tweb-0\n"},
		{"without a subdomain only the hostname (the pod name) is listed",
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "default"}},
			header + "10.244.0.7\tclient\n"},
		{"hostAliases come after kubelet's comment",
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "default"}, Spec: corev1.PodSpec{
				HostAliases: []corev1.HostAlias{{IP: "192.0.2.1", Hostnames: []string{"foo.local", "bar.local"}}}}},
			header + "10.244.0.7\tclient\n\n# Entries added by HostAliases.\n192.0.2.1\tfoo.local\tbar.local\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := hostsFile(tc.pod, "10.244.0.7", "corp.example"); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestUTSHostname(t *testing.T) {
	pod := func(hostname string, fqdn *bool) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "default"},
			Spec: corev1.PodSpec{Hostname: hostname, Subdomain: "nginx", SetHostnameAsFQDN: fqdn}}
	}
	cases := []struct {
		name, want, err string
		pod             *corev1.Pod
	}{
		{"setHostnameAsFQDN makes the FQDN the hostname", "web-0.nginx.default.svc.cluster.local", "", pod("web-0", ptr.To(true))},
		{"without it the hostname is the short name", "web-0", "", pod("web-0", nil)},
		{"an FQDN over 64 characters fails as kubelet fails it", "", "FQDN " + strings.Repeat("a", 40) + ".nginx.default.svc.cluster.local is too long (64 characters is the max, 72 characters requested)",
			pod(strings.Repeat("a", 40), ptr.To(true))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := utsHostname(tc.pod, "cluster.local")
			if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("got %q, %v; want %q, error containing %q", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestClusterDomainFollowsTheCorefile(t *testing.T) {
	cm := func(corefile string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "coredns"}, Data: map[string]string{"Corefile": corefile}}
	}
	cases := []struct {
		name string
		objs []source.Object
		want string
	}{
		{"without the coredns ConfigMap the agent's domain is used", nil, "cluster.local"},
		{"the Corefile's kubernetes zone is the domain", []source.Object{cm(".:53 {\n kubernetes corp.example in-addr.arpa\n}\n")}, "corp.example"},
		{"a Corefile that does not parse leaves the agent's domain", []source.Object{cm(".:53 {\n kubernetes corp.example {\n  bogus\n }\n}\n")}, "cluster.local"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := New(source.NewStatic(tc.objs...), nil, Config{ClusterDomain: "cluster.local"})
			if got := a.clusterDomain(); got != tc.want {
				t.Errorf("clusterDomain() = %q, want %q", got, tc.want)
			}
		})
	}
}
