package proxy

import (
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/knftables"
)

// Ruleset is the desired content of the proxy's nftables table: every chain
// with its rules and every set or map with its elements. Compile builds it;
// the Applier diffs two of them. A Ruleset is immutable once built.
type Ruleset struct {
	Chains map[string]*Chain
	Sets   map[string]*Set
	// services holds what each Service (namespace/name) contributed, so a
	// partial sync can take one Service's rules out and put new ones in.
	services map[string]*ServiceRules
}

// Chain is one chain. Base is nil for a regular (jump target) chain.
type Chain struct {
	Name  string
	Base  *BaseChain
	Rules []string
}

// BaseChain is where a base chain hooks into netfilter.
type BaseChain struct {
	Type     knftables.BaseChainType
	Hook     knftables.BaseChainHook
	Priority knftables.BaseChainPriority
}

// Set is an nftables set, or a map when Map is true (then elements have values).
type Set struct {
	Name    string
	Map     bool
	Type    string
	TypeOf  string // instead of Type, for keys or values named by expression
	Flags   []knftables.SetFlag
	Timeout time.Duration
	// Elements are keyed by elementKey(Key), so diffs are map lookups.
	Elements map[string]Element
}

// Element is one set or map element.
type Element struct {
	Key   []string
	Value []string
	// owner is the Service the element's value comes from ("" for the
	// layout's own elements); others are further Services wanting the same
	// key, sorted (see addService).
	owner  string
	others []contribution
}

func newRuleset() *Ruleset {
	return &Ruleset{Chains: map[string]*Chain{}, Sets: map[string]*Set{}}
}

func (r *Ruleset) chain(name string, base *BaseChain, rules ...string) *Chain {
	c := &Chain{Name: name, Base: base, Rules: rules}
	r.Chains[name] = c
	return c
}

func (r *Ruleset) set(s *Set) *Set {
	s.Elements = map[string]Element{}
	r.Sets[s.Name] = s
	return s
}

func (s *Set) add(key []string, value ...string) {
	s.Elements[elementKey(key)] = Element{Key: key, Value: value}
}

// elementKey joins a concatenated key the way nft prints it.
func elementKey(key []string) string { return strings.Join(key, " . ") }

// sameDefinition reports whether two sets can be the same kernel object
// (nft refuses to re-add a set with a different type, flags or timeout).
func (s *Set) sameDefinition(o *Set) bool {
	return s.Map == o.Map && s.Type == o.Type && s.TypeOf == o.TypeOf && s.Timeout == o.Timeout && slices.Equal(s.Flags, o.Flags)
}

func sameElement(a, b Element) bool { return slices.Equal(a.Value, b.Value) }

// sortedKeys returns a map's keys in order, so transactions are deterministic.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
