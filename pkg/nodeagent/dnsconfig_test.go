package nodeagent

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestResolvConf(t *testing.T) {
	two := "2"
	cases := []struct {
		name string
		spec corev1.PodSpec
		ns   string
		want string
	}{
		{"ClusterFirst searches the pod's namespace, then svc, then the domain", corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}, "remote",
			"search remote.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"},
		{"dnsConfig adds nameservers, searches and overrides options", corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst, DNSConfig: &corev1.PodDNSConfig{
			Nameservers: []string{"1.2.3.4"}, Searches: []string{"example.com"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "edns0"}}}}, "default",
			"search default.svc.cluster.local svc.cluster.local cluster.local example.com\nnameserver 10.96.0.10\nnameserver 1.2.3.4\noptions ndots:2 edns0\n"},
		{"None takes only dnsConfig", corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}}}, "default",
			"nameserver 1.1.1.1\n"},
		{"Default uses the node's resolv.conf", corev1.PodSpec{DNSPolicy: corev1.DNSDefault}, "default",
			"search lab.example\nnameserver 192.0.2.53\n"},
		{"more than three nameservers are cut to three", corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"}}}, "default",
			"nameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: tc.ns}, Spec: tc.spec}
			got := resolvConf(pod, "10.96.0.10", "cluster.local", "nameserver 192.0.2.53\nsearch lab.example\n")
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestHostsFile(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "default"}, Spec: corev1.PodSpec{Hostname: "web-0", Subdomain: "nginx"}}
	got := hostsFile(pod, "10.244.0.7", "cluster.local")
	want := "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n10.244.0.7\tweb-0.nginx.default.svc.cluster.local\tweb-0\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
