package dns

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
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
func (s *Server) respond(ctx context.Context, raw []byte, proto string, remote net.Addr) (out []byte) {
	start := s.cfg.Clock.Now()
	if len(raw) < headerLen || raw[2]&0x80 != 0 {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			s.metrics.panics.Inc()
			out = headerOnly(raw, mdns.RcodeServerFailure)
		}
	}()

	req := new(mdns.Msg)
	if err := req.Unpack(raw); err != nil {
		s.count(outcome{zone: "."}, proto, remote, mdns.RcodeFormatError, start)
		return headerOnly(raw, mdns.RcodeFormatError)
	}
	reply, o := s.answer(ctx, req)
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
		reply = s.errorReply(req, mdns.RcodeServerFailure)
		b, _ = reply.Pack()
	}
	s.count(o, proto, remote, reply.Rcode, start)
	s.metrics.requestSize.WithLabelValues(*s.name.Load(), o.zone, "", proto).Observe(float64(len(raw)))
	s.metrics.responseSize.WithLabelValues(*s.name.Load(), o.zone, "", proto).Observe(float64(len(b)))
	return b
}

// answer decides the reply to a well-formed message.
func (s *Server) answer(ctx context.Context, req *mdns.Msg) (*mdns.Msg, outcome) {
	o := outcome{zone: "."}
	if req.Opcode != mdns.OpcodeQuery {
		return s.errorReply(req, mdns.RcodeNotImplemented), o
	}
	if len(req.Question) != 1 {
		return s.errorReply(req, mdns.RcodeFormatError), o
	}
	q := req.Question[0]
	o.qtype = q.Qtype
	if opt := req.IsEdns0(); opt != nil && opt.Version() != 0 {
		return s.errorReply(req, mdns.RcodeBadVers), o
	}
	z := s.zone.Load()
	ours := s.ownZone(q.Name)
	if ours != "" {
		o.zone = ours
	}
	switch {
	case q.Qclass != mdns.ClassINET:
		return s.errorReply(req, mdns.RcodeRefused), o
	case ours != "" && (q.Qtype == mdns.TypeAXFR || q.Qtype == mdns.TypeIXFR):
		// No zone transfers, as CoreDNS without the transfer plugin.
		return s.errorReply(req, mdns.RcodeRefused), o
	case ours != "" && z == nil:
		// Not synced yet: an answer now could be a false NXDOMAIN that
		// resolvers would cache, so fail instead (CoreDNS does the same).
		return s.errorReply(req, mdns.RcodeServerFailure), o
	case ours == "":
		if s.fwd == nil {
			return s.errorReply(req, mdns.RcodeRefused), o
		}
		o.plugin = "forward"
		return s.forward(ctx, req), o
	}

	res := z.Lookup(q.Name, q.Qtype)
	if res.Fallthrough && s.fwd != nil {
		o.plugin = "forward"
		return s.forward(ctx, req), o
	}
	o.plugin = "kubernetes"
	reply := s.baseReply(req)
	reply.Authoritative = true
	reply.Rcode = res.Rcode
	reply.Answer, reply.Ns = res.Answer, res.Ns
	reply.Extra = append(res.Extra, reply.Extra...)
	if res.Target != "" && s.fwd != nil {
		s.chase(ctx, reply, res.Target, q.Qtype)
	}
	return reply, o
}

// ownZone returns the cluster or reverse zone qname falls in, or "".
func (s *Server) ownZone(qname string) string {
	lower := strings.ToLower(mdns.Fqdn(qname))
	if _, ok := under(lower, s.cfg.Zone); ok {
		return s.cfg.Zone
	}
	for _, rz := range s.cfg.ReverseZones {
		if _, ok := under(lower, rz); ok {
			return rz
		}
	}
	return ""
}

// baseReply starts a reply to req: same ID, opcode, question and RD, RA
// when the server can recurse (it has upstreams), and an OPT record
// advertising our buffer size when the query carried one (RFC 6891 §6.1.1).
func (s *Server) baseReply(req *mdns.Msg) *mdns.Msg {
	reply := new(mdns.Msg)
	reply.Id = req.Id
	reply.Response = true
	reply.Opcode = req.Opcode
	reply.RecursionDesired = req.RecursionDesired
	reply.CheckingDisabled = req.CheckingDisabled
	reply.RecursionAvailable = s.fwd != nil
	if req.Opcode == mdns.OpcodeQuery && len(req.Question) == 1 {
		reply.Question = req.Question
	}
	if opt := req.IsEdns0(); opt != nil {
		o := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
		o.SetUDPSize(s.cfg.UDPSize)
		reply.Extra = append(reply.Extra, o)
	}
	return reply
}

func (s *Server) errorReply(req *mdns.Msg, rcode int) *mdns.Msg {
	reply := s.baseReply(req)
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

// count records one answered query.
func (s *Server) count(o outcome, proto string, remote net.Addr, rcode int, start time.Time) {
	name := *s.name.Load()
	s.metrics.requests.WithLabelValues(name, o.zone, "", proto, family(remote), typeLabel(o.qtype)).Inc()
	s.metrics.responses.WithLabelValues(name, o.zone, "", rcodeLabel(rcode), o.plugin).Inc()
	s.metrics.duration.WithLabelValues(name, o.zone, "", typeLabel(o.qtype)).Observe(s.cfg.Clock.Since(start).Seconds())
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
