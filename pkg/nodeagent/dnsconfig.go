package nodeagent

import (
	"fmt"
	"os"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/podnet/podnet/pkg/dns/corefile"
	"github.com/podnet/podnet/pkg/source"
)

// kubelet's limits on a pod's resolv.conf (pkg/kubelet/network/dns).
const (
	maxNameservers = 3
	maxSearches    = 32
	maxSearchChars = 2048
)

// resolvConf renders the pod's /etc/resolv.conf as kubelet does for its
// dnsPolicy and dnsConfig. hostResolv is the node's own resolv.conf, the base
// of dnsPolicy Default and the tail of ClusterFirst's search list. warnings
// are kubelet's DNSConfigForming event messages, for limits it enforced.
func resolvConf(pod *corev1.Pod, clusterDNS, clusterDomain, hostResolv string) (text string, warnings []string) {
	var servers, searches []string
	var options []string
	hostServers, hostSearches, hostOptions := parseResolv(hostResolv)
	policy := pod.Spec.DNSPolicy
	if policy == corev1.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = corev1.DNSDefault // ClusterFirst falls back for host-network pods
	}
	switch policy {
	case corev1.DNSNone:
	case corev1.DNSDefault:
		servers, searches, options = hostServers, hostSearches, hostOptions
	default: // ClusterFirst, ClusterFirstWithHostNet
		servers = []string{clusterDNS}
		ns := pod.Namespace
		searches = appendUnique([]string{ns + ".svc." + clusterDomain, "svc." + clusterDomain, clusterDomain}, hostSearches...)
		options = []string{"ndots:5"}
	}
	if c := pod.Spec.DNSConfig; c != nil {
		servers = appendUnique(servers, c.Nameservers...)
		searches = appendUnique(searches, c.Searches...)
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
		warnings = append(warnings, "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: "+strings.Join(servers, " "))
	}
	if limited := limitSearches(searches); len(limited) < len(searches) {
		searches = limited
		warnings = append(warnings, "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: "+strings.Join(searches, " "))
	}
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
	return b.String(), warnings
}

func appendUnique(list []string, more ...string) []string {
	for _, s := range more {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
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

// limitSearches applies kubelet's three steps: at most 32 domains, none
// longer than 253 characters (glibc aborts on them), and the line within
// 2048 characters, dropping from the end.
func limitSearches(s []string) []string {
	if len(s) > maxSearches {
		s = s[:maxSearches]
	}
	s = slices.DeleteFunc(slices.Clone(s), func(d string) bool { return len(d) > 253 })
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
			// The last line wins, with trailing dots stripped, as kubelet
			// parses it.
			searches = nil
			for _, d := range f[1:] {
				searches = append(searches, strings.TrimSuffix(d, "."))
			}
		case "options":
			options = f[1:]
		}
	}
	return
}

// clusterDomain is the domain pods' resolv.conf and hostnames use: the one
// the coredns ConfigMap's Corefile serves (seed 004: "the clustername is
// defined in the coredns Corefile"), so the two cannot disagree; the
// agent's configured domain when there is no such ConfigMap or it does not
// parse (the DNS server then keeps its previous configuration too).
func (a *Agent) clusterDomain() string {
	if o, ok := a.src.Get(source.ConfigMap, "kube-system", "coredns"); ok {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			if zone, err := corefile.ClusterZone(cm.Data["Corefile"]); err == nil && zone != "" {
				return zone
			}
		}
	}
	return a.cfg.ClusterDomain
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
// setHostnameAsFQDN is true and a subdomain is set. The kernel takes at most
// 64 characters, so a longer FQDN fails the sandbox with kubelet's message
// and the pod waits in ContainerCreating.
func utsHostname(pod *corev1.Pod, clusterDomain string) (string, error) {
	h := podHostname(pod)
	if pod.Spec.SetHostnameAsFQDN != nil && *pod.Spec.SetHostnameAsFQDN && pod.Spec.Subdomain != "" {
		fqdn := fmt.Sprintf("%s.%s.%s.svc.%s", h, pod.Spec.Subdomain, pod.Namespace, clusterDomain)
		if len(fqdn) > maxHostnameLen {
			return "", fmt.Errorf("failed to construct FQDN from pod hostname and cluster domain, FQDN %s is too long (%d characters is the max, %d characters requested)", fqdn, maxHostnameLen, len(fqdn))
		}
		return fqdn, nil
	}
	return h, nil
}

// maxHostnameLen is the kernel's HOST_NAME_MAX plus one, as kubelet counts.
const maxHostnameLen = 64
