package enforce

import (
	"context"
	"fmt"
	"sync"

	"sigs.k8s.io/knftables"
)

// Applier writes Rulesets into the table nft is bound to, each in one
// atomic transaction. The first call (and the first after a failure)
// rewrites the table; later calls add and delete only the elements that
// changed.
type Applier struct {
	nft knftables.Interface

	mu   sync.Mutex
	last *Ruleset // what the kernel holds; nil = unknown, forces a full write
}

// NewApplier returns an Applier for the table nft is bound to.
func NewApplier(nft knftables.Interface) *Applier { return &Applier{nft: nft} }

// Result describes one Apply.
type Result struct {
	Full       bool
	Operations int
}

// Apply makes the table hold want. On error the kernel keeps the previous
// rules (the transaction is all or nothing: enforcement never opens while
// an update fails) and the next Apply is a full write.
func (a *Applier) Apply(ctx context.Context, want *Ruleset) (Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	tx := a.nft.NewTransaction()
	res := Result{Full: a.last == nil}
	if res.Full {
		writeFull(tx, want)
	} else {
		writeDiff(tx, a.last, want)
	}
	return a.run(ctx, tx, want, res)
}

// Element is one set element: its set and fields.
type Element struct {
	Set    string
	Fields []string
}

// Delta is a change of a Ruleset's elements.
type Delta struct {
	Del, Add []Element
}

// ApplyDelta makes the table hold want, which differs by d from the want
// of the last successful call: only d is written, deletions first, in one
// transaction. The first call, and the first after a failure, writes want
// in full instead. The caller keeps want and updates it for the next
// call; Apply and ApplyDelta are not meant to be mixed on one Applier.
func (a *Applier) ApplyDelta(ctx context.Context, want *Ruleset, d Delta) (Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	tx := a.nft.NewTransaction()
	res := Result{Full: a.last == nil}
	if res.Full {
		writeFull(tx, want)
	} else {
		for _, el := range d.Del {
			tx.Delete(&knftables.Element{Set: el.Set, Key: el.Fields})
		}
		for _, el := range d.Add {
			tx.Add(&knftables.Element{Set: el.Set, Key: el.Fields})
		}
	}
	return a.run(ctx, tx, want, res)
}

// run sends tx, unless it is empty, and remembers want as what the table
// holds; a failed transaction forgets it, so the next call writes in full.
func (a *Applier) run(ctx context.Context, tx *knftables.Transaction, want *Ruleset, res Result) (Result, error) {
	res.Operations = tx.NumOperations()
	if res.Operations == 0 {
		return res, nil
	}
	if err := a.nft.Run(ctx, tx); err != nil {
		a.last = nil
		return res, fmt.Errorf("nftables transaction (%d operations, full=%v): %w", res.Operations, res.Full, err)
	}
	a.last = want
	return res, nil
}

func writeFull(tx *knftables.Transaction, want *Ruleset) {
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("podnet NetworkPolicy enforcement")})
	for _, d := range setDefs {
		s := &knftables.Set{Name: d.name, Type: d.typ}
		if d.interval {
			s.Flags = []knftables.SetFlag{knftables.IntervalFlag}
		}
		tx.Add(s)
		tx.Flush(s)
		for _, el := range want.Sets[d.name] {
			tx.Add(&knftables.Element{Set: d.name, Key: el})
		}
	}
	for _, c := range chainDefs {
		ch := &knftables.Chain{Name: c.name}
		if c.hook != "" {
			ch.Type = knftables.PtrTo(knftables.FilterType)
			ch.Hook = knftables.PtrTo(c.hook)
			ch.Priority = knftables.PtrTo(knftables.FilterPriority)
		}
		tx.Add(ch)
		tx.Flush(ch)
	}
	// Rules after every chain exists: they jump to each other.
	for _, c := range chainDefs {
		for _, r := range c.rules {
			tx.Add(&knftables.Rule{Chain: c.name, Rule: r})
		}
	}
}

// writeDiff deletes stale elements before adding new ones, so a range that
// grows or splits never overlaps its old self inside the transaction.
func writeDiff(tx *knftables.Transaction, last, want *Ruleset) {
	for _, d := range setDefs {
		for k, el := range last.Sets[d.name] {
			if _, ok := want.Sets[d.name][k]; !ok {
				tx.Delete(&knftables.Element{Set: d.name, Key: el})
			}
		}
	}
	for _, d := range setDefs {
		for k, el := range want.Sets[d.name] {
			if _, ok := last.Sets[d.name][k]; !ok {
				tx.Add(&knftables.Element{Set: d.name, Key: el})
			}
		}
	}
}
