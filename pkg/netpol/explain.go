package netpol

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Explanation is a verdict in plain sentences, with the rules behind it.
type Explanation struct {
	From     string          `json:"from"`
	To       string          `json:"to"`
	Port     int32           `json:"port"`
	Protocol corev1.Protocol `json:"protocol"`
	Allowed  bool            `json:"allowed"`
	Egress   Side            `json:"egress"`
	Ingress  Side            `json:"ingress"`
}

// Side is one direction of an Explanation.
type Side struct {
	Allowed  bool     `json:"allowed"`
	Reason   Reason   `json:"reason"`
	Policies []string `json:"policies,omitempty"`
	Rules    []string `json:"allowedBy,omitempty"`
	// DecidedBy names the AdminNetworkPolicy or BaselineAdminNetworkPolicy
	// rule that decided; PassedBy the ANP rule that passed to NetworkPolicy.
	DecidedBy string   `json:"decidedBy,omitempty"`
	PassedBy  string   `json:"passedBy,omitempty"`
	Sentences []string `json:"explanation"`
}

// Explain evaluates one connection and says, for each side, which policies
// select the pod, which rules allow the connection, or why none does.
func (e *Engine) Explain(from, to Endpoint, port int32, proto corev1.Protocol) Explanation {
	v := e.Evaluate(from, to, port, proto)
	x := Explanation{From: from.String(), To: to.String(), Port: port, Protocol: proto, Allowed: v.Allowed}
	x.Egress = e.side(v, Egress, v.Egress)
	x.Ingress = e.side(v, Ingress, v.Ingress)
	return x
}

func (e *Engine) side(v Verdict, dir Direction, d Decision) Side {
	s := Side{Allowed: d.Allowed, Reason: d.Reason, Policies: d.Policies}
	for _, r := range d.Rules {
		s.Rules = append(s.Rules, r.String())
	}
	subject, other := v.From, v.To
	verb, prep := "send", "to"
	if dir == Ingress {
		subject, other = v.To, v.From
		verb, prep = "receive", "from"
	}
	pp := fmt.Sprintf("%d/%s", v.Port, v.Protocol)
	say := func(format string, a ...any) { s.Sentences = append(s.Sentences, fmt.Sprintf(format, a...)) }
	e.explainAdmin(&s, subject, other, dir, prep, pp, d)
	switch d.Reason {
	case SamePod:
		say("A pod can always reach itself: %s is both ends.", subject)
	case NotAPod:
		say("%s is not a pod of the cluster, so no %s policy applies to it.", subject, lowerDir(dir))
	case FromOwnNode:
		say("%s is an address of %s's own node (%s); traffic from a pod's own node is always allowed in (kubelet probes).", other, subject, subject.Pod.Node)
	case NotIsolated:
		if !e.explainBaselineMiss(&s, subject, dir, verb, d) {
			say("No NetworkPolicy selects %s for %s, so it may %s anything.", subject, lowerDir(dir), verb)
		}
	case RuleAllows:
		say("%s is isolated for %s by %s.", subject, lowerDir(dir), strings.Join(d.Policies, ", "))
		for _, r := range d.Rules {
			say("%s allows %s %s on %s.", capital(r.String()), prep, other, pp)
		}
	case NoRuleAllows:
		say("%s is isolated for %s by %s, and no rule of these allows %s %s on %s:", subject, lowerDir(dir), strings.Join(d.Policies, ", "), prep, other, pp)
		for _, key := range d.Policies {
			p := e.policy(key)
			if len(p.rules[dir]) == 0 {
				say("  %s has no %s rules: it allows no %s traffic.", key, lowerDir(dir), lowerDir(dir))
			}
			for _, r := range p.rules[dir] {
				say("  %s: %s.", RuleRef{Policy: key, Direction: dir, Index: r.index}, e.whyNot(r, other, v.To, v.Port, v.Protocol))
			}
		}
	}
	return s
}

// whyNot says what part of a rule fails to match.
func (e *Engine) whyNot(r *rule, peer, dst Endpoint, port int32, proto corev1.Protocol) string {
	var parts []string
	if !e.peerMatches(r, peer) {
		if peer.Pod == nil && len(r.peers) > 0 && !hasBlock(r) {
			parts = append(parts, fmt.Sprintf("its peers select pods only, and %s is not a pod", peer))
		} else {
			parts = append(parts, fmt.Sprintf("no peer matches %s", peer))
		}
	}
	if !e.portMatches(r, dst, port, proto) {
		parts = append(parts, fmt.Sprintf("its ports (%s) do not include %d/%s on %s", describePorts(r, dst), port, proto, dst))
	}
	if len(parts) == 0 {
		return "matches" // cannot happen for a denied connection
	}
	return strings.Join(parts, ", and ")
}

func hasBlock(r *rule) bool {
	for _, p := range r.peers {
		if p.block != nil {
			return true
		}
	}
	return false
}

func describePorts(r *rule, dst Endpoint) string {
	var out []string
	for _, m := range r.ports {
		switch {
		case m.name != "":
			lo, _, ok := m.resolve(portsOf(dst), dst.Pod != nil)
			if ok {
				out = append(out, fmt.Sprintf("%s=%d/%s", m.name, lo, m.protocol))
			} else {
				out = append(out, fmt.Sprintf("%s/%s, which %s does not declare", m.name, m.protocol, dst))
			}
		case m.port == 0:
			out = append(out, "any "+string(m.protocol))
		case m.endPort != m.port:
			out = append(out, fmt.Sprintf("%d-%d/%s", m.port, m.endPort, m.protocol))
		default:
			out = append(out, fmt.Sprintf("%d/%s", m.port, m.protocol))
		}
	}
	return strings.Join(out, ", ")
}

func portsOf(ep Endpoint) []ContainerPort {
	if ep.Pod == nil {
		return nil
	}
	return ep.Pod.Ports
}

func (e *Engine) policy(key string) *policy {
	for _, p := range e.policies {
		if p.key == key {
			return p
		}
	}
	return nil
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Text is the explanation as lines for a terminal.
func (x Explanation) Text() string {
	var b strings.Builder
	verdict := "DENIED"
	if x.Allowed {
		verdict = "ALLOWED"
	}
	fmt.Fprintf(&b, "%s -> %s on %d/%s: %s\n", x.From, x.To, x.Port, x.Protocol, verdict)
	for _, side := range []struct {
		name string
		s    Side
	}{{"Egress", x.Egress}, {"Ingress", x.Ingress}} {
		word := "denied"
		if side.s.Allowed {
			word = "allowed"
		}
		fmt.Fprintf(&b, "%s (%s):\n", side.name, word)
		for _, l := range side.s.Sentences {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	return b.String()
}
