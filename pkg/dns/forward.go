package dns

import (
	"context"
	"fmt"
	"net"
	"time"

	mdns "github.com/miekg/dns"
)

// forwarder sends queries for names outside the cluster to upstream servers,
// trying each in order. It is deliberately simple in this cut: no health
// checks, connection reuse or caching (see README, Bugs).
type forwarder struct {
	upstreams []string
	udp, tcp  *mdns.Client
}

func newForwarder(upstreams []string, timeout time.Duration, forceTCP bool) (*forwarder, error) {
	f := &forwarder{
		udp: &mdns.Client{Net: "udp", Timeout: timeout, UDPSize: mdns.MaxMsgSize},
		tcp: &mdns.Client{Net: "tcp", Timeout: timeout},
	}
	if forceTCP {
		f.udp = f.tcp
	}
	for _, u := range upstreams {
		if _, _, err := net.SplitHostPort(u); err != nil {
			u = net.JoinHostPort(u, "53")
		}
		if _, _, err := net.SplitHostPort(u); err != nil {
			return nil, fmt.Errorf("dns: upstream %q: %w", u, err)
		}
		f.upstreams = append(f.upstreams, u)
	}
	return f, nil
}

// exchange asks the upstreams in turn for q, over UDP first and over TCP
// when the UDP answer is truncated.
func (f *forwarder) exchange(ctx context.Context, q *mdns.Msg) (*mdns.Msg, error) {
	var lastErr error
	for _, u := range f.upstreams {
		resp, _, err := f.udp.ExchangeContext(ctx, q, u)
		if err == nil && resp.Truncated {
			resp, _, err = f.tcp.ExchangeContext(ctx, q, u)
		}
		if err == nil {
			return resp, nil
		}
		lastErr = fmt.Errorf("upstream %s: %w", u, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// forward relays req upstream and returns the upstream's answer under req's
// ID; SERVFAIL when no upstream answers.
func (s *Server) forward(ctx context.Context, p *plan, req *mdns.Msg) *mdns.Msg {
	return s.forwardTo(ctx, p, p.fwd, req)
}

// forwardTo relays req to f's upstreams.
func (s *Server) forwardTo(ctx context.Context, p *plan, f *forwarder, req *mdns.Msg) *mdns.Msg {
	q := req.Copy()
	q.Id = mdns.Id()
	resp, err := f.exchange(ctx, q)
	if err != nil {
		if w := p.cfg.ErrorLog; w != nil {
			fmt.Fprintf(w, "[ERROR] plugin/errors: 2 %s %s: %v\n", req.Question[0].Name, mdns.TypeToString[req.Question[0].Qtype], err)
		}
		return errorReply(p, req, mdns.RcodeServerFailure)
	}
	resp.Id = req.Id
	return resp
}

// chase resolves an ExternalName's out-of-zone target upstream and appends
// the target's records after the CNAME. If the upstream fails the CNAME is
// kept alone, so the client may still chase it itself (CoreDNS drops the
// CNAME too, answering an empty NOERROR).
func (s *Server) chase(ctx context.Context, p *plan, reply *mdns.Msg, target string, qtype uint16) {
	q := new(mdns.Msg)
	q.SetQuestion(target, qtype)
	q.SetEdns0(mdns.DefaultMsgSize, false)
	resp, err := p.fwd.exchange(ctx, q)
	if err != nil || resp.Rcode != mdns.RcodeSuccess {
		return
	}
	reply.Answer = append(reply.Answer, resp.Answer...)
}

// Stub is a stub domain: a Corefile server block for a zone other than the
// root ("consul.local:53 { forward . 10.150.0.1 }"), whose names go to its
// own upstreams. The longest matching zone wins, as CoreDNS chooses server
// blocks.
type Stub struct {
	Zone      string
	Upstreams []string
	ForceTCP  bool
}

type stub struct {
	zone string
	fwd  *forwarder
}

// stubFor returns the stub domain lower falls in, if it is more specific
// than the zone of ours (the cluster or reverse zone it is in, or "").
func (p *plan) stubFor(lower, ours string) *stub {
	var best *stub
	for _, st := range p.stubs {
		if _, in := under(lower, st.zone); in && len(st.zone) > len(ours) && (best == nil || len(st.zone) > len(best.zone)) {
			best = st
		}
	}
	return best
}
