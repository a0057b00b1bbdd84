package proxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"
)

// tracer follows a packet through the rules a knftables.Fake holds, like
// kube-proxy's proxier_test packet-flow tests: it understands the rule forms
// Compile writes (and fails the test on anything else), and returns every
// possible outcome (numgen random branches to all endpoints).
type tracer struct {
	t     *testing.T
	table *knftables.FakeTable
	local map[string]bool // the node's own addresses, for fib daddr type local
}

type packet struct {
	src, dst string
	proto    string
	dport    int
}

// traceState is one path of a packet through the rules.
type traceState struct {
	pkt    packet
	mark   uint32
	dnat   string // "ip:port" once DNATed
	masq   bool
	final  string // drop, reject, accept, dnat, masquerade: ends this hook
	flow   int
	ctmark uint64
	update []string // affinity sets updated
}

const (
	flowNext = iota // go on with the next rule
	flowReturn
	flowFinal
)

func newTracer(t *testing.T, fake *knftables.Fake, local ...string) *tracer {
	t.Helper()
	if fake.Table == nil {
		t.Fatal("fake has no table")
	}
	tr := &tracer{t: t, table: fake.Table, local: map[string]bool{}}
	for _, ip := range local {
		tr.local[ip] = true
	}
	return tr
}

// fromPod traces a packet that enters the node (prerouting → forward or
// input → postrouting) and returns its outcomes, each "ip:port", "ip:port
// masq", "reject", "drop" or "accept" (delivered unchanged), sorted and
// de-duplicated.
func (tr *tracer) fromPod(src, dst, proto string, dport int) []string {
	st := traceState{pkt: packet{src, dst, proto, dport}}
	var out []string
	var pre []traceState
	for _, s := range tr.hook("filter-prerouting", st) {
		if s.final == "drop" || s.final == "reject" {
			out = append(out, s.final)
			continue
		}
		pre = append(pre, tr.hook("nat-prerouting", s)...)
	}
	for _, s := range pre {
		if s.final == "drop" || s.final == "reject" {
			out = append(out, s.final)
			continue
		}
		filter := "filter-forward"
		if tr.local[s.pkt.dst] {
			filter = "filter-input"
		}
		out = append(out, tr.finish(tr.hook(filter, s), true)...)
	}
	return uniqueSorted(out)
}

// fromNode traces a packet the node itself sends (output hooks).
func (tr *tracer) fromNode(src, dst, proto string, dport int) []string {
	st := traceState{pkt: packet{src, dst, proto, dport}}
	var out []string
	for _, s := range tr.hook("filter-output", st) {
		if s.final == "drop" || s.final == "reject" {
			out = append(out, s.final)
			continue
		}
		for _, n := range tr.hook("nat-output", s) {
			out = append(out, tr.finish(tr.hook("filter-output-post-dnat", n), true)...)
		}
	}
	return uniqueSorted(out)
}

// finish runs postrouting on packets that were not dropped.
func (tr *tracer) finish(states []traceState, post bool) []string {
	var out []string
	for _, s := range states {
		if s.final == "drop" || s.final == "reject" {
			out = append(out, s.final)
			continue
		}
		for _, p := range tr.hook("nat-postrouting", s) {
			res := "accept"
			if p.dnat != "" {
				res = p.dnat
			}
			if p.masq {
				res += " masq"
			}
			out = append(out, res)
		}
	}
	return out
}

// hook runs one base chain and clears the per-hook verdict of survivors.
func (tr *tracer) hook(chain string, st traceState) []traceState {
	st.final, st.flow = "", flowNext
	out := tr.chain(chain, st)
	for i := range out {
		if out[i].final == "accept" || out[i].final == "dnat" || out[i].final == "masquerade" {
			out[i].final = ""
		}
	}
	return out
}

func (tr *tracer) chain(name string, st traceState) []traceState {
	c, ok := tr.table.Chains[name]
	if !ok {
		tr.t.Fatalf("trace: no chain %q", name)
	}
	rules := make([]string, len(c.Rules))
	for i, r := range c.Rules {
		rules[i] = r.Rule
	}
	return tr.rules(rules, st)
}

func (tr *tracer) rules(rules []string, st traceState) []traceState {
	if len(rules) == 0 {
		st.flow = flowReturn
		return []traceState{st}
	}
	var out []traceState
	for _, s := range tr.rule(rules[0], st) {
		if s.flow == flowNext {
			out = append(out, tr.rules(rules[1:], s)...)
		} else {
			out = append(out, s)
		}
	}
	return out
}

// rule evaluates one rule: leading matches, then one statement.
func (tr *tracer) rule(rule string, st traceState) []traceState {
	w := strings.Fields(rule)
	st.flow = flowNext
	for len(w) > 0 {
		matched, rest, ok := tr.match(w, st)
		if !ok {
			break
		}
		if !matched {
			return []traceState{st}
		}
		w = rest
	}
	return tr.statement(rule, w, st)
}

// match consumes one match expression from w. ok is false when w starts with
// a statement instead.
func (tr *tracer) match(w []string, st traceState) (matched bool, rest []string, ok bool) {
	dst := st.pkt.dst
	switch {
	case hasPrefix(w, "ct", "state", "new"):
		return true, w[3:], true
	case hasPrefix(w, "fib", "daddr", "type", "local"):
		return tr.local[dst], w[4:], true
	case hasPrefix(w, "fib", "saddr", "type", "local"):
		return tr.local[st.pkt.src], w[4:], true
	case hasPrefix(w, "ip", "saddr", ".", "ip", "daddr") && len(w) > 5 && strings.HasPrefix(w[5], "@"):
		s, ok := tr.table.Sets[w[5][1:]]
		if !ok {
			tr.t.Fatalf("trace: no set %q", w[5])
		}
		return s.FindElement(st.pkt.src, dst) != nil, w[6:], true
	case hasPrefix(w, "ip", "daddr", ".") || hasPrefix(w, "meta", "l4proto", ".", "th"):
		return true, w, false // a concatenated vmap lookup: a statement
	case hasPrefix(w, "ip", "daddr") || hasPrefix(w, "ip", "saddr"):
		addr := dst
		if w[1] == "saddr" {
			addr = st.pkt.src
		}
		neg := len(w) > 2 && w[2] == "!="
		i := 2
		if neg {
			i = 3
		}
		in, n := tr.addrIn(addr, w[i:])
		return in != neg, w[i+n:], true
	case len(w) >= 3 && (w[0] == "tcp" || w[0] == "udp" || w[0] == "sctp") && w[1] == "dport":
		return w[0] == st.pkt.proto && w[2] == strconv.Itoa(st.pkt.dport), w[3:], true
	case hasPrefix(w, "meta", "l4proto") && len(w) > 2 && w[2] != ".":
		return w[2] == st.pkt.proto, w[3:], true
	case hasPrefix(w, "mark", "and") && len(w) >= 5:
		v, _ := strconv.ParseUint(w[2], 0, 32)
		want, _ := strconv.ParseUint(w[4], 0, 32)
		return uint64(st.mark)&v == want, w[5:], true
	}
	return false, w, false
}

// addrIn reports whether addr is in the operand at the start of w: @set,
// { list } or a literal address or prefix; n is how many words it used.
func (tr *tracer) addrIn(addr string, w []string) (bool, int) {
	a := netip.MustParseAddr(addr)
	inList := func(items []string) bool {
		for _, it := range items {
			it = strings.TrimSuffix(it, ",")
			if p, err := netip.ParsePrefix(it); err == nil && p.Contains(a) {
				return true
			}
			if it == addr {
				return true
			}
		}
		return false
	}
	switch {
	case strings.HasPrefix(w[0], "@"):
		s, ok := tr.table.Sets[w[0][1:]]
		if !ok {
			tr.t.Fatalf("trace: no set %q", w[0])
		}
		return s.FindElement(addr) != nil, 1
	case w[0] == "{":
		end := slices.Index(w, "}")
		return inList(w[1:end]), end + 1
	default:
		return inList(w[:1]), 1
	}
}

func (tr *tracer) statement(rule string, w []string, st traceState) []traceState {
	switch {
	case len(w) == 2 && (w[0] == "jump" || w[0] == "goto"):
		return tr.jump(w[0], w[1], st)
	case len(w) == 1 && (w[0] == "return" || w[0] == "drop" || w[0] == "reject" || w[0] == "accept"):
		if w[0] == "return" {
			st.flow = flowReturn
		} else {
			st.flow, st.final = flowFinal, w[0]
		}
		return []traceState{st}
	case hasPrefix(w, "ip", "daddr", "."), hasPrefix(w, "meta", "l4proto", "."):
		// ip daddr . meta l4proto . th dport vmap @m   |   meta l4proto . th dport vmap @m
		key := []string{st.pkt.proto, strconv.Itoa(st.pkt.dport)}
		if w[0] == "ip" {
			key = append([]string{st.pkt.dst}, key...)
		}
		m, ok := tr.table.Maps[strings.TrimPrefix(w[len(w)-1], "@")]
		if !ok {
			tr.t.Fatalf("trace: no map in %q", rule)
		}
		e := m.FindElement(key...)
		if e == nil {
			return []traceState{st}
		}
		v := strings.Fields(e.Value[0])
		if len(v) == 2 {
			return tr.jump(v[0], v[1], st)
		}
		return tr.statement(rule, v, st)
	case hasPrefix(w, "ct", "mark", "set", "numgen", "random", "mod") && len(w) == 11 && w[7] == "offset":
		// ct mark set numgen random mod N offset K goto C: every slot.
		n, _ := strconv.Atoi(w[6])
		k, _ := strconv.ParseUint(w[8], 10, 32)
		var out []traceState
		for i := range n {
			s := st
			s.ctmark = k + uint64(i)
			out = append(out, tr.jump(w[9], w[10], s)...)
		}
		return out
	case hasPrefix(w, "dnat", "ip", "to", "ct", "mark", "map") && len(w) == 7:
		m, ok := tr.table.Maps[strings.TrimPrefix(w[6], "@")]
		if !ok {
			tr.t.Fatalf("trace: no map in %q", rule)
		}
		e := m.FindElement(strconv.FormatUint(st.ctmark, 10))
		if e == nil {
			tr.t.Fatalf("trace: slot %d is not in %s", st.ctmark, w[6])
		}
		v := strings.Fields(e.Value[0]) // "ip . port"
		st.dnat = v[0] + ":" + v[2]
		st.pkt.dst = v[0]
		st.pkt.dport, _ = strconv.Atoi(v[2])
		st.flow, st.final = flowFinal, "dnat"
		return []traceState{st}
	case hasPrefix(w, "numgen", "random", "mod"):
		// numgen random mod N vmap { 0 : goto a , 1 : goto b }: every branch.
		var out []traceState
		for i := 0; i < len(w); i++ {
			if w[i] == "goto" || w[i] == "jump" {
				out = append(out, tr.jump(w[i], w[i+1], st)...)
			}
		}
		return out
	case hasPrefix(w, "mark", "set", "mark") && len(w) == 5:
		v, _ := strconv.ParseUint(w[4], 0, 32)
		if w[3] == "or" {
			st.mark |= uint32(v)
		} else {
			st.mark ^= uint32(v)
		}
		return []traceState{st}
	case len(w) > 0 && w[0] == "masquerade":
		st.masq, st.flow, st.final = true, flowFinal, "masquerade"
		return []traceState{st}
	case hasPrefix(w, "update") && len(w) >= 2:
		st.update = append(slices.Clone(st.update), strings.TrimPrefix(w[1], "@"))
		return []traceState{st}
	case hasPrefix(w, "dnat", "to") && len(w) == 3:
		ap := netip.MustParseAddrPort(w[2])
		st.dnat = w[2]
		st.pkt.dst, st.pkt.dport = ap.Addr().String(), int(ap.Port())
		st.flow, st.final = flowFinal, "dnat"
		return []traceState{st}
	}
	tr.t.Fatalf("trace: cannot evaluate %q (at %q)", rule, strings.Join(w, " "))
	return nil
}

func (tr *tracer) jump(verb, chain string, st traceState) []traceState {
	var out []traceState
	for _, s := range tr.chain(chain, st) {
		switch {
		case s.flow == flowFinal:
		case verb == "jump":
			s.flow = flowNext
		default: // goto: the calling chain ends too
			s.flow = flowReturn
		}
		out = append(out, s)
	}
	return out
}

func hasPrefix(w []string, p ...string) bool {
	return len(w) >= len(p) && slices.Equal(w[:len(p)], p)
}

func uniqueSorted(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func endpoints(eps ...string) []string { return uniqueSorted(eps) }

func (p packet) String() string {
	return fmt.Sprintf("%s → %s:%d/%s", p.src, p.dst, p.dport, p.proto)
}
