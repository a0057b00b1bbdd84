package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	cfg     ServerConfig
	metrics *metrics
	gather  prometheus.Gatherer
	fwd     *forwarder

	zone    atomic.Pointer[Zone]
	watched sync.Once
	name    atomic.Pointer[string]
}

// NewServer returns a Server reading src. Metrics register on reg; when reg
// is nil a private registry is used. Handler serves /metrics only if reg is
// also a prometheus.Gatherer (a *prometheus.Registry is).
func NewServer(src source.Source, cfg ServerConfig, reg prometheus.Registerer) (*Server, error) {
	if src == nil {
		return nil, errors.New("dns: nil source")
	}
	cfg = cfg.withDefaults()
	switch cfg.Pods {
	case PodsDisabled, PodsInsecure, PodsVerified:
	default:
		return nil, fmt.Errorf("dns: pods mode %q: must be disabled, insecure or verified", cfg.Pods)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("dns: registering metrics: %w", err)
	}
	s := &Server{src: src, cfg: cfg, metrics: m}
	s.gather, _ = reg.(prometheus.Gatherer)
	if len(cfg.Upstreams) > 0 {
		if s.fwd, err = newForwarder(cfg.Upstreams, cfg.ForwardTimeout); err != nil {
			return nil, err
		}
	}
	name := cfg.Name
	s.name.Store(&name)
	return s, nil
}

// Zone returns the zone being served; nil until the source has synced and a
// first zone is built.
func (s *Server) Zone() *Zone { return s.zone.Load() }

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
		return s.cfg.Pods == PodsVerified
	}
	return false
}

// watch keeps the zone current until ctx is done: it waits for the source
// to sync, builds a first zone, then rebuilds after each burst of changes.
// Changes are coalesced: one rebuild follows however many events arrive
// within Debounce, and an event during a rebuild causes one more.
func (s *Server) watch(ctx context.Context) {
	kick := make(chan struct{}, 1)
	cancel := s.src.Subscribe(func(e source.Event) {
		if s.relevant(e.Kind) {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	clk := s.cfg.Clock
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
		case <-clk.After(s.cfg.Debounce):
		}
		select {
		case <-kick: // folded into this rebuild, which lists after it
		default:
		}
		s.rebuild()
	}
}

// rebuild lists the source, compiles a zone and swaps it in.
func (s *Server) rebuild() {
	start := s.cfg.Clock.Now()
	in := Inputs{Config: s.cfg.Config, Serial: s.serial(start)}
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
	if s.cfg.Pods == PodsVerified {
		for _, o := range s.src.List(source.Pod) {
			if v, ok := o.(*corev1.Pod); ok {
				in.Pods = append(in.Pods, v)
			}
		}
	}
	s.zone.Store(Compile(in))
	s.metrics.zoneBuilds.Inc()
	s.metrics.zoneBuildDur.Observe(s.cfg.Clock.Since(start).Seconds())
}

// serial is the Unix time of the rebuild, kept increasing even if two
// rebuilds fall in one second or the clock steps back, so secondaries and
// caches comparing serials never see it go down.
func (s *Server) serial(now time.Time) uint32 {
	serial := uint32(now.Unix())
	if old := s.zone.Load(); old != nil && serial <= old.serial {
		serial = old.serial + 1
	}
	return serial
}
