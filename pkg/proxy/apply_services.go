package proxy

import (
	"context"
	"errors"
	"fmt"
)

// ErrFullSyncNeeded is what ApplyServices returns when the Applier does not
// know what the table holds (first sync, or after a failure), or the last
// Ruleset did not come from Compile: the caller must Apply a full Ruleset.
var ErrFullSyncNeeded = errors.New("proxy: the table must be written in full first")

// CanApplyServices reports whether ApplyServices can run now, rather than
// returning ErrFullSyncNeeded.
func (a *Applier) CanApplyServices() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last != nil && a.last.services != nil
}

// ApplyServices replaces the rules of the Services named in changed (nil or
// empty rules: the Service is gone) in the table, in one transaction that
// holds only what those Services change. It works on the Ruleset of the last
// successful Apply, which it updates in place, so its cost follows the
// change, not the number of Services. On error the kernel keeps the previous
// rules and the next call must be a full Apply.
func (a *Applier) ApplyServices(ctx context.Context, changed map[string]*ServiceRules) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.last
	if r == nil || r.services == nil {
		return ErrFullSyncNeeded
	}
	start := a.clock.Now()

	t := newTouched()
	for key, sr := range changed {
		t.add(r.services[key])
		t.add(sr)
	}
	have := r.subset(t)
	for key, sr := range changed {
		r.removeService(key)
		if sr != nil && (len(sr.Chains) > 0 || len(sr.Sets) > 0 || len(sr.Elements) > 0) {
			r.addService(key, sr)
		}
	}
	want := r.subset(t)

	tx := a.nft.NewTransaction()
	a.writeDiff(tx, have, want, start)
	a.deleteStale(tx, r, start)
	if tx.NumOperations() > 0 {
		if err := a.nft.Run(ctx, tx); err != nil {
			a.failed() // r is half-updated; a full sync rebuilds it
			return fmt.Errorf("nftables transaction (%d operations, partial): %w", tx.NumOperations(), err)
		}
	}
	a.observe(false, start)
	return nil
}
