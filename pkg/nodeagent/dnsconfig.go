package nodeagent

import (
	"fmt"
	"os"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// kubelet's limits on a pod's resolv.conf (pkg/kubelet/network/dns).
const (
	maxNameservers = 3
	maxSearches    = 32
	maxSearchChars = 2048
)

// resolvConf renders the pod's /etc/resolv.conf as kubelet does for its
// dnsPolicy and dnsConfig. hostResolv is the node's own resolv.conf, used by
// dnsPolicy Default.
func resolvConf(pod *corev1.Pod, clusterDNS, clusterDomain, hostResolv string) string {
	var servers, searches []string
	var options []string
	policy := pod.Spec.DNSPolicy
	if policy == corev1.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = corev1.DNSDefault // ClusterFirst falls back for host-network pods
	}
	switch policy {
	case corev1.DNSNone:
	case corev1.DNSDefault:
		servers, searches, options = parseResolv(hostResolv)
	default: // ClusterFirst, ClusterFirstWithHostNet
		servers = []string{clusterDNS}
		ns := pod.Namespace
		searches = []string{ns + ".svc." + clusterDomain, "svc." + clusterDomain, clusterDomain}
		options = []string{"ndots:5"}
	}
	if c := pod.Spec.DNSConfig; c != nil {
		for _, s := range c.Nameservers {
			if !slices.Contains(servers, s) {
				servers = append(servers, s)
			}
		}
		for _, s := range c.Searches {
			if !slices.Contains(searches, s) {
				searches = append(searches, s)
			}
		}
		for _, o := range c.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			options = mergeOption(options, o.Name, opt)
		}
	}
	if len(servers) > maxNameservers {
		servers = servers[:maxNameservers]
	}
	searches = limitSearches(searches)
	var b strings.Builder
	if len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.String()
}

func mergeOption(options []string, name, opt string) []string {
	for i, o := range options {
		if o == name || strings.HasPrefix(o, name+":") {
			options[i] = opt
			return options
		}
	}
	return append(options, opt)
}

func limitSearches(s []string) []string {
	if len(s) > maxSearches {
		s = s[:maxSearches]
	}
	for len(strings.Join(s, " ")) > maxSearchChars {
		s = s[:len(s)-1]
	}
	return s
}

func parseResolv(text string) (servers, searches, options []string) {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search", "domain":
			searches = f[1:]
		case "options":
			options = f[1:]
		}
	}
	return
}

func readHostResolv() string {
	data, _ := os.ReadFile("/etc/resolv.conf")
	return string(data)
}

// hostsFile renders /etc/hosts as kubelet writes it for a pod network pod.
func hostsFile(pod *corev1.Pod, podIP, clusterDomain string) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	if podIP != "" {
		host := podHostname(pod)
		if pod.Spec.Subdomain != "" {
			fqdn := fmt.Sprintf("%s.%s.%s.svc.%s", host, pod.Spec.Subdomain, pod.Namespace, clusterDomain)
			fmt.Fprintf(&b, "%s\t%s\t%s\n", podIP, fqdn, host)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", podIP, host)
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.String()
}

// podHostname is spec.hostname, else the pod name truncated to 63
// characters (kubelet trims trailing '-' and '.' after truncating).
func podHostname(pod *corev1.Pod) string {
	if pod.Spec.Hostname != "" {
		return pod.Spec.Hostname
	}
	h := pod.Name
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// utsHostname is what `hostname` prints in the pod: the FQDN when
// setHostnameAsFQDN is true and a subdomain is set.
func utsHostname(pod *corev1.Pod, clusterDomain string) string {
	h := podHostname(pod)
	if pod.Spec.SetHostnameAsFQDN != nil && *pod.Spec.SetHostnameAsFQDN && pod.Spec.Subdomain != "" {
		return fmt.Sprintf("%s.%s.%s.svc.%s", h, pod.Spec.Subdomain, pod.Namespace, clusterDomain)
	}
	return h
}
