package proxy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/knftables"
)

// staleChainDelay is how long a chain that is no longer wanted stays flushed
// before it is deleted. Before kernel 6.2, a chain referenced by a vmap
// element deleted in the same transaction could not be deleted yet, so
// kube-proxy flushes it at once (it then does nothing) and deletes it on a
// later sync; we do the same.
const staleChainDelay = time.Second

// Applier writes compiled Rulesets into one nftables table. It remembers the
// last Ruleset it applied so later calls send only the difference.
type Applier struct {
	nft     knftables.Interface
	clock   clock.PassiveClock
	metrics *metrics

	mu sync.Mutex
	// last is what the table holds after the last successful Apply; nil
	// means "unknown", and forces a full sync.
	last *Ruleset
	// stale maps flushed, unwanted chains to when they were flushed.
	stale map[string]time.Time
	// netlink, when set, carries partial syncs (SetNetlink).
	netlink *Netlink
	// netlinkBatches counts partial syncs sent over netlink (for tests).
	netlinkBatches int
}

// SetNetlink has partial syncs sent as netlink batches when they hold only
// what Netlink encodes; everything else still goes through nft.
func (a *Applier) SetNetlink(n *Netlink) {
	a.mu.Lock()
	a.netlink = n
	a.mu.Unlock()
}

// NewApplier returns an Applier for the table nft is bound to. Metrics are
// registered on reg (nil: not registered).
func NewApplier(nft knftables.Interface, reg prometheus.Registerer) *Applier {
	return newApplier(nft, reg, clock.RealClock{})
}

func newApplier(nft knftables.Interface, reg prometheus.Registerer, clk clock.PassiveClock) *Applier {
	return &Applier{nft: nft, clock: clk, metrics: newMetrics(reg), stale: map[string]time.Time{}}
}

// Apply makes the table hold want, in one atomic transaction. The Applier
// keeps want (and ApplyServices later updates it in place): the caller must
// not use it afterwards. The first call,
// and the first after a failure, rewrites everything; later calls send only
// what changed since the last successful call. On error the kernel still
// holds the previous rules and the next call does a full sync.
func (a *Applier) Apply(ctx context.Context, want *Ruleset) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := a.clock.Now()
	full := a.last == nil

	ops := &opList{}
	if full {
		existing, err := a.listExisting(ctx)
		if err != nil {
			a.failed()
			return fmt.Errorf("listing table: %w", err)
		}
		a.writeFull(ops, want, existing, start)
	} else {
		a.writeDiff(ops, a.last, want, start)
	}
	a.deleteStale(ops, want, start)

	if ops.NumOperations() > 0 {
		var err error
		if sr, ok := a.nft.(scriptRunner); ok && full {
			family, table := sr.Table()
			err = sr.RunScript(ctx, a.script(ops.ops, family, table))
		} else {
			tx := a.nft.NewTransaction()
			ops.replay(tx)
			err = a.nft.Run(ctx, tx)
		}
		if err != nil {
			a.failed()
			return fmt.Errorf("nftables transaction (%d operations, full=%v): %w", ops.NumOperations(), full, err)
		}
	}
	a.last = want
	a.observe(full, start)
	return nil
}

// observe records a successful sync that began at start.
func (a *Applier) observe(full bool, start time.Time) {
	elapsed := a.clock.Since(start).Seconds()
	a.metrics.syncDuration.Observe(elapsed)
	if full {
		a.metrics.fullSyncDuration.Observe(elapsed)
	} else {
		a.metrics.partialSyncDuration.Observe(elapsed)
	}
	a.metrics.lastSync.Set(float64(a.clock.Now().UnixNano()) / 1e9)
}

// StaleCleanupDue returns when the oldest flushed chain may be deleted, so the
// caller can schedule a sync then; false when nothing waits for deletion.
func (a *Applier) StaleCleanupDue() (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var due time.Time
	for _, t := range a.stale {
		if d := t.Add(staleChainDelay); due.IsZero() || d.Before(due) {
			due = d
		}
	}
	return due, !due.IsZero()
}

// failed forgets what the table holds: the transaction did not run (nftables
// transactions are all or nothing), but we no longer trust our mirror.
func (a *Applier) failed() {
	a.last = nil
	a.stale = map[string]time.Time{}
	a.metrics.syncFailures.Inc()
}

// existingObjects names what a table already holds, from a previous run.
type existingObjects struct{ chains, sets, maps []string }

func (a *Applier) listExisting(ctx context.Context) (existingObjects, error) {
	all, err := a.nft.ListAll(ctx)
	if knftables.IsNotFound(err) {
		return existingObjects{}, nil
	}
	if err != nil {
		return existingObjects{}, err
	}
	return existingObjects{chains: all["chain"], sets: all["set"], maps: all["map"]}, nil
}

// writeFull rewrites the whole table: every wanted chain and set is added
// (a no-op if it exists) and flushed, then refilled; anything else a previous
// run left is flushed (chains, deleted later) or deleted (sets and maps).
func (a *Applier) writeFull(tx txWriter, want *Ruleset, existing existingObjects, now time.Time) {
	tx.Add(&knftables.Table{})
	chains := sortedKeys(want.Chains)
	for _, name := range chains {
		tx.Add(chainObject(want.Chains[name]))
		tx.Flush(&knftables.Chain{Name: name})
	}
	for _, name := range existing.chains {
		if _, ok := want.Chains[name]; !ok {
			tx.Flush(&knftables.Chain{Name: name})
			if _, known := a.stale[name]; !known {
				a.stale[name] = now
			}
		}
	}
	sets := sortedKeys(want.Sets)
	for _, name := range sets {
		s := want.Sets[name]
		tx.Add(setObject(s))
		tx.Flush(setObject(s))
	}
	for _, name := range existing.sets {
		if _, ok := want.Sets[name]; !ok {
			tx.Delete(&knftables.Set{Name: name})
		}
	}
	for _, name := range existing.maps {
		if _, ok := want.Sets[name]; !ok {
			tx.Delete(&knftables.Map{Name: name})
		}
	}
	for _, name := range chains {
		addRules(tx, want.Chains[name])
	}
	for _, name := range sets {
		s := want.Sets[name]
		for _, k := range sortedKeys(s.Elements) {
			tx.Add(elementObject(s, s.Elements[k]))
		}
	}
}

// writeDiff sends only what differs between have and want. Order matters
// inside the transaction: declare new objects, flush chains whose rules change
// (which drops their references), delete elements and sets no longer wanted,
// then add rules and elements.
func (a *Applier) writeDiff(tx txWriter, have, want *Ruleset, now time.Time) {
	flush := map[string]bool{} // chains to flush (changed or gone)
	refill := []string{}       // chains to (re)fill with rules

	// Sets whose definition changed (e.g. an affinity timeout) must be
	// recreated, which first needs every rule that names them gone.
	redefined := map[string]bool{}
	for name, s := range want.Sets {
		if old, ok := have.Sets[name]; ok && !s.sameDefinition(old) {
			redefined[name] = true
		}
	}

	for _, name := range sortedKeys(want.Sets) {
		if _, ok := have.Sets[name]; !ok {
			tx.Add(setObject(want.Sets[name]))
		}
	}
	for _, name := range sortedKeys(want.Chains) {
		c := want.Chains[name]
		old, ok := have.Chains[name]
		switch {
		case !ok:
			tx.Add(chainObject(c))
			if _, wasStale := a.stale[name]; wasStale {
				delete(a.stale, name) // still exists, already flushed
			}
			refill = append(refill, name)
		case !slices.Equal(old.Rules, c.Rules) || referencesAny(old, redefined):
			flush[name] = true
			refill = append(refill, name)
		}
	}
	for _, name := range sortedKeys(have.Chains) {
		if _, ok := want.Chains[name]; !ok {
			flush[name] = true
			a.stale[name] = now
		}
	}
	for _, name := range sortedKeys(flush) {
		tx.Flush(&knftables.Chain{Name: name})
	}

	for _, name := range sortedKeys(have.Sets) {
		old := have.Sets[name]
		s, ok := want.Sets[name]
		switch {
		case !ok:
			tx.Delete(setObject(old))
		case redefined[name]:
			tx.Delete(setObject(old))
			tx.Add(setObject(s))
		default:
			for _, k := range sortedKeys(old.Elements) {
				if e, keep := s.Elements[k]; !keep || !sameElement(e, old.Elements[k]) {
					tx.Delete(elementObject(old, old.Elements[k]))
				}
			}
		}
	}

	for _, name := range refill {
		addRules(tx, want.Chains[name])
	}
	for _, name := range sortedKeys(want.Sets) {
		s := want.Sets[name]
		old, existed := have.Sets[name]
		for _, k := range sortedKeys(s.Elements) {
			e := s.Elements[k]
			if existed && !redefined[name] {
				if oe, ok := old.Elements[k]; ok && sameElement(oe, e) {
					continue
				}
			}
			tx.Add(elementObject(s, e))
		}
	}
}

// deleteStale deletes chains flushed at least staleChainDelay ago.
func (a *Applier) deleteStale(tx txWriter, want *Ruleset, now time.Time) {
	for _, name := range sortedKeys(a.stale) {
		if _, ok := want.Chains[name]; ok {
			delete(a.stale, name)
			continue
		}
		if now.Sub(a.stale[name]) >= staleChainDelay {
			tx.Delete(&knftables.Chain{Name: name})
			delete(a.stale, name)
		}
	}
}

func referencesAny(c *Chain, sets map[string]bool) bool {
	if len(sets) == 0 {
		return false
	}
	for _, r := range c.Rules {
		for name := range sets {
			if strings.Contains(r, "@"+name) {
				return true
			}
		}
	}
	return false
}

func chainObject(c *Chain) *knftables.Chain {
	ch := &knftables.Chain{Name: c.Name}
	if c.Base != nil {
		ch.Type = knftables.PtrTo(c.Base.Type)
		ch.Hook = knftables.PtrTo(c.Base.Hook)
		ch.Priority = knftables.PtrTo(c.Base.Priority)
	}
	return ch
}

func addRules(tx txWriter, c *Chain) {
	for _, r := range c.Rules {
		tx.Add(&knftables.Rule{Chain: c.Name, Rule: r})
	}
}

// setObject returns the knftables object for s: a *Set or a *Map.
func setObject(s *Set) knftables.Object {
	var timeout *time.Duration
	if s.Timeout > 0 {
		timeout = knftables.PtrTo(s.Timeout)
	}
	if s.Map {
		return &knftables.Map{Name: s.Name, Type: s.Type, TypeOf: s.TypeOf, Flags: s.Flags, Timeout: timeout}
	}
	return &knftables.Set{Name: s.Name, Type: s.Type, TypeOf: s.TypeOf, Flags: s.Flags, Timeout: timeout}
}

func elementObject(s *Set, e Element) *knftables.Element {
	if s.Map {
		return &knftables.Element{Map: s.Name, Key: e.Key, Value: e.Value}
	}
	return &knftables.Element{Set: s.Name, Key: e.Key}
}
