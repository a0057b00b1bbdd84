package healthcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/podnet/podnet/pkg/source"
)

func lb(name string, etp corev1.ServiceExternalTrafficPolicy, hc int32) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: etp, HealthCheckNodePort: hc}}
}

type ep struct {
	ip, node string
	ready    bool
}

func slice(svc, name string, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name,
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}}, AddressType: discoveryv1.AddressTypeIPv4}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{e.ip}, NodeName: ptr.To(e.node),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(e.ready)}})
	}
	return s
}

func TestTargets(t *testing.T) {
	cases := []struct {
		name string
		objs []source.Object
		want map[int32]int // port → local endpoints
	}{
		{name: "a Local LoadBalancer with one endpoint here and one elsewhere counts one",
			objs: []source.Object{lb("web", "Local", 31000), slice("web", "web-1", ep{"10.244.0.5", "n0", true}, ep{"10.244.1.5", "n1", true})},
			want: map[int32]int{31000: 1}},
		{name: "endpoints split over two slices count once per address",
			objs: []source.Object{lb("web", "Local", 31000), slice("web", "web-1", ep{"10.244.0.5", "n0", true}),
				slice("web", "web-2", ep{"10.244.0.5", "n0", true}, ep{"10.244.0.6", "n0", true})},
			want: map[int32]int{31000: 2}},
		{name: "a not-ready endpoint here counts nothing",
			objs: []source.Object{lb("web", "Local", 31000), slice("web", "web-1", ep{"10.244.0.5", "n0", false})},
			want: map[int32]int{31000: 0}},
		{name: "a Cluster LoadBalancer has no health check port",
			objs: []source.Object{lb("web", "Cluster", 0), slice("web", "web-1", ep{"10.244.0.5", "n0", true})},
			want: map[int32]int{}},
		{name: "another Service's endpoints do not count",
			objs: []source.Object{lb("web", "Local", 31000), slice("api", "api-1", ep{"10.244.0.5", "n0", true})},
			want: map[int32]int{31000: 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := map[int32]int{}
			for hc, tg := range targetsOf(source.NewStatic(tc.objs...), "n0") {
				got[hc] = tg.local
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// loopback stands in for the node's namespace: each requested port gets a
// loopback listener on a free port, remembered so the test can reach it.
type loopback struct {
	mu    sync.Mutex
	addrs map[string]string
}

func (l *loopback) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		l.mu.Lock()
		l.addrs[addr] = ln.Addr().String()
		l.mu.Unlock()
	}
	return ln, err
}

func (l *loopback) addr(port string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addrs[":"+port]
}

func get(t *testing.T, addr string) (int, report, error) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, report{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r report
	if err := json.Unmarshal(body, &r); err != nil {
		return resp.StatusCode, r, fmt.Errorf("body %q: %v", body, err)
	}
	return resp.StatusCode, r, nil
}

func waitFor(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

func TestServerAnswersAsKubeProxy(t *testing.T) {
	src := source.NewStatic(lb("web", "Local", 31000))
	lo := &loopback{addrs: map[string]string{}}
	healthy := true
	var mu sync.Mutex
	s := New(src, "n0", lo.listen, func() bool { mu.Lock(); defer mu.Unlock(); return healthy }, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	expect := func(what string, code, local int, proxyOK bool) {
		t.Helper()
		waitFor(t, what, func() error {
			addr := lo.addr("31000")
			if addr == "" {
				return fmt.Errorf("port 31000 not opened")
			}
			gotCode, r, err := get(t, addr)
			if err != nil {
				return err
			}
			if gotCode != code || r.LocalEndpoints != local || r.ServiceProxyHealthy != proxyOK ||
				r.Service.Namespace != "default" || r.Service.Name != "web" {
				return fmt.Errorf("got %d %+v", gotCode, r)
			}
			return nil
		})
	}
	expect("no endpoints: 503", http.StatusServiceUnavailable, 0, true)
	src.Set(slice("web", "web-1", ep{"10.244.0.5", "n0", true}))
	expect("a local endpoint: 200", http.StatusOK, 1, true)
	mu.Lock()
	healthy = false
	mu.Unlock()
	expect("proxy not programmed: 503", http.StatusServiceUnavailable, 1, false)

	// The Service stops needing a health check: the port closes.
	addr := lo.addr("31000")
	src.Set(lb("web", "Cluster", 0))
	waitFor(t, "port closed", func() error {
		if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			return fmt.Errorf("%s still accepts", addr)
		} else if !strings.Contains(err.Error(), "refused") {
			return err
		}
		return nil
	})
}
