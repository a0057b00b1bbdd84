package dns

import (
	"context"
	"encoding/binary"
	"net"
	"slices"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

const headerLen = 12

// outcome is what metrics need to know about one answered query.
type outcome struct {
	zone   string
	plugin string // "kubernetes", "forward", or "" for errors the server writes itself
	qtype  uint16
}

// respond turns one query packet into its response packet, or nil when no
// response must be sent (packets too short to hold a header, and responses).
// It never panics: a panic while answering becomes SERVFAIL.
func (s *Server) respond(ctx context.Context, raw []byte, proto string, remote net.Addr) []byte {
	out, _ := s.handle(ctx, raw, proto, remote)
	return out
}

// handle is respond that also returns, for a reply that depends only on the
// query's bytes after the ID and on the state that answered it, an entry the
// UDP loop may replay for the same bytes (see replay.go); nil otherwise.
func (s *Server) handle(ctx context.Context, raw []byte, proto string, remote net.Addr) (out []byte, replay *replayEntry) {
	start := s.clock.Now()
	if len(raw) < headerLen || raw[2]&0x80 != 0 {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			s.metrics.panics.Inc()
			out, replay = headerOnly(raw, mdns.RcodeServerFailure), nil
		}
	}()

	req := new(mdns.Msg)
	if err := req.Unpack(raw); err != nil {
		out = headerOnly(raw, mdns.RcodeFormatError)
		s.queryMetrics(outcome{zone: "."}, proto, family(remote), mdns.RcodeFormatError).observe(s.clock.Since(start), len(raw), len(out))
		return out, nil
	}
	st := s.state.Load()
	reply, o := s.answer(ctx, req, st)
	size := mdns.MaxMsgSize
	if proto == "udp" {
		size = mdns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), mdns.MinMsgSize)
		}
		reply.Truncate(size)
	} else {
		reply.Compress = true
	}
	b, err := reply.Pack()
	if err != nil {
		reply = errorReply(st.plan, req, mdns.RcodeServerFailure)
		b, _ = reply.Pack()
	}
	qm := s.queryMetrics(o, proto, family(remote), reply.Rcode)
	qm.observe(s.clock.Since(start), len(raw), len(b))
	if w := st.plan.cfg.QueryLog; w != nil {
		logQuery(w, req, reply, proto, remote, len(raw), len(b), s.clock.Since(start))
	}
	if replayable(st.plan, o, reply) {
		replay = &replayEntry{reply: b, state: st, metrics: s.sharedMetrics(qm)}
	}
	return b, replay
}

// answer decides the reply to a well-formed message. The stages run in
// CoreDNS's plugin order: cache, rewrite, hosts, kubernetes, forward.
func (s *Server) answer(ctx context.Context, req *mdns.Msg, st *state) (*mdns.Msg, outcome) {
	p := st.plan
	o := outcome{zone: "."}
	if req.Opcode != mdns.OpcodeQuery {
		return errorReply(p, req, mdns.RcodeNotImplemented), o
	}
	if len(req.Question) != 1 {
		return errorReply(p, req, mdns.RcodeFormatError), o
	}
	q := req.Question[0]
	o.qtype = q.Qtype
	if opt := req.IsEdns0(); opt != nil && opt.Version() != 0 {
		return errorReply(p, req, mdns.RcodeBadVers), o
	}
	if q.Qclass != mdns.ClassINET {
		return errorReply(p, req, mdns.RcodeRefused), o
	}
	c := p.cache
	var key cacheKey
	if c != nil {
		key = keyOf(q, req)
		if !c.applies(key.name) {
			c = nil
		}
	}
	if c != nil {
		if m, ok := c.get(key, req, s.clock.Now()); ok {
			s.metrics.cacheHit(*s.name.Load(), m)
			o.zone, o.plugin = ownZone(p, key.name), "cache"
			if o.zone == "" {
				o.zone = "."
			}
			return m, o
		}
		s.metrics.cacheMiss(*s.name.Load())
	}
	reply, o := s.resolve(ctx, req, st)
	if c != nil {
		c.put(key, reply, s.clock.Now())
		succ, den := c.sizes()
		s.metrics.cacheEntries(*s.name.Load(), succ, den)
	}
	if p.cfg.LoadBalance {
		rotate(reply.Answer, p.lb.Add(1))
	}
	return reply, o
}

// resolve answers the question past the cache: rewritten, then from hosts,
// the zone, or upstream.
func (s *Server) resolve(ctx context.Context, req *mdns.Msg, st *state) (*mdns.Msg, outcome) {
	p, z := st.plan, st.zone
	q := req.Question[0]
	o := outcome{zone: ".", qtype: q.Qtype}
	name, restore := q.Name, func(*mdns.Msg) {}
	if len(p.rewrites) > 0 {
		if n, back := rewriteName(p.rewrites, q.Name); back != nil {
			name, restore = n, back
			req = req.Copy()
			req.Question[0].Name = n
		}
	}
	reply, o := s.resolveName(ctx, req, p, z, name, o)
	restore(reply)
	return reply, o
}

func (s *Server) resolveName(ctx context.Context, req *mdns.Msg, p *plan, z *Zone, name string, o outcome) (*mdns.Msg, outcome) {
	q := req.Question[0]
	lower := strings.ToLower(mdns.Fqdn(name))
	ours := ownZone(p, lower)
	if ours != "" {
		o.zone = ours
	}
	if ours != "" && (q.Qtype == mdns.TypeAXFR || q.Qtype == mdns.TypeIXFR) {
		// No zone transfers, as CoreDNS without the transfer plugin.
		return errorReply(p, req, mdns.RcodeRefused), o
	}
	if st := p.stubFor(lower, ours); st != nil {
		o.zone, o.plugin = st.zone, "forward"
		return s.forwardTo(ctx, p, st.fwd, req), o
	}
	if p.hosts != nil {
		if res, ok := p.hosts.lookup(name, q.Qtype); ok {
			o.plugin = "hosts"
			if o.zone == "." {
				o.zone = res.Zone
			}
			return fromResult(p, req, res), o
		}
	}
	switch {
	case ours != "" && z == nil:
		// Not synced yet: an answer now could be a false NXDOMAIN that
		// resolvers would cache, so fail instead (CoreDNS does the same).
		return errorReply(p, req, mdns.RcodeServerFailure), o
	case ours == "":
		if p.fwd == nil || underAny(lower, p.cfg.Except) {
			return errorReply(p, req, mdns.RcodeRefused), o
		}
		o.plugin = "forward"
		return s.forward(ctx, p, req), o
	}

	res := z.Lookup(name, q.Qtype)
	if res.Fallthrough && p.fwd != nil {
		o.plugin = "forward"
		return s.forward(ctx, p, req), o
	}
	o.plugin = "kubernetes"
	reply := fromResult(p, req, res)
	if res.Target != "" && p.fwd != nil {
		s.chase(ctx, p, reply, res.Target, q.Qtype)
	}
	return reply, o
}

// fromResult is the authoritative reply carrying res.
func fromResult(p *plan, req *mdns.Msg, res Result) *mdns.Msg {
	reply := baseReply(p, req)
	reply.Authoritative = true
	reply.Rcode = res.Rcode
	reply.Answer, reply.Ns = res.Answer, res.Ns
	reply.Extra = append(res.Extra, reply.Extra...)
	return reply
}

// rotate turns a run of A or AAAA records by n places, as loadbalance
// shuffles them; anything with a CNAME is left in order.
func rotate(ans []mdns.RR, n uint32) {
	if len(ans) < 2 {
		return
	}
	for _, rr := range ans {
		if t := rr.Header().Rrtype; t != mdns.TypeA && t != mdns.TypeAAAA {
			return
		}
	}
	k := int(n % uint32(len(ans)))
	slices.Reverse(ans[:k])
	slices.Reverse(ans[k:])
	slices.Reverse(ans)
}

// ownZone returns the cluster or reverse zone lower falls in, or "".
func ownZone(p *plan, lower string) string {
	if _, ok := under(lower, p.cfg.Zone); ok {
		return p.cfg.Zone
	}
	for _, rz := range p.cfg.ReverseZones {
		if _, ok := under(lower, rz); ok {
			return rz
		}
	}
	return ""
}

// baseReply starts a reply to req: same ID, opcode, question and RD, RA
// when the server can recurse (it has upstreams), and an OPT record
// advertising our buffer size when the query carried one (RFC 6891 §6.1.1).
func baseReply(p *plan, req *mdns.Msg) *mdns.Msg {
	reply := new(mdns.Msg)
	reply.Id = req.Id
	reply.Response = true
	reply.Opcode = req.Opcode
	reply.RecursionDesired = req.RecursionDesired
	reply.CheckingDisabled = req.CheckingDisabled
	reply.RecursionAvailable = p.fwd != nil
	if req.Opcode == mdns.OpcodeQuery && len(req.Question) == 1 {
		reply.Question = req.Question
	}
	if opt := req.IsEdns0(); opt != nil {
		o := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
		o.SetUDPSize(p.cfg.UDPSize)
		reply.Extra = append(reply.Extra, o)
	}
	return reply
}

func errorReply(p *plan, req *mdns.Msg, rcode int) *mdns.Msg {
	reply := baseReply(p, req)
	// Pack moves the upper bits of extended rcodes (BADVERS) into the OPT.
	reply.Rcode = rcode
	return reply
}

// headerOnly is the reply to a packet that could not be parsed: its header
// with QR set, the rcode, and no records, since we cannot trust the rest.
func headerOnly(raw []byte, rcode int) []byte {
	out := make([]byte, headerLen)
	copy(out, raw[:4])
	out[2] = (raw[2] & 0x79) | 0x80 // keep opcode and RD, set QR, clear AA and TC
	out[3] = byte(rcode & 0x0f)
	binary.BigEndian.PutUint16(out[4:], 0)
	return out
}

// queryMetrics are the metric series one query is counted in. Looking them
// up hashes their labels; a replayed reply keeps them and only counts.
type queryMetrics struct {
	requests, responses              prometheus.Counter
	duration, requestSize, replySize prometheus.Observer
}

func (s *Server) queryMetrics(o outcome, proto, fam string, rcode int) queryMetrics {
	name := *s.name.Load()
	m := s.metrics
	return queryMetrics{
		requests:    m.requests.WithLabelValues(name, o.zone, "", proto, fam, typeLabel(o.qtype)),
		responses:   m.responses.WithLabelValues(name, o.zone, "", rcodeLabel(rcode), o.plugin),
		duration:    m.duration.WithLabelValues(name, o.zone, "", typeLabel(o.qtype)),
		requestSize: m.requestSize.WithLabelValues(name, o.zone, "", proto),
		replySize:   m.responseSize.WithLabelValues(name, o.zone, "", proto),
	}
}

// sharedMetrics interns q, so the many replay entries with one set of
// labels hold one pointer instead of five interfaces each.
func (s *Server) sharedMetrics(q queryMetrics) *queryMetrics {
	s.internMu.Lock()
	defer s.internMu.Unlock()
	if p, ok := s.interned[q]; ok {
		return p
	}
	if s.interned == nil {
		s.interned = map[queryMetrics]*queryMetrics{}
	}
	p := &q
	s.interned[q] = p
	return p
}

func (q queryMetrics) observe(d time.Duration, reqSize, replySize int) {
	q.requests.Inc()
	q.responses.Inc()
	q.duration.Observe(d.Seconds())
	q.requestSize.Observe(float64(reqSize))
	q.replySize.Observe(float64(replySize))
}

// family is CoreDNS's label for the client's address family: 1 IPv4, 2 IPv6.
func family(a net.Addr) string {
	var ip net.IP
	switch v := a.(type) {
	case *net.UDPAddr:
		ip = v.IP
	case *net.TCPAddr:
		ip = v.IP
	}
	if ip == nil || ip.To4() != nil {
		return "1"
	}
	return "2"
}
