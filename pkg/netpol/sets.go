package netpol

import (
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"
)

// podSet is a set of the cluster's pods by index in Cluster.Pods.
type podSet []uint64

func newPodSet(n int) podSet { return make(podSet, (n+63)/64) }

func (s podSet) add(i int)      { s[i/64] |= 1 << (uint(i) % 64) }
func (s podSet) has(i int) bool { return s[i/64]&(1<<(uint(i)%64)) != 0 }
func (s podSet) or(t podSet) {
	for i := range s {
		s[i] |= t[i]
	}
}
func (s podSet) orAnd(t, u podSet) {
	for i := range s {
		s[i] |= t[i] & u[i]
	}
}
func (s podSet) count() (n int) {
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// sets holds what decideAll needs, built once per Engine on first use:
// every pod's index and, per peer and rule, the pods it matches.
type sets struct {
	index map[*Pod]int
	all   podSet
	// labelled groups pods by namespace and labels, all that selector
	// peers see (classes also tell IPs and ports apart).
	labelled []labelClass
	peers    map[*peer]podSet
	rules    map[*rule]podSet
	named    map[namedKey]podSet
	// subjects names what a subject's decisions depend on, per class;
	// results holds the decisions by that name.
	subjects map[*class][2]string
	results  map[decideKey]podSet
}

type labelClass struct {
	rep     *Pod
	members []int
}

type namedKey struct {
	name string
	pp   PortProto
}

type decideKey struct {
	subject string
	dir     Direction
	pp      PortProto
}

func (e *Engine) podSets() *sets {
	if e.sets != nil {
		return e.sets
	}
	n := len(e.Cluster.Pods)
	s := &sets{index: make(map[*Pod]int, n), all: newPodSet(n), peers: map[*peer]podSet{},
		rules: map[*rule]podSet{}, named: map[namedKey]podSet{}, subjects: map[*class][2]string{}, results: map[decideKey]podSet{}}
	byLabels := map[string]int{}
	var b strings.Builder
	for i, p := range e.Cluster.Pods {
		s.index[p] = i
		s.all.add(i)
		b.Reset()
		b.WriteString(p.Namespace)
		for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
			b.WriteString("\x00" + k + "=" + p.Labels[k])
		}
		lc, ok := byLabels[b.String()]
		if !ok {
			lc = len(s.labelled)
			byLabels[b.String()] = lc
			s.labelled = append(s.labelled, labelClass{rep: p})
		}
		s.labelled[lc].members = append(s.labelled[lc].members, i)
	}
	e.sets = s
	return s
}

// peerSet is the pods one peer matches: selector peers once per namespace
// and labels, ipBlocks by each pod's IP.
func (e *Engine) peerSet(pe *peer) podSet {
	s := e.podSets()
	if got, ok := s.peers[pe]; ok {
		return got
	}
	out := newPodSet(len(e.Cluster.Pods))
	if pe.block != nil {
		for i, p := range e.Cluster.Pods {
			if pe.block.contains(p.IP) {
				out.add(i)
			}
		}
	} else {
		for _, lc := range s.labelled {
			if pe.matchesPod(lc.rep, e.Cluster.Namespaces[lc.rep.Namespace]) {
				for _, i := range lc.members {
					out.add(i)
				}
			}
		}
	}
	s.peers[pe] = out
	return out
}

// ruleSet is the pods a rule's peers match (every pod without from/to).
func (e *Engine) ruleSet(r *rule) podSet {
	s := e.podSets()
	if r.allPeers {
		return s.all
	}
	if got, ok := s.rules[r]; ok {
		return got
	}
	out := newPodSet(len(e.Cluster.Pods))
	for _, pe := range r.peers {
		out.or(e.peerSet(pe))
	}
	s.rules[r] = out
	return out
}

// namedSet is the pods on which the named port m resolves to pp.Port.
func (e *Engine) namedSet(m portMatch, pp PortProto) podSet {
	s := e.podSets()
	k := namedKey{m.name, pp}
	if got, ok := s.named[k]; ok {
		return got
	}
	out := newPodSet(len(e.Cluster.Pods))
	for i, p := range e.Cluster.Pods {
		if lo, hi, ok := m.resolve(p.Ports, true); ok && pp.Port >= lo && pp.Port <= hi {
			out.add(i)
		}
	}
	s.named[k] = out
	return out
}

// decideAll is decide for every pod of the cluster as the far end at once:
// the pods subject may reach on pp (egress) or be reached from (ingress),
// besides itself. It follows decide step by step; a change to one belongs
// in the other, and TestMatrixEqualsPairByPair holds them together.
//
// The answer depends only on the policies that select the subject and, for
// ingress, on its declared ports (named ports resolve there), so subjects
// alike in those share it.
func (e *Engine) decideAll(dir Direction, subject *Pod, pp PortProto) podSet {
	if t := e.admin; len(t.selecting[subject]) > 0 || t.baseSel[subject] {
		return e.decideEach(dir, subject, pp)
	}
	s := e.podSets()
	sc := e.classOf[subject]
	names, ok := s.subjects[sc]
	if !ok {
		var b strings.Builder
		for _, p := range sc.selecting {
			b.WriteString(p.key + "\x00")
		}
		names[0] = b.String()
		b.WriteByte(1)
		for _, cp := range subject.Ports {
			fmt.Fprintf(&b, "%s/%d/%s,", cp.Name, cp.Port, cp.Protocol)
		}
		names[1] = b.String()
		s.subjects[sc] = names
	}
	k := decideKey{names[0], dir, pp}
	if dir == Ingress {
		k.subject = names[1]
	}
	if got, ok := s.results[k]; ok {
		return got
	}
	var isolating []*policy
	for _, p := range sc.selecting {
		if p.isolates[dir] {
			isolating = append(isolating, p)
		}
	}
	out := s.all
	if len(isolating) > 0 {
		out = newPodSet(len(e.Cluster.Pods))
		for _, p := range isolating {
			for _, r := range p.rules[dir] {
				e.allowRule(out, r, dir, subject, pp)
			}
		}
	}
	s.results[k] = out
	return out
}

// allowRule adds to out the far ends rule r allows. The receiving end
// resolves named ports: the subject itself for ingress, each destination
// pod for egress.
func (e *Engine) allowRule(out podSet, r *rule, dir Direction, subject *Pod, pp PortProto) {
	peers := e.ruleSet(r)
	if dir == Ingress {
		if e.portMatches(r, PodEndpoint(subject), pp.Port, pp.Protocol) {
			out.or(peers)
		}
		return
	}
	if r.allPorts {
		out.or(peers)
		return
	}
	for _, m := range r.ports {
		if m.protocol != pp.Protocol {
			continue
		}
		if m.name == "" {
			if lo, hi, _ := m.resolve(nil, true); pp.Port >= lo && pp.Port <= hi {
				out.or(peers)
				return
			}
			continue
		}
		out.orAnd(peers, e.namedSet(m, pp))
	}
}

// decideEach is decideAll for a subject the admin tiers select: their rules
// match peers one by one (networks, nodes, first match across priorities),
// so the far ends are decided pair by pair, as Allowed does.
func (e *Engine) decideEach(dir Direction, subject *Pod, pp PortProto) podSet {
	out := newPodSet(len(e.Cluster.Pods))
	for j, far := range e.Cluster.Pods {
		from, to := PodEndpoint(subject), PodEndpoint(far)
		if dir == Ingress {
			from, to = to, from
		}
		if e.decide(dir, from, to, pp.Port, pp.Protocol, false).Allowed {
			out.add(j)
		}
	}
	return out
}
