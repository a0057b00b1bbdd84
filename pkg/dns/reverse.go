package dns

import (
	"net/netip"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"
)

// reverse answers a name under a reverse zone: PTR for a cluster IP (one
// Service name) or for endpoint IPs (one name per endpoint and Service). A
// name the cluster does not own is NXDOMAIN, which Lookup marks for
// fallthrough when the zone is listed (kubeadm: "fallthrough in-addr.arpa
// ip6.arpa").
func (a answerer) reverse(lower string) Result {
	ip, ok := parseReverse(lower)
	if !ok {
		return a.nxdomain()
	}
	var names []string
	if key, ok := a.z.servicePTR[ip]; ok {
		names = []string{a.z.services[key].fqdn}
	} else {
		names = a.z.endpointPTR[ip]
	}
	if len(names) == 0 {
		return a.nxdomain()
	}
	if a.qtype != mdns.TypePTR {
		return a.nodata()
	}
	ans := make([]mdns.RR, len(names))
	for i, n := range names {
		ans[i] = &mdns.PTR{Hdr: a.hdr(mdns.TypePTR), Ptr: n}
	}
	return a.answer(ans, nil)
}

// parseReverse reads a full in-addr.arpa or ip6.arpa name (lower-case,
// fully qualified) as an address. Partial names do not parse.
func parseReverse(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, l := range labels {
			v, err := strconv.ParseUint(l, 10, 8)
			if err != nil || (len(l) > 1 && l[0] == '0') {
				return netip.Addr{}, false
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			v, err := strconv.ParseUint(l, 16, 8)
			if err != nil {
				return netip.Addr{}, false
			}
			pos := 31 - i // nibble index from the left of the address
			if pos%2 == 0 {
				b[pos/2] |= byte(v) << 4
			} else {
				b[pos/2] |= byte(v)
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
