// Package healthcheck serves kube-proxy's per-Service health checks: for a
// LoadBalancer Service with externalTrafficPolicy Local, the node answers on
// spec.healthCheckNodePort whether it holds a ready endpoint, so a load
// balancer sends traffic only to nodes that can serve it without a hop.
package healthcheck

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/podnet/podnet/pkg/source"
)

// retryEvery is how soon a port that could not be opened is tried again.
const retryEvery = 5 * time.Second

// Server answers health checks for one node.
type Server struct {
	src  source.Source
	node string
	// listen opens a TCP listener (in the node's network namespace).
	listen func(addr string) (net.Listener, error)
	// healthy says whether the node's service proxy is programmed; a node
	// whose proxy is not is reported unhealthy whatever its endpoints.
	healthy func() bool
	log     *slog.Logger

	kick chan struct{}

	mu      sync.Mutex
	ports   map[int32]*port // by healthCheckNodePort
	targets map[int32]target
}

// target is what one health check port reports.
type target struct {
	namespace, name string
	local           int // ready endpoints on this node
}

// port is one open health check port; closing its server closes the
// listener it serves.
type port struct {
	srv *http.Server
}

// New returns a Server for node; listen opens the sockets.
func New(src source.Source, node string, listen func(addr string) (net.Listener, error), healthy func() bool, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{src: src, node: node, listen: listen, healthy: healthy, log: log,
		kick: make(chan struct{}, 1), ports: map[int32]*port{}, targets: map[int32]target{}}
}

// Run keeps the listeners in line with the Services until ctx ends, then
// closes them all.
func (s *Server) Run(ctx context.Context) {
	cancel := s.src.Subscribe(func(e source.Event) {
		if e.Kind == source.Service || e.Kind == source.EndpointSlice {
			s.poke()
		}
	})
	defer cancel()
	defer s.closeAll()
	s.poke()
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-retry:
		}
		retry = nil
		if !s.sync() {
			retry = time.After(retryEvery)
		}
	}
}

func (s *Server) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// targetsOf computes what each health check port reports, from the source.
func targetsOf(src source.Source, node string) map[int32]target {
	want := map[int32]target{}
	byService := map[string]int32{}
	for _, o := range src.List(source.Service) {
		svc := o.(*corev1.Service)
		hc := svc.Spec.HealthCheckNodePort
		if hc == 0 || svc.Spec.Type != corev1.ServiceTypeLoadBalancer ||
			svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
			continue
		}
		want[hc] = target{namespace: svc.Namespace, name: svc.Name}
		byService[source.Key(svc)] = hc
	}
	// Local endpoints are counted by address: a pod serving several ports
	// is one endpoint, as a load balancer sees the node.
	local := map[int32]map[string]bool{}
	for _, o := range src.List(source.EndpointSlice) {
		sl := o.(*discoveryv1.EndpointSlice)
		hc, ok := byService[sl.Namespace+"/"+sl.Labels[discoveryv1.LabelServiceName]]
		if !ok {
			continue
		}
		for _, ep := range sl.Endpoints {
			if ep.NodeName == nil || *ep.NodeName != node || len(ep.Addresses) == 0 {
				continue
			}
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue // terminating endpoints do not count, as kube-proxy's
			}
			if local[hc] == nil {
				local[hc] = map[string]bool{}
			}
			local[hc][ep.Addresses[0]] = true
		}
	}
	for hc, t := range want {
		t.local = len(local[hc])
		want[hc] = t
	}
	return want
}

// sync opens and closes listeners; false if some port could not be opened.
func (s *Server) sync() bool {
	want := targetsOf(s.src, s.node)
	s.mu.Lock()
	s.targets = want
	var stale []*port
	for hc, p := range s.ports {
		if _, ok := want[hc]; !ok {
			stale = append(stale, p)
			delete(s.ports, hc)
		}
	}
	var missing []int32
	for hc := range want {
		if s.ports[hc] == nil {
			missing = append(missing, hc)
		}
	}
	s.mu.Unlock()
	for _, p := range stale {
		p.srv.Close()
	}
	ok := true
	for _, hc := range missing {
		ln, err := s.listen(net.JoinHostPort("", strconv.Itoa(int(hc))))
		if err != nil {
			s.log.Warn("service health check port", "port", hc, "err", err)
			ok = false
			continue
		}
		p := &port{srv: &http.Server{Handler: s.handler(hc), ReadHeaderTimeout: 5 * time.Second}}
		s.mu.Lock()
		s.ports[hc] = p
		s.mu.Unlock()
		go p.srv.Serve(ln)
	}
	return ok
}

func (s *Server) closeAll() {
	s.mu.Lock()
	ports := s.ports
	s.ports = map[int32]*port{}
	s.mu.Unlock()
	for _, p := range ports {
		p.srv.Close()
	}
}

// report is kube-proxy's health check body.
type report struct {
	Service struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"service"`
	LocalEndpoints      int  `json:"localEndpoints"`
	ServiceProxyHealthy bool `json:"serviceProxyHealthy"`
}

// handler answers every path, as kube-proxy's does: 200 when the node has a
// ready local endpoint and a programmed proxy, 503 otherwise.
func (s *Server) handler(hc int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		t := s.targets[hc]
		s.mu.Unlock()
		var r report
		r.Service.Namespace, r.Service.Name = t.namespace, t.name
		r.LocalEndpoints = t.local
		r.ServiceProxyHealthy = s.healthy()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.LocalEndpoints == 0 || !r.ServiceProxyHealthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		body, _ := json.MarshalIndent(r, "", "  ")
		w.Write(append(body, '\n'))
	})
}
