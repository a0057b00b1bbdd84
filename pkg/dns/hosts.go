package dns

import (
	"bufio"
	"net/netip"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"
)

// HostsConfig is CoreDNS's hosts plugin: names from hosts-file lines,
// answered before the cluster zone for the names it lists.
type HostsConfig struct {
	// Lines are hosts-file lines ("IP name..."), the file's and the inline
	// ones together.
	Lines []string
	// TTL of answers; 3600 when zero, as in CoreDNS.
	TTL uint32
	// Zones the plugin answers for; "." when empty.
	Zones []string
	// Fallthrough passes names it does not list on to the cluster zone and
	// upstreams; without it, a name in its zones it does not list is NXDOMAIN,
	// as CoreDNS's hosts answers.
	Fallthrough bool
	// NoReverse stops PTR records being made from the entries.
	NoReverse bool
}

// hostsTable is a compiled HostsConfig.
type hostsTable struct {
	cfg     HostsConfig
	forward map[string][]netip.Addr // canonical name → addresses, in file order
	reverse map[netip.Addr][]string // address → names
}

func newHostsTable(c HostsConfig) *hostsTable {
	if c.TTL == 0 {
		c.TTL = 3600
	}
	if len(c.Zones) == 0 {
		c.Zones = []string{"."}
	}
	for i, z := range c.Zones {
		c.Zones[i] = canonical(z)
	}
	h := &hostsTable{cfg: c, forward: map[string][]netip.Addr{}, reverse: map[netip.Addr][]string{}}
	for _, line := range c.Lines {
		sc := bufio.NewScanner(strings.NewReader(line))
		for sc.Scan() {
			text, _, _ := strings.Cut(sc.Text(), "#")
			f := strings.Fields(text)
			if len(f) < 2 {
				continue
			}
			ip, err := netip.ParseAddr(f[0])
			if err != nil {
				continue
			}
			ip = ip.Unmap()
			for _, name := range f[1:] {
				n := canonical(name)
				if !slices.Contains(h.forward[n], ip) {
					h.forward[n] = append(h.forward[n], ip)
				}
				if !c.NoReverse && !slices.Contains(h.reverse[ip], n) {
					h.reverse[ip] = append(h.reverse[ip], n)
				}
			}
		}
	}
	return h
}

// lookup answers qname from the table. ok is false when the name is not in
// the plugin's zones, or not listed and fallthrough is set: the query goes
// on to the next stage.
func (h *hostsTable) lookup(qname string, qtype uint16) (r Result, ok bool) {
	lower := strings.ToLower(qname)
	zone := ""
	for _, z := range h.cfg.Zones {
		if _, in := under(lower, z); in && len(z) > len(zone) {
			zone = z
		}
	}
	if zone == "" {
		return Result{}, false
	}
	hdr := func(t uint16) mdns.RR_Header {
		return mdns.RR_Header{Name: qname, Rrtype: t, Class: mdns.ClassINET, Ttl: h.cfg.TTL}
	}
	addrs, listed := h.forward[lower]
	var names []string
	if ip, isRev := parseReverse(lower); isRev {
		names = h.reverse[ip]
		listed = listed || len(names) > 0
	}
	if !listed {
		if h.cfg.Fallthrough {
			return Result{}, false
		}
		// CoreDNS answers SERVFAIL here, having no SOA to put in an NXDOMAIN;
		// we follow RFC 2308 and synthesize one for the plugin's zone.
		return Result{Zone: zone, Rcode: mdns.RcodeNameError, Ns: []mdns.RR{h.soa(qname, zone)}}, true
	}
	r = Result{Zone: zone}
	switch qtype {
	case mdns.TypeA, mdns.TypeAAAA:
		for _, ip := range addrs {
			if ip.Is4() && qtype == mdns.TypeA {
				r.Answer = append(r.Answer, &mdns.A{Hdr: hdr(mdns.TypeA), A: ip.AsSlice()})
			} else if ip.Is6() && qtype == mdns.TypeAAAA {
				r.Answer = append(r.Answer, &mdns.AAAA{Hdr: hdr(mdns.TypeAAAA), AAAA: ip.AsSlice()})
			}
		}
	case mdns.TypePTR:
		for _, n := range names {
			r.Answer = append(r.Answer, &mdns.PTR{Hdr: hdr(mdns.TypePTR), Ptr: n})
		}
	}
	if len(r.Answer) == 0 {
		r.Ns = []mdns.RR{h.soa(qname, zone)} // NODATA, also with an SOA
	}
	return r, true
}

// soa is the hosts zone's SOA for a negative answer, owned by the zone in
// the query's case, its TTL and MINIMUM the hosts TTL.
func (h *hostsTable) soa(qname, zone string) *mdns.SOA {
	owner := zone
	if zone != "." && len(qname) >= len(zone) {
		owner = qname[len(qname)-len(zone):]
	}
	return &mdns.SOA{Hdr: mdns.RR_Header{Name: owner, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: min(h.cfg.TTL, 300)},
		Ns: "ns.dns." + strings.TrimPrefix(zone, "."), Mbox: "hostmaster." + strings.TrimPrefix(zone, "."),
		Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: h.cfg.TTL}
}
