package dns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/clock"

	"github.com/podnet/podnet/pkg/source"
)

// ServerConfig configures a Server. The embedded Config is what zones are
// compiled with.
type ServerConfig struct {
	Config
	// Upstreams ("host" or "host:port") receive every name outside the
	// cluster and reverse zones, and reverse names the cluster does not own.
	// With none, such names are REFUSED (reverse names: NXDOMAIN).
	Upstreams []string
	// ForwardTimeout bounds one upstream exchange; 2s when zero (CoreDNS
	// forward's read_timeout).
	ForwardTimeout time.Duration
	// Debounce is how long the server waits after a change for more changes
	// before it rebuilds the zone; 10ms when zero. A change is answerable
	// after Debounce plus one rebuild.
	Debounce time.Duration
	// UDPSize is the EDNS0 buffer size the server advertises; 1232 when zero
	// (DNS flag day 2020).
	UDPSize uint16
	// Name is the "server" metric label; "dns://" plus the UDP socket's
	// address when empty, as CoreDNS labels it.
	Name string
	// Clock is used for debouncing, serials, deadlines and durations;
	// the real clock when nil.
	Clock clock.WithTicker

	// Hosts answers names from hosts-file lines before the cluster zone.
	Hosts *HostsConfig
	// Rewrites change query names before they are answered.
	Rewrites []Rewrite
	// Cache keeps replies; nil disables caching.
	Cache *CacheConfig
	// ForceTCP sends upstream queries over TCP only ("force_tcp").
	ForceTCP bool
	// Except lists zones never forwarded (forward's "except"): REFUSED.
	Except []string
	// Stubs are stub domains with their own upstreams.
	Stubs []Stub
	// LoadBalance rotates A and AAAA answers on every reply, as CoreDNS's
	// loadbalance shuffles them.
	LoadBalance bool
	// QueryLog, when set, gets one line per query in the log plugin's
	// format; ErrorLog gets upstream and internal failures (errors plugin).
	QueryLog, ErrorLog io.Writer
}

func (c ServerConfig) withDefaults() ServerConfig {
	c.Config = c.Config.withDefaults()
	if c.ForwardTimeout == 0 {
		c.ForwardTimeout = 2 * time.Second
	}
	if c.Debounce == 0 {
		c.Debounce = 10 * time.Millisecond
	}
	if c.UDPSize == 0 {
		c.UDPSize = 1232
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	return c
}

// Server answers DNS queries from the latest Zone compiled from a Source.
type Server struct {
	src     source.Source
	clock   clock.WithTicker
	metrics *metrics
	gather  prometheus.Gatherer

	// state pairs the zone with the configuration it was compiled for, so a
	// reload never answers from a zone of one configuration with the rules
	// of another.
	state   atomic.Pointer[state]
	applyMu sync.Mutex // one Apply or rebuild at a time
	kick    chan struct{}
	watched sync.Once
	name    atomic.Pointer[string]

	// pending are the changes seen since the last rebuild began, timed for
	// the programming-latency histogram.
	pendingMu sync.Mutex
	pending   []change
	// dirty names the Services changed since the last rebuild began, and
	// dirtySlices the EndpointSlices ("namespace/name"), whose former
	// Service must be recompiled too. Namespaces and pods are read whole by
	// every rebuild.
	dirty       map[ServiceKey]bool
	dirtySlices map[string]bool

	// interned are the metric series replay entries count in (bounded by
	// the label combinations: zones × types × rcodes × plugins × families).
	internMu sync.Mutex
	interned map[queryMetrics]*queryMetrics
}

// change is one relevant event: when it was seen, and CoreDNS's
// service_kind label for it.
type change struct {
	at   time.Time
	kind string
}

// maxPending bounds the changes timed per rebuild; a burst beyond it is
// answered by the same rebuild, so its latencies are no different.
const maxPending = 1024

func (s *Server) noteChange(e source.Event) {
	c := change{at: s.clock.Now(), kind: s.serviceKind(e)}
	s.pendingMu.Lock()
	if len(s.pending) < maxPending {
		s.pending = append(s.pending, c)
	}
	if s.dirty == nil {
		s.dirty, s.dirtySlices = map[ServiceKey]bool{}, map[string]bool{}
	}
	switch o := e.Object.(type) {
	case *corev1.Service:
		s.dirty[ServiceKey{o.Namespace, o.Name}] = true
	case *discoveryv1.EndpointSlice:
		s.dirty[ServiceKey{o.Namespace, o.Labels[discoveryv1.LabelServiceName]}] = true
		// The Service it fed before is looked up in the zone the update
		// starts from, which may be newer than the zone now.
		s.dirtySlices[o.Namespace+"/"+o.Name] = true
	}
	s.pendingMu.Unlock()
}

// serviceKind is CoreDNS's label: cluster_ip, headless_with_selector or
// headless_without_selector for the Service an event concerns; "other" for
// namespaces and pods.
func (s *Server) serviceKind(e source.Event) string {
	var svc *corev1.Service
	switch o := e.Object.(type) {
	case *corev1.Service:
		svc = o
	case *discoveryv1.EndpointSlice:
		if got, ok := s.src.Get(source.Service, o.Namespace, o.Labels[discoveryv1.LabelServiceName]); ok {
			svc, _ = got.(*corev1.Service)
		}
	}
	switch {
	case svc == nil:
		return "other"
	case svc.Spec.ClusterIP != corev1.ClusterIPNone:
		return "cluster_ip"
	case len(svc.Spec.Selector) > 0:
		return "headless_with_selector"
	}
	return "headless_without_selector"
}

// state is what one query is answered from.
type state struct {
	zone *Zone // nil until the source has synced
	plan *plan
}

// plan is a ServerConfig made ready to answer with.
type plan struct {
	cfg      ServerConfig
	fwd      *forwarder
	hosts    *hostsTable
	rewrites []Rewrite
	cache    *cache
	stubs    []*stub
	lb       atomic.Uint32 // loadbalance rotation
}

func newPlan(cfg ServerConfig) (*plan, error) {
	switch cfg.Pods {
	case PodsDisabled, PodsInsecure, PodsVerified:
	default:
		return nil, fmt.Errorf("dns: pods mode %q: must be disabled, insecure or verified", cfg.Pods)
	}
	p := &plan{cfg: cfg}
	if len(cfg.Upstreams) > 0 {
		var err error
		if p.fwd, err = newForwarder(cfg.Upstreams, cfg.ForwardTimeout, cfg.ForceTCP); err != nil {
			return nil, err
		}
	}
	if cfg.Hosts != nil {
		p.hosts = newHostsTable(*cfg.Hosts)
	}
	for _, r := range cfg.Rewrites {
		c, err := r.compile()
		if err != nil {
			return nil, fmt.Errorf("dns: %w", err)
		}
		p.rewrites = append(p.rewrites, c)
	}
	if cfg.Cache != nil {
		p.cache = newCache(*cfg.Cache)
	}
	p.cfg.Except = canonicalAll(cfg.Except)
	for _, st := range cfg.Stubs {
		f, err := newForwarder(st.Upstreams, cfg.ForwardTimeout, st.ForceTCP)
		if err != nil {
			return nil, err
		}
		if len(f.upstreams) == 0 {
			return nil, fmt.Errorf("dns: stub domain %q has no upstream", st.Zone)
		}
		p.stubs = append(p.stubs, &stub{zone: canonical(st.Zone), fwd: f})
	}
	return p, nil
}

// NewServer returns a Server reading src. Metrics register on reg; when reg
// is nil a private registry is used. Handler serves /metrics only if reg is
// also a prometheus.Gatherer (a *prometheus.Registry is).
func NewServer(src source.Source, cfg ServerConfig, reg prometheus.Registerer) (*Server, error) {
	if src == nil {
		return nil, errors.New("dns: nil source")
	}
	cfg = cfg.withDefaults()
	p, err := newPlan(cfg)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("dns: registering metrics: %w", err)
	}
	s := &Server{src: src, clock: cfg.Clock, metrics: m, kick: make(chan struct{}, 1)}
	s.gather, _ = reg.(prometheus.Gatherer)
	s.state.Store(&state{plan: p})
	name := cfg.Name
	s.name.Store(&name)
	return s, nil
}

// Zone returns the zone being served; nil until the source has synced and a
// first zone is built.
func (s *Server) Zone() *Zone { return s.state.Load().zone }

// Apply switches the server to cfg without dropping a query: the new
// configuration is checked whole, its zone compiled, and both swapped in at
// once. On error nothing changes. Listening addresses are not part of it.
func (s *Server) Apply(cfg ServerConfig) error {
	cfg.Clock = s.clock
	cfg = cfg.withDefaults()
	p, err := newPlan(cfg)
	if err != nil {
		return err
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	next := &state{plan: p}
	if s.state.Load().zone != nil {
		next.zone = s.compile(p.cfg.Config, nil, nil)
	}
	s.state.Store(next)
	return nil
}

// ListenAndServe serves on addr ("host:port") over UDP and TCP until ctx is
// done.
func ListenAndServe(ctx context.Context, src source.Source, cfg ServerConfig, reg prometheus.Registerer, addr string) error {
	s, err := NewServer(src, cfg, reg)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	udp, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return fmt.Errorf("dns: listen udp %q: %w", addr, err)
	}
	tcp, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		udp.Close()
		return fmt.Errorf("dns: listen tcp %q: %w", addr, err)
	}
	return s.Serve(ctx, udp, tcp)
}

// relevant reports whether a change of kind k can change the zone.
func (s *Server) relevant(k source.Kind) bool {
	switch k {
	case source.Service, source.EndpointSlice, source.Namespace:
		return true
	case source.Pod:
		return s.state.Load().plan.cfg.Pods == PodsVerified
	}
	return false
}

// watch keeps the zone current until ctx is done: it waits for the source
// to sync, builds a first zone, then rebuilds after each burst of changes.
// Changes are coalesced: one rebuild follows however many events arrive
// within Debounce, and an event during a rebuild causes one more.
func (s *Server) watch(ctx context.Context) {
	kick := s.kick
	cancel := s.src.Subscribe(func(e source.Event) {
		if s.relevant(e.Kind) {
			s.noteChange(e)
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	clk := s.clock
	for !s.src.HasSynced() {
		select {
		case <-ctx.Done():
			return
		case <-clk.After(50 * time.Millisecond):
		}
	}
	s.rebuild()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		select {
		case <-ctx.Done():
			return
		case <-clk.After(s.state.Load().plan.cfg.Debounce):
		}
		select {
		case <-kick: // folded into this rebuild, which lists after it
		default:
		}
		s.rebuild()
	}
}

// rebuild lists the source, compiles a zone for the current plan and swaps
// it in.
func (s *Server) rebuild() {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.pendingMu.Lock()
	done, dirty, dirtySlices := s.pending, s.dirty, s.dirtySlices
	s.pending, s.dirty, s.dirtySlices = nil, nil, nil
	s.pendingMu.Unlock()
	cur := s.state.Load()
	var changed []ServiceKey
	if cur.zone != nil {
		for k := range dirty {
			changed = append(changed, k)
		}
		for key := range dirtySlices {
			ns, name, _ := strings.Cut(key, "/")
			if owner, ok := cur.zone.OwnerOf(ns, name); ok {
				changed = append(changed, owner)
			}
		}
	}
	s.state.Store(&state{zone: s.compile(cur.plan.cfg.Config, cur.zone, changed), plan: cur.plan})
	now := s.clock.Now()
	for _, c := range done {
		s.metrics.programming.WithLabelValues(c.kind).Observe(now.Sub(c.at).Seconds())
	}
}

// compile lists the source and compiles a zone for cfg: from scratch, or
// from old recompiling only the changed Services.
func (s *Server) compile(cfg Config, old *Zone, changed []ServiceKey) *Zone {
	start := s.clock.Now()
	in := Inputs{Config: cfg, Serial: s.serial(start)}
	for _, o := range s.src.List(source.Service) {
		if v, ok := o.(*corev1.Service); ok {
			in.Services = append(in.Services, v)
		}
	}
	for _, o := range s.src.List(source.EndpointSlice) {
		if v, ok := o.(*discoveryv1.EndpointSlice); ok {
			in.EndpointSlices = append(in.EndpointSlices, v)
		}
	}
	for _, o := range s.src.List(source.Namespace) {
		if v, ok := o.(*corev1.Namespace); ok {
			in.Namespaces = append(in.Namespaces, v)
		}
	}
	if cfg.Pods == PodsVerified {
		for _, o := range s.src.List(source.Pod) {
			if v, ok := o.(*corev1.Pod); ok {
				in.Pods = append(in.Pods, v)
			}
		}
	}
	z := Update(old, in, changed)
	s.metrics.zoneBuilds.Inc()
	s.metrics.zoneBuildDur.Observe(s.clock.Since(start).Seconds())
	return z
}

// serial is the Unix time of the rebuild, kept increasing even if two
// rebuilds fall in one second or the clock steps back, so secondaries and
// caches comparing serials never see it go down.
func (s *Server) serial(now time.Time) uint32 {
	serial := uint32(now.Unix())
	if old := s.state.Load().zone; old != nil && serial <= old.serial {
		serial = old.serial + 1
	}
	return serial
}
