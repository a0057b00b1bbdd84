package dns

import (
	"slices"
	"strings"

	mdns "github.com/miekg/dns"
)

// Result is the answer to one question from a Zone, before it is put on the
// wire.
type Result struct {
	// Zone is the zone the name fell in ("cluster.local.", "in-addr.arpa.",
	// ...); "" when the name is none of ours.
	Zone   string
	Rcode  int
	Answer []mdns.RR
	Ns     []mdns.RR
	Extra  []mdns.RR
	// Target is set when the answer ends in a CNAME to a name outside the
	// cluster zone: the server may resolve it upstream and append the result.
	Target string
	// Fallthrough is set on an NXDOMAIN in a zone listed in
	// Config.Fallthrough: the server passes the query on to hosts and
	// upstreams (kubeadm's "fallthrough in-addr.arpa ip6.arpa").
	Fallthrough bool
}

// maxChase bounds how many in-zone CNAMEs (ExternalName to ExternalName) one
// answer follows, so a loop of Services cannot recurse forever.
const maxChase = 8

// Lookup answers qname (any case, with or without the final dot) for qtype.
func (z *Zone) Lookup(qname string, qtype uint16) Result {
	r := z.lookup(mdns.Fqdn(qname), qtype, maxChase)
	if r.Rcode == mdns.RcodeNameError && len(r.Answer) == 0 && slices.Contains(z.cfg.Fallthrough, r.Zone) {
		r.Fallthrough = true
	}
	return r
}

func (z *Zone) lookup(qname string, qtype uint16, chase int) Result {
	lower := strings.ToLower(qname)
	if rel, ok := under(lower, z.cfg.Zone); ok {
		a := answerer{z: z, qname: qname, qtype: qtype, zone: z.cfg.Zone, chase: chase}
		return a.cluster(rel)
	}
	for _, rz := range z.cfg.ReverseZones {
		if _, ok := under(lower, rz); ok {
			a := answerer{z: z, qname: qname, qtype: qtype, zone: rz, chase: chase}
			return a.reverse(lower)
		}
	}
	return Result{}
}

// under reports whether name is zone or below it, and returns the labels
// left of the zone, leftmost first.
func under(name, zone string) ([]string, bool) {
	if name == zone {
		return nil, true
	}
	if zone == "." {
		return mdns.SplitDomainName(name), true
	}
	if !strings.HasSuffix(name, zone) || len(name) <= len(zone) || name[len(name)-len(zone)-1] != '.' {
		return nil, false
	}
	return strings.Split(name[:len(name)-len(zone)-1], "."), true
}

// answerer builds the Result for one question.
type answerer struct {
	z     *Zone
	qname string // as asked: owner names keep the query's case
	qtype uint16
	zone  string
	chase int
}

func (a answerer) hdr(rrtype uint16) mdns.RR_Header {
	return a.hdrFor(a.qname, rrtype)
}

func (a answerer) hdrFor(name string, rrtype uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: rrtype, Class: mdns.ClassINET, Ttl: a.z.ttl}
}

// soa is the zone's SOA as CoreDNS writes it; its owner keeps the query's
// case, and its TTL is capped at 300 s.
func (a answerer) soa() *mdns.SOA {
	owner := a.zone
	if len(a.qname) >= len(a.zone) {
		owner = a.qname[len(a.qname)-len(a.zone):]
	}
	h := a.hdrFor(owner, mdns.TypeSOA)
	h.Ttl = min(a.z.ttl, 300)
	return &mdns.SOA{
		Hdr:     h,
		Ns:      "ns.dns." + a.zone,
		Mbox:    "hostmaster." + a.zone,
		Serial:  a.z.serial,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  a.z.ttl,
	}
}

func (a answerer) nxdomain() Result {
	return Result{Zone: a.zone, Rcode: mdns.RcodeNameError, Ns: []mdns.RR{a.soa()}}
}

// nodata is the answer for a name that exists but has no record of the type.
func (a answerer) nodata() Result {
	return Result{Zone: a.zone, Rcode: mdns.RcodeSuccess, Ns: []mdns.RR{a.soa()}}
}

// answer is a positive answer; with no records it becomes NODATA.
func (a answerer) answer(ans, extra []mdns.RR) Result {
	if len(ans) == 0 {
		return a.nodata()
	}
	return Result{Zone: a.zone, Rcode: mdns.RcodeSuccess, Answer: ans, Extra: extra}
}
