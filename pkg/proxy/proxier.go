package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/source"
)

// Config is what a Proxier needs besides its source and table.
type Config struct {
	NodeName      string
	ServiceCIDRs  []netip.Prefix
	ClusterCIDRs  []netip.Prefix
	NodeIPs       []netip.Addr
	MasqueradeBit int
	// MinSyncPeriod is the least time between two syncs (kube-proxy's
	// --min-sync-period). 0 programs every change at once; changes that
	// arrive while a sync runs are coalesced into the next one either way.
	MinSyncPeriod time.Duration
	// Clock defaults to the real clock; tests inject a fake one.
	Clock clock.Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Conntrack, when set, has stale UDP flows deleted after each sync
	// (NewConntrackInNetns for a lab node).
	Conntrack Conntrack
	// Netlink, when set, carries partial syncs without the nft binary
	// (Applier.SetNetlink).
	Netlink *Netlink
}

const (
	retryMin = 50 * time.Millisecond
	retryMax = 10 * time.Second
)

// Proxier keeps one node's table in line with the Services and
// EndpointSlices of a source: every change schedules a sync. The first sync,
// and any after a failure or a Node change, compiles the whole state; the
// others recompile only the Services that changed (partial sync).
type Proxier struct {
	src     source.Source
	cfg     Config
	clock   clock.Clock
	log     *slog.Logger
	applier *Applier
	metrics *metrics
	slots   *Slots // endpoint slot numbers, kept across syncs
	changes *changeTracker

	kick chan struct{} // buffered(1): "state changed, sync soon"

	mu sync.Mutex
	// seen counts relevant events; applied is the count included in the
	// last successful sync.
	seen, applied uint64
	// pendingSince is when the oldest change not yet applied arrived.
	pendingSince time.Time
	progress     chan struct{} // closed and replaced after every successful sync
	synced       chan struct{}
	syncedOnce   sync.Once
}

// NewProxier returns a Proxier that programs the table nft is bound to.
// Metrics (kube-proxy's names) are registered on reg.
func NewProxier(src source.Source, nft knftables.Interface, cfg Config, reg prometheus.Registerer) *Proxier {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := newApplier(nft, reg, cfg.Clock)
	if cfg.Netlink != nil {
		a.SetNetlink(cfg.Netlink)
	}
	return &Proxier{
		src: src, cfg: cfg, clock: cfg.Clock, log: cfg.Logger,
		applier: a, metrics: a.metrics, slots: NewSlots(), changes: newChangeTracker(),
		kick:     make(chan struct{}, 1),
		progress: make(chan struct{}),
		synced:   make(chan struct{}),
	}
}

// Synced is closed once the first sync has been applied.
func (p *Proxier) Synced() <-chan struct{} { return p.synced }

// WaitApplied returns once every change the proxier had received when it was
// called is in the kernel, or when ctx ends.
func (p *Proxier) WaitApplied(ctx context.Context) error {
	p.mu.Lock()
	target := p.seen
	for p.applied < target || !p.isSynced() {
		ch := p.progress
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
		p.mu.Lock()
	}
	p.mu.Unlock()
	return nil
}

func (p *Proxier) isSynced() bool {
	select {
	case <-p.synced:
		return true
	default:
		return false
	}
}

// Run syncs until ctx ends.
func (p *Proxier) Run(ctx context.Context) {
	cancel := p.src.Subscribe(p.onEvent)
	defer cancel()
	if !p.waitSourceSynced(ctx) {
		return
	}
	p.changes.markAll()
	p.note()

	var wake <-chan time.Time // retry or stale-chain cleanup
	backoff := time.Duration(0)
	var lastSync time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		case <-wake:
		}
		if wait := p.cfg.MinSyncPeriod - p.clock.Since(lastSync); !lastSync.IsZero() && wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-p.clock.After(wait):
			}
		}
		lastSync = p.clock.Now()
		wake = nil
		if err := p.sync(ctx); err != nil {
			backoff = min(max(2*backoff, retryMin), retryMax)
			p.log.Error("proxy sync failed, retrying", "err", err, "retryIn", backoff)
			wake = p.clock.After(backoff)
			continue
		}
		backoff = 0
		if due, ok := p.applier.StaleCleanupDue(); ok {
			wake = p.clock.After(max(due.Sub(p.clock.Now()), 0))
		}
	}
}

func (p *Proxier) waitSourceSynced(ctx context.Context) bool {
	for !p.src.HasSynced() {
		select {
		case <-ctx.Done():
			return false
		case <-p.clock.After(10 * time.Millisecond):
		}
	}
	return true
}

// onEvent runs on the source's delivery goroutine, so it only notes the
// change and wakes the sync loop.
func (p *Proxier) onEvent(ev source.Event) {
	if p.changes.note(ev) {
		p.note()
	}
}

func (p *Proxier) note() {
	p.mu.Lock()
	p.seen++
	if p.pendingSince.IsZero() {
		p.pendingSince = p.clock.Now()
	}
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default: // a sync is already due; it will see this change too
	}
}

// sync compiles the current state and applies it. Changes counted before the
// state is read are covered by this sync.
func (p *Proxier) sync(ctx context.Context) error {
	p.mu.Lock()
	seq, since := p.seen, p.pendingSince
	p.pendingSince = time.Time{} // changes from now on start a new wait
	p.mu.Unlock()

	all, dirty := p.changes.take()
	in := p.inputs()
	err := p.apply(ctx, in, all, dirty)
	if err != nil {
		p.changes.markAll() // the Applier forgot the table: everything is rewritten
	}
	if err == nil && p.cfg.Conntrack != nil && hasUDP(in) {
		// After the rules: a flow deleted earlier could be re-created by
		// the old rules before the new ones are in.
		if n, cerr := p.cfg.Conntrack.DeleteUDP(staleUDP(in)); cerr != nil {
			p.log.Warn("deleting stale UDP conntrack entries", "err", cerr)
		} else if n > 0 {
			p.log.Debug("deleted stale UDP conntrack entries", "count", n)
		}
	}
	if err != nil {
		p.mu.Lock()
		if p.pendingSince.IsZero() || since.Before(p.pendingSince) {
			p.pendingSince = since // still waiting, since the first change
		}
		p.mu.Unlock()
		return err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if !since.IsZero() {
		p.metrics.programming.Observe(p.clock.Since(since).Seconds())
	}
	p.applied = seq
	p.syncedOnce.Do(func() { close(p.synced) })
	close(p.progress)
	p.progress = make(chan struct{})
	return nil
}

// apply recompiles what changed: everything, or only the dirty Services
// when the Applier holds the last table.
func (p *Proxier) apply(ctx context.Context, in Inputs, all bool, dirty map[string]bool) error {
	if !all && p.applier.CanApplyServices() {
		if len(dirty) == 0 {
			return p.applier.ApplyServices(ctx, nil) // e.g. stale-chain cleanup
		}
		err := p.applier.ApplyServices(ctx, CompileServices(in, dirty))
		if !errors.Is(err, ErrFullSyncNeeded) {
			return err
		}
	}
	err := p.applier.Apply(ctx, Compile(in))
	if err == nil {
		p.changes.learnSlices(in.EndpointSlices)
	}
	return err
}

func (p *Proxier) inputs() Inputs {
	in := Inputs{
		NodeName: p.cfg.NodeName, ServiceCIDRs: p.cfg.ServiceCIDRs, ClusterCIDRs: p.cfg.ClusterCIDRs,
		NodeIPs: p.cfg.NodeIPs, MasqueradeBit: p.cfg.MasqueradeBit, Slots: p.slots,
	}
	for _, o := range p.src.List(source.Service) {
		if s, ok := o.(*corev1.Service); ok {
			in.Services = append(in.Services, s)
		}
	}
	for _, o := range p.src.List(source.EndpointSlice) {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			in.EndpointSlices = append(in.EndpointSlices, s)
		}
	}
	return in
}
