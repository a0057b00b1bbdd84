package dns

import (
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
)

// cluster answers a name under the cluster zone. rel holds the labels left
// of the zone. The grammar is CoreDNS's (parse.go):
//
//	dns-version
//	[[_port._proto. | endpoint.] service.] ns. svc
//	[dashed-ip.] ns. pod
//
// Names that exist but own nothing (the apex, svc, pod, an existing
// namespace) are NODATA; anything else that does not parse is NXDOMAIN.
func (a answerer) cluster(rel []string) Result {
	if len(rel) == 0 {
		return a.apex()
	}
	if len(rel) == 1 && rel[0] == "dns-version" {
		if a.qtype == mdns.TypeTXT {
			return a.answer([]mdns.RR{&mdns.TXT{Hdr: a.hdr(mdns.TypeTXT), Txt: []string{SchemaVersion}}}, nil)
		}
		return a.nodata()
	}
	switch rel[len(rel)-1] {
	case "svc":
		return a.svc(rel[:len(rel)-1])
	case "pod":
		return a.pod(rel[:len(rel)-1])
	}
	return a.nxdomain()
}

func (a answerer) apex() Result {
	switch a.qtype {
	case mdns.TypeSOA:
		return a.answer([]mdns.RR{a.soa()}, nil)
	case mdns.TypeNS:
		return a.ns()
	}
	return a.nodata()
}

// ns names the Service fronting this server, with its cluster IPs as glue,
// as CoreDNS does in a cluster; without that Service it names ns.dns.<zone>.
func (a answerer) ns() Result {
	target := "ns.dns." + a.zone
	var glue []mdns.RR
	nsName, svcName, _ := strings.Cut(a.z.cfg.DNSService, "/")
	if svc := a.z.services[serviceKey{nsName, svcName}]; svc != nil && len(svc.clusterIP) > 0 {
		target = svc.fqdn
		for _, ip := range svc.clusterIP {
			glue = append(glue, a.addrRR(target, ip))
		}
	}
	return a.answer([]mdns.RR{&mdns.NS{Hdr: a.hdr(mdns.TypeNS), Ns: target}}, glue)
}

func (a answerer) namespaceExists(ns string) bool {
	_, ok := a.z.namespaces[ns]
	return ok
}

// svc answers names under svc.<zone>; rel is left of "svc".
func (a answerer) svc(rel []string) Result {
	n := len(rel)
	if n == 0 {
		return a.nodata()
	}
	if n > 4 || !a.namespaceExists(rel[n-1]) {
		return a.nxdomain()
	}
	if n == 1 {
		return a.nodata()
	}
	svc := a.z.services[serviceKey{rel[n-1], rel[n-2]}]
	if svc == nil {
		return a.nxdomain()
	}
	if a.z.cfg.IgnoreEmptyService && svc.external == "" && len(svc.endpoints) == 0 {
		// "ignore empty_service": the Service and every name below it are
		// NXDOMAIN, so a client walks on down its search list.
		return a.nxdomain()
	}
	switch n {
	case 2:
		return a.service(svc)
	case 3:
		return a.endpoint(svc, rel[0])
	default:
		return a.srv(svc, rel[0], rel[1])
	}
}

// service answers <service>.<ns>.svc.<zone>.
func (a answerer) service(svc *service) Result {
	if svc.external != "" {
		return a.cname(svc.external)
	}
	if svc.headless {
		// Spec §2.4: a headless Service with no ready endpoints is NXDOMAIN.
		if len(svc.endpoints) == 0 {
			return a.nxdomain()
		}
		switch a.qtype {
		case mdns.TypeA, mdns.TypeAAAA:
			var ans []mdns.RR
			for _, ep := range svc.endpoints {
				if a.wants(ep.addr) {
					ans = append(ans, a.addrRR(a.qname, ep.addr))
				}
			}
			return a.answer(ans, nil)
		case mdns.TypeSRV:
			return a.endpointSRV(svc, func(port) bool { return true })
		}
		return a.nodata()
	}
	switch a.qtype {
	case mdns.TypeA, mdns.TypeAAAA:
		var ans []mdns.RR
		for _, ip := range svc.clusterIP {
			if a.wants(ip) {
				ans = append(ans, a.addrRR(a.qname, ip))
			}
		}
		return a.answer(ans, nil)
	case mdns.TypeSRV:
		return a.serviceSRV(svc, func(port) bool { return true })
	}
	return a.nodata()
}

// cname answers an ExternalName Service: a CNAME for every query type, with
// the target's records appended when the target is in the cluster zone.
// Out-of-zone targets are left to the server (Result.Target).
func (a answerer) cname(target string) Result {
	ans := []mdns.RR{&mdns.CNAME{Hdr: a.hdr(mdns.TypeCNAME), Target: target}}
	if a.qtype == mdns.TypeCNAME {
		return a.answer(ans, nil)
	}
	if _, inZone := under(target, a.z.cfg.Zone); !inZone {
		r := a.answer(ans, nil)
		r.Target = target
		return r
	}
	if a.chase == 0 {
		return a.answer(ans, nil)
	}
	next := a.z.lookup(target, a.qtype, a.chase-1)
	r := a.answer(append(ans, next.Answer...), next.Extra)
	r.Target = next.Target
	if next.Rcode == mdns.RcodeNameError {
		// RFC 6604: the rcode is the last name's in the chain.
		r.Rcode, r.Ns = next.Rcode, next.Ns
	}
	return r
}

// endpoint answers <endpoint>.<service>.<ns>.svc.<zone> for any Service
// with endpoints, headless or not, as CoreDNS does.
func (a answerer) endpoint(svc *service, label string) Result {
	var ans []mdns.RR
	found := false
	for _, ep := range svc.endpoints {
		if ep.label != label {
			continue
		}
		found = true
		if a.wants(ep.addr) {
			ans = append(ans, a.addrRR(a.qname, ep.addr))
		}
	}
	if !found {
		return a.nxdomain()
	}
	return a.answer(ans, nil)
}

// srv answers _<port>._<proto>.<service>.<ns>.svc.<zone>. The name exists
// only if a named port matches; other query types for it are NODATA (CoreDNS
// answers A/AAAA there with the Service's addresses).
func (a answerer) srv(svc *service, portLabel, protoLabel string) Result {
	if svc.external != "" || !strings.HasPrefix(portLabel, "_") || !strings.HasPrefix(protoLabel, "_") {
		return a.nxdomain()
	}
	name, proto := portLabel[1:], protoLabel[1:]
	match := func(p port) bool { return p.name != "" && p.name == name && p.proto == proto }
	var r Result
	if svc.headless {
		r = a.endpointSRV(svc, match)
	} else {
		r = a.serviceSRV(svc, match)
	}
	if len(r.Answer) == 0 {
		return a.nxdomain()
	}
	if a.qtype != mdns.TypeSRV {
		return a.nodata()
	}
	return r
}

// serviceSRV is one SRV per matching Service port, targeting the Service
// name, with its cluster IPs in the additional section.
func (a answerer) serviceSRV(svc *service, match func(port) bool) Result {
	var ports []uint16
	for _, p := range svc.ports {
		if match(p) {
			ports = append(ports, p.port)
		}
	}
	if len(ports) == 0 {
		return a.nodata()
	}
	w := srvWeight(len(ports))
	ans := make([]mdns.RR, 0, len(ports))
	for _, p := range uniq(ports) {
		ans = append(ans, &mdns.SRV{Hdr: a.hdr(mdns.TypeSRV), Priority: 0, Weight: w, Port: p, Target: svc.fqdn})
	}
	var extra []mdns.RR
	for _, ip := range svc.clusterIP {
		extra = append(extra, a.addrRR(svc.fqdn, ip))
	}
	return a.answer(ans, extra)
}

// endpointSRV is one SRV per (endpoint, matching EndpointSlice port), with
// the endpoint's port (the target port) and its name as target, and the
// targets' addresses in the additional section.
func (a answerer) endpointSRV(svc *service, match func(port) bool) Result {
	type target struct {
		name string
		port uint16
	}
	var targets []target
	var extra []mdns.RR
	n := 0
	seen := map[target]bool{}
	for _, ep := range svc.endpoints {
		name := ep.fqdn
		added := false
		for _, p := range ep.ports {
			if !match(p) {
				continue
			}
			n++
			t := target{name, p.port}
			if seen[t] {
				continue
			}
			seen[t] = true
			targets = append(targets, t)
			added = true
		}
		if added {
			extra = append(extra, a.addrRR(name, ep.addr))
		}
	}
	if len(targets) == 0 {
		return a.nodata()
	}
	w := srvWeight(n)
	ans := make([]mdns.RR, 0, len(targets))
	for _, t := range targets {
		ans = append(ans, &mdns.SRV{Hdr: a.hdr(mdns.TypeSRV), Priority: 0, Weight: w, Port: t.port, Target: t.name})
	}
	return a.answer(ans, extra)
}

// srvWeight spreads 100 over n records, at least 1 each, as CoreDNS does.
func srvWeight(n int) uint16 {
	return uint16(max(1, 100/n))
}

func uniq(ports []uint16) []uint16 {
	out := ports[:0:0]
	for _, p := range ports {
		dup := false
		for _, q := range out {
			dup = dup || q == p
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out
}

// wants reports whether ip belongs in the answer to an A or AAAA question.
func (a answerer) wants(ip netip.Addr) bool {
	return (a.qtype == mdns.TypeA && ip.Is4()) || (a.qtype == mdns.TypeAAAA && ip.Is6())
}

func (a answerer) addrRR(owner string, ip netip.Addr) mdns.RR {
	if ip.Is4() {
		return &mdns.A{Hdr: a.hdrFor(owner, mdns.TypeA), A: ip.AsSlice()}
	}
	return &mdns.AAAA{Hdr: a.hdrFor(owner, mdns.TypeAAAA), AAAA: ip.AsSlice()}
}
