package events

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/podnet/podnet/pkg/source"
	"github.com/podnet/podnet/pkg/store"
)

func newStore(t *testing.T, clk *clocktesting.FakeClock) *store.Store {
	t.Helper()
	st, err := store.New(t.TempDir(), clk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRecorderAggregatesAndExpires(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	st := newStore(t, clk)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "u2"}}
	r := New(st, st, "kubelet", "n1", clk)

	r.Eventf(pod, "spec.containers{web}", corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s", "web")
	clk.Step(10 * time.Second)
	r.Eventf(pod, "spec.containers{web}", corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s", "web")
	r.Eventf(pod, "", corev1.EventTypeNormal, "Scheduled", "Successfully assigned default/web to n1")
	r.Eventf(node, "", corev1.EventTypeNormal, "NodeReady", "Node n1 status is now: NodeReady")

	evs := For(st, pod)
	if len(evs) != 2 {
		t.Fatalf("events for the pod: %d, want 2 (a repeat counts, it does not add): %+v", len(evs), evs)
	}
	var backoff *corev1.Event
	for i := range evs {
		if evs[i].Reason == "BackOff" {
			backoff = &evs[i]
		}
	}
	if backoff == nil || backoff.Count != 2 || backoff.LastTimestamp.Sub(backoff.FirstTimestamp.Time) != 10*time.Second {
		t.Errorf("the repeated event should have count 2 spanning 10s: %+v", backoff)
	}
	if backoff.InvolvedObject.Kind != "Pod" || backoff.InvolvedObject.FieldPath != "spec.containers{web}" || backoff.Source.Component != "kubelet" {
		t.Errorf("reference or source wrong: %+v %+v", backoff.InvolvedObject, backoff.Source)
	}
	if evs := For(st, node); len(evs) != 1 || evs[0].Namespace != "default" {
		t.Errorf("a cluster-scoped object's events live in default: %+v", evs)
	}
	// A Service of the same name has none of the pod's events.
	if evs := For(st, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"}}); len(evs) != 0 {
		t.Errorf("a Service named like the pod sees its events: %+v", evs)
	}
	// Another pod with the same name but another UID does not see them.
	if evs := For(st, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u9"}}); len(evs) != 0 {
		t.Errorf("a new pod of the same name sees the old one's events: %+v", evs)
	}

	// An event lives for the TTL after it was last seen: the back-off seen
	// again half-way stays, the others go.
	clk.Step(TTL / 2)
	r.Eventf(pod, "spec.containers{web}", corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s", "web")
	clk.Step(TTL/2 + time.Minute)
	r.Eventf(pod, "", corev1.EventTypeNormal, "Killing", "Stopping container web")
	expire(st, st, clk.Now())
	var left []string
	for _, o := range st.List(source.EventKind) {
		left = append(left, o.(*corev1.Event).Reason)
	}
	slices.Sort(left)
	if !slices.Equal(left, []string{"BackOff", "Killing"}) {
		t.Errorf("after the TTL these are left: %v, want BackOff (seen again) and Killing", left)
	}
}

func TestExpireKeepsAtMostMaxEvents(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	st := newStore(t, clk)
	r := New(st, st, "test", "", clk)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u"}}
	for i := range MaxEvents + 10 {
		clk.Step(time.Millisecond)
		r.Eventf(pod, "", corev1.EventTypeNormal, "Test", "event %d", i)
	}
	expire(st, st, clk.Now())
	evs := st.List(source.EventKind)
	if len(evs) != MaxEvents {
		t.Fatalf("%d events kept, want %d", len(evs), MaxEvents)
	}
	for _, o := range evs {
		if o.(*corev1.Event).Message == "event 0" {
			t.Errorf("the oldest event should have gone first")
		}
	}
}

func TestEventsInOneInstantAreAllKept(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	st := newStore(t, clk)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"}}
	kubelet := New(st, st, "kubelet", "n1", clk)
	scheduler := New(st, st, "default-scheduler", "", clk)
	scheduler.Eventf(pod, "", corev1.EventTypeNormal, "Scheduled", "Successfully assigned default/web to n1")
	kubelet.Eventf(pod, "spec.containers{web}", corev1.EventTypeNormal, "Pulled", "Container image \"nginx\" already present on machine")
	kubelet.Eventf(pod, "spec.containers{web}", corev1.EventTypeNormal, "Started", "Started container web")
	if evs := For(st, pod); len(evs) != 3 {
		t.Errorf("three events recorded at the same instant, %d kept: %+v", len(evs), evs)
	}
}
