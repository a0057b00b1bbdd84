package enforce

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/netpol"
	"github.com/podnet/podnet/pkg/nftns"
	"github.com/podnet/podnet/pkg/source"
)

const (
	retryMin = 50 * time.Millisecond
	retryMax = 10 * time.Second
)

// Enforcer keeps one node's enforcement table in line with the policies,
// pods, namespaces and nodes of a source. Each batch of changes rebuilds
// the model (reusing what unchanged objects compiled to), recompiles only
// the subject pods the changes can affect and applies the difference of
// their elements in one transaction.
type Enforcer struct {
	src     source.Source
	node    string
	log     *slog.Logger
	clock   clock.Clock
	applier *Applier
	metrics *metrics

	kick chan struct{}

	// Owned by the Run goroutine.
	cache *netpol.Cache
	prev  map[string]*netpol.Pod // pods of the last model compiled, by key
	prevC *netpol.Cluster
	parts map[string]*Ruleset // each subject pod's elements, by pod key
	want  *Ruleset            // the union of parts
	refs  map[string]map[string]int
	full  bool // the next sync recompiles every subject

	mu           sync.Mutex
	changes      []source.Event // received, not yet compiled
	seen, done   uint64         // changes received; changes covered by the kernel's rules
	pendingSince time.Time      // oldest change not yet in the kernel
	lastErr      error
	progress     chan struct{} // closed and replaced after each successful sync
}

// New returns an Enforcer for node whose table lives in the network
// namespace at netnsPath.
func New(src source.Source, node, netnsPath string, log *slog.Logger) (*Enforcer, error) {
	nft, err := nftns.New(netnsPath, knftables.IPv4Family, Table)
	if err != nil {
		return nil, fmt.Errorf("netpol enforcer for node %s: %w", node, err)
	}
	return NewWithTable(src, node, nft, log, clock.RealClock{}), nil
}

// NewWithTable is New with the table interface given (a fake in tests).
func NewWithTable(src source.Source, node string, nft knftables.Interface, log *slog.Logger, clk clock.Clock) *Enforcer {
	if log == nil {
		log = slog.Default()
	}
	return &Enforcer{src: src, node: node, log: log, clock: clk, applier: NewApplier(nft),
		metrics: newMetrics(), kick: make(chan struct{}, 1), progress: make(chan struct{}),
		cache: &netpol.Cache{}, parts: map[string]*Ruleset{}, want: newRuleset(), refs: map[string]map[string]int{}, full: true}
}

// RegisterMetrics registers the enforcer's metrics on reg.
func (e *Enforcer) RegisterMetrics(reg prometheus.Registerer) error { return e.metrics.register(reg) }

// Run programs the table until ctx ends.
func (e *Enforcer) Run(ctx context.Context) {
	cancel := e.src.Subscribe(e.onEvent)
	defer cancel()
	for !e.src.HasSynced() {
		select {
		case <-ctx.Done():
			return
		case <-e.clock.After(10 * time.Millisecond):
		}
	}
	e.note()
	var retry <-chan time.Time
	backoff := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.kick:
		case <-retry:
		}
		retry = nil
		if err := e.sync(ctx); err != nil {
			backoff = min(max(2*backoff, retryMin), retryMax)
			e.log.Error("netpol: enforcement not updated, previous rules stay in force", "node", e.node, "err", err, "retryIn", backoff)
			retry = e.clock.After(backoff)
			continue
		}
		backoff = 0
	}
}

func (e *Enforcer) onEvent(ev source.Event) {
	switch ev.Kind {
	case source.Pod, source.Namespace, source.NetworkPolicy, source.Node,
		source.AdminNetworkPolicy, source.BaselineAdminNetworkPolicy:
		e.note(ev)
	}
}

func (e *Enforcer) note(evs ...source.Event) {
	e.mu.Lock()
	e.changes = append(e.changes, evs...)
	e.seen++
	if e.pendingSince.IsZero() {
		e.pendingSince = e.clock.Now()
	}
	e.mu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// sync rebuilds the model and applies what changed for the subject pods
// the pending changes can affect. A policy the model cannot compile stops
// the update (it must not silently drop out and open what it isolates):
// the previous rules stay, the error is kept and the next sync recompiles
// every subject.
func (e *Enforcer) sync(ctx context.Context) error {
	e.mu.Lock()
	seq, since, changes := e.seen, e.pendingSince, e.changes
	e.changes = nil
	e.mu.Unlock()
	start := e.clock.Now()
	c := e.cache.FromSource(e.src)
	eng, err := e.cache.New(c)
	var res Result
	if err != nil {
		e.full = true
	} else {
		d := e.recompile(eng, changes)
		e.metrics.elements.Set(float64(e.want.Elements()))
		res, err = e.applier.ApplyDelta(ctx, e.want, d)
	}
	e.metrics.syncDuration.Observe(e.clock.Since(start).Seconds())
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lastErr = err
	if err != nil {
		e.metrics.failures.Inc()
		return err
	}
	if res.Operations > 0 && !since.IsZero() {
		e.metrics.latency.Observe(e.clock.Since(since).Seconds())
	}
	e.done = seq
	if e.seen == seq {
		e.pendingSince = time.Time{}
	}
	close(e.progress)
	e.progress = make(chan struct{})
	return nil
}

// recompile brings parts and want in line with eng for the subjects the
// changes can affect and returns the difference.
func (e *Enforcer) recompile(eng *netpol.Engine, changes []source.Event) Delta {
	now := make(map[string]*netpol.Pod, len(eng.Cluster.Pods))
	for _, p := range eng.Cluster.Pods {
		now[p.Key()] = p
	}
	var d Delta
	redo := func(key string) {
		var part *Ruleset
		if p := now[key]; p != nil && enforcedHere(p, e.node) {
			part = newRuleset()
			compilePod(part, eng, p)
		}
		e.replace(key, part, &d)
	}
	if affected, all := e.affected(eng, now, changes); all {
		for key := range e.parts {
			if now[key] == nil {
				redo(key)
			}
		}
		for key := range now {
			redo(key)
		}
	} else {
		for key := range affected {
			redo(key)
		}
	}
	e.full, e.prev, e.prevC = false, now, eng.Cluster
	return d
}

// affected lists the pod keys whose elements the changes may alter; all
// is true when every subject must be recompiled (the first sync, after a
// failure, namespace labels changed or too many pods at once).
func (e *Enforcer) affected(eng *netpol.Engine, now map[string]*netpol.Pod, changes []source.Event) (keys map[string]bool, all bool) {
	if e.full || e.prev == nil {
		return nil, true
	}
	keys = map[string]bool{}
	local := func(yield func(*netpol.Pod) bool) {
		for _, p := range eng.Cluster.Pods {
			if enforcedHere(p, e.node) && !yield(p) {
				return
			}
		}
	}
	admin := len(eng.Cluster.AdminPolicies) > 0 || eng.Cluster.Baseline != nil ||
		len(e.prevC.AdminPolicies) > 0 || e.prevC.Baseline != nil
	for _, ev := range changes {
		switch ev.Kind {
		case source.Namespace, source.AdminNetworkPolicy, source.BaselineAdminNetworkPolicy:
			// Cluster-wide selectors: any subject may be affected.
			return nil, true
		case source.Node:
			// Node addresses reach the table only through AdminNetworkPolicy
			// nodes peers; a pod's own node is let in by the output hook.
			if admin {
				return nil, true
			}
		case source.NetworkPolicy:
			// A policy only selects pods of its own namespace.
			ns := ev.Object.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			for key, p := range e.prev {
				if p.Namespace == ns {
					keys[key] = true
				}
			}
			for p := range local {
				if p.Namespace == ns {
					keys[p.Key()] = true
				}
			}
		}
	}
	// Changed pods come from comparing the models, not from events: the
	// store publishes after it changes, so a sync may already have seen a
	// pod whose event is still on its way, and only the previous model
	// still knows what the pod was. The Cache keeps a pod's *Pod while its
	// object is unchanged, so a pointer comparison finds every change.
	var changed []string
	for key, p := range now {
		if e.prev[key] != p {
			changed = append(changed, key)
		}
	}
	for key := range e.prev {
		if now[key] == nil {
			changed = append(changed, key)
		}
	}
	if len(changed) == 0 {
		return keys, false
	}
	// Admin tiers select peers cluster-wide, by namespace and pod labels:
	// with any in place, a pod change may touch any subject.
	if admin || len(changed) > 64 {
		return nil, true
	}
	for _, key := range changed {
		keys[key] = true
		// Subjects whose rules may match the pod, as it was or is.
		old, cur := e.prev[key], now[key]
		for s := range local {
			if keys[s.Key()] {
				continue
			}
			if cur != nil && eng.DependsOn(s, cur, eng.Cluster.Namespaces[cur.Namespace]) ||
				old != nil && eng.DependsOn(s, old, e.prevC.Namespaces[old.Namespace]) {
				keys[s.Key()] = true
			}
		}
	}
	return keys, false
}

// replace swaps pod key's elements for part (nil: none) and records the
// difference. Elements are counted, so one two pods share (they cannot,
// short of two pods with one IP) stays while either wants it.
func (e *Enforcer) replace(key string, part *Ruleset, d *Delta) {
	old := e.parts[key]
	for _, def := range setDefs {
		set := def.name
		refs := e.refs[set]
		if refs == nil {
			refs = map[string]int{}
			e.refs[set] = refs
		}
		if old != nil {
			for k, fields := range old.Sets[set] {
				if part != nil {
					if _, keep := part.Sets[set][k]; keep {
						continue
					}
				}
				if refs[k]--; refs[k] <= 0 {
					delete(refs, k)
					delete(e.want.Sets[set], k)
					d.Del = append(d.Del, Element{set, fields})
				}
			}
		}
		if part != nil {
			for k, fields := range part.Sets[set] {
				if old != nil {
					if _, had := old.Sets[set][k]; had {
						continue
					}
				}
				if refs[k]++; refs[k] == 1 {
					e.want.Sets[set][k] = fields
					d.Add = append(d.Add, Element{set, fields})
				}
			}
		}
	}
	if part == nil || part.Elements() == 0 {
		delete(e.parts, key)
	} else {
		e.parts[key] = part
	}
}

// Err is the error of the last sync (nil after a successful one).
func (e *Enforcer) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastErr
}

// WaitApplied returns once every change received before the call is in the
// kernel, or when ctx ends.
func (e *Enforcer) WaitApplied(ctx context.Context) error {
	e.mu.Lock()
	target := max(e.seen, 1)
	for e.done < target {
		ch := e.progress
		e.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
		e.mu.Lock()
	}
	e.mu.Unlock()
	return nil
}

type metrics struct {
	latency      prometheus.Histogram
	syncDuration prometheus.Histogram
	failures     prometheus.Counter
	elements     prometheus.Gauge
}

func newMetrics() *metrics {
	return &metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "podnet_netpol_enforcement_latency_seconds",
			Help:    "From the first unapplied change of policies, pods, namespaces or nodes to the kernel enforcing it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "podnet_netpol_sync_duration_seconds",
			Help:    "Time to compile the model and apply one transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "podnet_netpol_sync_failures_total",
			Help: "Syncs that failed to compile or apply; the previous rules stayed in force.",
		}),
		elements: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "podnet_netpol_set_elements",
			Help: "Elements in the enforcement table's sets.",
		}),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.latency, m.syncDuration, m.failures, m.elements} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
