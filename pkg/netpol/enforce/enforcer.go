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
// pods, namespaces and nodes of a source. Each change recompiles the model
// and applies the difference in one transaction.
type Enforcer struct {
	src     source.Source
	node    string
	log     *slog.Logger
	clock   clock.Clock
	applier *Applier
	metrics *metrics

	kick chan struct{}

	mu           sync.Mutex
	seen, done   uint64    // changes received; changes covered by the kernel's rules
	pendingSince time.Time // oldest change not yet in the kernel
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
		metrics: newMetrics(), kick: make(chan struct{}, 1), progress: make(chan struct{})}
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
		e.note()
	}
}

func (e *Enforcer) note() {
	e.mu.Lock()
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

// sync compiles the whole state and applies the difference. A policy the
// model cannot compile stops the update (it must not silently drop out and
// open what it isolates): the previous rules stay and the error is kept.
func (e *Enforcer) sync(ctx context.Context) error {
	e.mu.Lock()
	seq, since := e.seen, e.pendingSince
	e.mu.Unlock()
	start := e.clock.Now()
	eng, err := netpol.New(netpol.FromSource(e.src))
	var res Result
	if err == nil {
		rs := Compile(eng, e.node)
		e.metrics.elements.Set(float64(rs.Elements()))
		res, err = e.applier.Apply(ctx, rs)
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
