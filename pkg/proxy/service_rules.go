package proxy

import "slices"

// ServiceRules is what one Service contributes to the table: chains and sets
// of its own (named after it, so no other Service writes them) and elements
// of the shared maps and sets of the layout (service-ips, backends, hairpin,
// ...). A partial sync recompiles only the Services that changed and swaps
// their ServiceRules in the last applied Ruleset; CompileService builds one.
type ServiceRules struct {
	Chains map[string]*Chain
	// Sets are the Service's own sets (ClientIP affinity).
	Sets map[string]*Set
	// Elements go into the layout's shared sets and maps.
	Elements []SetElement
}

// SetElement is an element of the named shared set or map.
type SetElement struct {
	Set string
	Element
	key string // elementKey(Key), computed once
}

func newServiceRules() *ServiceRules {
	return &ServiceRules{Chains: map[string]*Chain{}}
}

func (b *ServiceRules) chain(name string, base *BaseChain, rules ...string) *Chain {
	c := &Chain{Name: name, Base: base, Rules: rules}
	b.Chains[name] = c
	return c
}

func (b *ServiceRules) set(s *Set) *Set {
	if b.Sets == nil {
		b.Sets = map[string]*Set{}
	}
	s.Elements = map[string]Element{}
	b.Sets[s.Name] = s
	return s
}

func (b *ServiceRules) add(set string, key []string, value ...string) {
	if b.Elements == nil {
		b.Elements = make([]SetElement, 0, 24) // one port, ten endpoints
	}
	b.Elements = append(b.Elements, SetElement{Set: set, Element: Element{Key: key, Value: value}, key: elementKey(key)})
}

// contribution is one Service's wish for the value of a shared element.
type contribution struct {
	service string
	value   []string
}

// addService merges sr, the rules of Service key, into r. Two Services may
// want the same shared element: the same endpoint behind two Services (one
// hairpin element), or conflicting Services (one address and port). Each
// element remembers every Service that wants it; the least Service key
// wins, so the result does not depend on the order Services are merged or
// replaced in, and removing one Service leaves the others' elements.
func (r *Ruleset) addService(key string, sr *ServiceRules) {
	if r.services == nil {
		r.services = map[string]*ServiceRules{}
	}
	r.services[key] = sr
	for name, c := range sr.Chains {
		r.Chains[name] = c
	}
	for name, s := range sr.Sets {
		r.Sets[name] = s
	}
	for _, se := range sr.Elements {
		s := r.Sets[se.Set]
		k := se.key
		cur, ok := s.Elements[k]
		switch {
		case !ok:
			se.owner = key
			s.Elements[k] = se.Element
		case cur.owner == key: // the same Service twice (several ports): the last wins
			cur.Value = se.Value
			s.Elements[k] = cur
		case key < cur.owner:
			cur.others = withContribution(cur.others, contribution{cur.owner, cur.Value})
			cur.owner, cur.Value = key, se.Value
			s.Elements[k] = cur
		default:
			cur.others = withContribution(cur.others, contribution{key, se.Value})
			s.Elements[k] = cur
		}
	}
}

// removeService takes Service key's rules out of r; elements other Services
// also want pass to the least of them.
func (r *Ruleset) removeService(key string) {
	sr := r.services[key]
	if sr == nil {
		return
	}
	delete(r.services, key)
	for name := range sr.Chains {
		delete(r.Chains, name)
	}
	for name := range sr.Sets {
		delete(r.Sets, name)
	}
	for _, se := range sr.Elements {
		s := r.Sets[se.Set]
		k := se.key
		cur, ok := s.Elements[k]
		switch {
		case !ok:
		case cur.owner == key && len(cur.others) == 0:
			delete(s.Elements, k)
		case cur.owner == key:
			next := cur.others[0] // kept sorted: the least key
			cur.owner, cur.Value, cur.others = next.service, next.value, cur.others[1:]
			if len(cur.others) == 0 {
				cur.others = nil
			}
			s.Elements[k] = cur
		default:
			cur.others = slices.DeleteFunc(slices.Clone(cur.others), func(c contribution) bool { return c.service == key })
			if len(cur.others) == 0 {
				cur.others = nil
			}
			s.Elements[k] = cur
		}
	}
}

// withContribution adds or replaces c, keeping the list sorted by Service.
// It copies: Elements are values, and an older copy may share the array.
func withContribution(list []contribution, c contribution) []contribution {
	out := make([]contribution, 0, len(list)+1)
	for _, o := range list {
		if o.service != c.service {
			out = append(out, o)
		}
	}
	i, _ := slices.BinarySearchFunc(out, c.service, func(o contribution, s string) int {
		switch {
		case o.service < s:
			return -1
		case o.service > s:
			return 1
		}
		return 0
	})
	return slices.Insert(out, i, c)
}

// touched names what a set of ServiceRules can change in the table.
type touched struct {
	chains, sets map[string]bool
	elements     map[string]map[string]bool // shared set → element keys
}

func newTouched() *touched {
	return &touched{chains: map[string]bool{}, sets: map[string]bool{}, elements: map[string]map[string]bool{}}
}

func (t *touched) add(sr *ServiceRules) {
	if sr == nil {
		return
	}
	for name := range sr.Chains {
		t.chains[name] = true
	}
	for name := range sr.Sets {
		t.sets[name] = true
	}
	for _, se := range sr.Elements {
		m := t.elements[se.Set]
		if m == nil {
			m = map[string]bool{}
			t.elements[se.Set] = m
		}
		m[se.key] = true
	}
}

// subset is the part of r that t names: a small Ruleset that writeDiff can
// compare with the same part after a change. Shared sets appear in every
// subset taken with the same t (with only the named elements), so the diff
// never adds or deletes them.
func (r *Ruleset) subset(t *touched) *Ruleset {
	out := newRuleset()
	for name := range t.chains {
		if c, ok := r.Chains[name]; ok {
			out.Chains[name] = c
		}
	}
	for name := range t.sets {
		if s, ok := r.Sets[name]; ok {
			out.Sets[name] = s
		}
	}
	for name, keys := range t.elements {
		s := r.Sets[name]
		part := *s
		part.Elements = make(map[string]Element, len(keys))
		for k := range keys {
			if e, ok := s.Elements[k]; ok {
				part.Elements[k] = e
			}
		}
		out.Sets[name] = &part
	}
	return out
}
