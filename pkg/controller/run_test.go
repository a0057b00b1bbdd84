package controller

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/clock"

	"github.com/podnet/podnet/pkg/source"
	"github.com/podnet/podnet/pkg/store"
)

// waitFor re-checks cond on every store event until it holds or the
// deadline passes. The deadline is a safety net, not a measurement.
func waitFor(t *testing.T, st *store.Store, what string, cond func() bool) {
	t.Helper()
	changed := make(chan struct{}, 1)
	cancel := st.Subscribe(func(source.Event) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer cancel()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestRunConverges runs the manager's event loop against a store while a
// fake kubelet marks scheduled pods running, and waits for the Service's
// slice to list three ready pods of the Deployment.
func TestRunConverges(t *testing.T) {
	st, err := store.New("", clock.RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, st, Config{Clock: clock.RealClock{}, Rand: rand.New(rand.NewPCG(3, 4))})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); m.Run(ctx) }()
	go func() { defer wg.Done(); fakeKubelet(ctx, st) }()
	defer func() { cancel(); wg.Wait() }()

	mustCreate := func(o source.Object) {
		if _, err := st.Create(o); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	mustCreate(node("node-1", nil))
	mustCreate(deployment("backend", 3))
	mustCreate(service("backend", map[string]string{"app": "backend"}, svcPort("http", 80, intstr.FromInt32(8080))))

	readyEndpoints := func() int {
		n := 0
		for _, o := range st.List(source.EndpointSlice) {
			es := o.(*discoveryv1.EndpointSlice)
			if es.Labels[discoveryv1.LabelServiceName] != "backend" {
				continue
			}
			for _, ep := range es.Endpoints {
				if deref(ep.Conditions.Ready) {
					n++
				}
			}
		}
		return n
	}
	waitFor(t, st, "3 ready endpoints", func() bool { return readyEndpoints() == 3 })

	// Scale through the store, retrying when a controller wrote the
	// Deployment (its status) between the read and the write, as any
	// client of an optimistic-concurrency API must.
	for attempt := 0; ; attempt++ {
		o, _ := st.Get(source.Deployment, "default", "backend")
		d := o.(*appsv1.Deployment).DeepCopy()
		*d.Spec.Replicas = 1
		_, err := st.Update(d)
		if err == nil {
			break
		}
		if !apierrors.IsConflict(err) || attempt == 10 {
			t.Fatal(err)
		}
	}
	waitFor(t, st, "1 ready endpoint and 1 pod", func() bool {
		return readyEndpoints() == 1 && len(st.List(source.Pod)) == 1
	})

	if err := st.Delete(source.Service, "default", "backend"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, st, "the service's slices to go", func() bool { return len(st.List(source.EndpointSlice)) == 0 })
}

// fakeKubelet marks every scheduled pod Running and Ready with an IP, as
// the node agent would, until ctx ends.
func fakeKubelet(ctx context.Context, st *store.Store) {
	events := make(chan struct{}, 1)
	cancel := st.Subscribe(func(source.Event) {
		select {
		case events <- struct{}{}:
		default:
		}
	})
	defer cancel()
	next := 1
	for {
		for _, o := range st.List(source.Pod) {
			pod := o.(*corev1.Pod)
			if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodRunning {
				continue
			}
			upd := pod.DeepCopy()
			next++
			ip := "10.244.0." + strconv.Itoa(next)
			upd.Status.Phase, upd.Status.PodIP, upd.Status.PodIPs = corev1.PodRunning, ip, []corev1.PodIP{{IP: ip}}
			upd.Status.Conditions = append(upd.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
			st.Update(upd) // a conflict is retried on the next event
		}
		select {
		case <-ctx.Done():
			return
		case <-events:
		}
	}
}
