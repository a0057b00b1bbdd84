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

	ops := &opList{}
	a.writeDiff(ops, have, want, start)
	a.deleteStale(ops, r, start)
	if err := a.runPartial(ctx, ops, r); err != nil {
		a.failed() // r is half-updated; a full sync rebuilds it
		return fmt.Errorf("nftables transaction (%d operations, partial): %w", ops.NumOperations(), err)
	}
	a.observe(false, start)
	return nil
}

// runPartial sends ops as one transaction: a netlink batch when it can, else
// through nft.
func (a *Applier) runPartial(ctx context.Context, ops *opList, r *Ruleset) error {
	if ops.NumOperations() == 0 {
		return nil
	}
	if a.netlink != nil {
		err := a.netlink.run(ops.ops, r.Sets)
		if !errors.Is(err, errUnsupported) {
			if err == nil {
				a.netlinkBatches++
			}
			return err
		}
	}
	tx := a.nft.NewTransaction()
	ops.replay(tx)
	return a.nft.Run(ctx, tx)
}
