package dns

import (
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// pod answers names under pod.<zone>; rel is left of "pod". Pod names are
// never published, only dashed IPs (the deprecated spec §2.6 record that the
// Kubernetes conformance probes still check).
func (a answerer) pod(rel []string) Result {
	mode := a.z.cfg.Pods
	if mode == PodsDisabled || len(rel) > 2 {
		return a.nxdomain()
	}
	if len(rel) == 0 {
		return a.nodata()
	}
	ns := rel[len(rel)-1]
	if !a.namespaceExists(ns) {
		return a.nxdomain()
	}
	if len(rel) == 1 {
		return a.nodata()
	}
	ip, ok := parseDashedIP(rel[0])
	if !ok {
		return a.nxdomain()
	}
	if mode == PodsVerified {
		if _, ok := a.z.podIPs[ns][ip]; !ok {
			return a.nxdomain()
		}
	}
	if a.qtype == mdns.TypeA || a.qtype == mdns.TypeAAAA {
		if a.wants(ip) {
			return a.answer([]mdns.RR{a.addrRR(a.qname, ip)}, nil)
		}
	}
	return a.nodata()
}

// parseDashedIP reads a pod label as CoreDNS does: exactly three dashes and
// no "--" is IPv4, anything else is IPv6 with dashes for colons.
func parseDashedIP(label string) (netip.Addr, bool) {
	var s string
	if strings.Count(label, "-") == 3 && !strings.Contains(label, "--") {
		s = strings.ReplaceAll(label, "-", ".")
	} else {
		s = strings.ReplaceAll(label, "-", ":")
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	if strings.Contains(s, ".") && !ip.Is4() {
		// An IPv4-in-IPv6 spelling is not a pod label.
		return netip.Addr{}, false
	}
	return ip, true
}
