// Package events records core/v1 Events about objects, as client-go's
// event recorder does for kubelet, the scheduler and controllers: what
// `kubectl describe` lists under Events and `kubectl get events` shows.
// Repeats of one event within its lifetime raise its count instead of
// adding objects, and events older than the TTL are removed, as the API
// server's --event-ttl (1 hour by default) does.
package events

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/podnet/podnet/pkg/source"
)

// TTL is how long an event is kept after it was last seen.
const TTL = time.Hour

// MaxEvents bounds the events kept at once; the oldest go first.
const MaxEvents = 5000

// Recorder writes events from one component (kubelet, default-scheduler,
// replicaset-controller, ...) on one host.
type Recorder struct {
	src       source.Source
	w         source.Writer
	component string
	host      string
	clock     clock.PassiveClock

	mu     sync.Mutex
	seen   map[string]seenEvent // aggregation key → the event it counts into
	pruned time.Time
}

type seenEvent struct {
	name string
	last time.Time
}

// New returns a recorder; host may be empty (controllers have none).
func New(src source.Source, w source.Writer, component, host string, clk clock.PassiveClock) *Recorder {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Recorder{src: src, w: w, component: component, host: host, clock: clk, seen: map[string]seenEvent{}}
}

// Eventf records an event about obj. fieldPath names a part of it (for a
// container, "spec.containers{name}"), or is empty.
func (r *Recorder) Eventf(obj source.Object, fieldPath, eventType, reason, format string, args ...any) {
	if r == nil {
		return
	}
	kind, err := source.KindOf(obj)
	if err != nil {
		return
	}
	gvk := source.GroupVersionKind(kind)
	ref := corev1.ObjectReference{Kind: gvk.Kind, APIVersion: gvk.GroupVersion().String(), Namespace: obj.GetNamespace(),
		Name: obj.GetName(), UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion(), FieldPath: fieldPath}
	message := fmt.Sprintf(format, args...)
	ns := obj.GetNamespace()
	if ns == "" {
		ns = metav1.NamespaceDefault // events about cluster-scoped objects live in default
	}
	key := fmt.Sprintf("%s/%s/%s/%s/%s/%s/%s", ref.Kind, ns, ref.Name, ref.UID, fieldPath, reason, message)
	now := metav1.NewTime(r.clock.Now())

	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune(now.Time)
	if s, ok := r.seen[key]; ok {
		if o, found := r.src.Get(source.EventKind, ns, s.name); found {
			ev := o.(*corev1.Event).DeepCopy()
			ev.Count++
			ev.LastTimestamp = now
			if _, err := r.w.Update(ev); err == nil {
				r.seen[key] = seenEvent{s.name, now.Time}
				return
			}
		}
		delete(r.seen, key)
	}
	ev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", ref.Name, now.UnixNano()), Namespace: ns},
		InvolvedObject:      ref,
		Reason:              reason,
		Message:             message,
		Type:                eventType,
		Source:              corev1.EventSource{Component: r.component, Host: r.host},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		ReportingController: r.component,
		ReportingInstance:   r.host,
	}
	// Two events about one object in the same nanosecond (or a coarse
	// clock) would share a name: the next nanosecond is tried.
	for attempt := range 4 {
		ev.Name = fmt.Sprintf("%s.%x", ref.Name, now.UnixNano()+int64(attempt))
		_, err := r.w.Create(ev)
		if err == nil {
			r.seen[key] = seenEvent{ev.Name, now.Time}
			return
		}
		if !apierrors.IsAlreadyExists(err) {
			return
		}
	}
}

// prune forgets aggregation keys not seen for TTL (their events are gone
// too), at most once a minute, so the map does not grow with churn.
func (r *Recorder) prune(now time.Time) {
	if now.Sub(r.pruned) < time.Minute {
		return
	}
	r.pruned = now
	for k, s := range r.seen {
		if now.Sub(s.last) > TTL {
			delete(r.seen, k)
		}
	}
}

// For lists the events about an object, oldest first, as describe shows
// them.
func For(src source.Source, obj source.Object) []corev1.Event {
	kind, err := source.KindOf(obj)
	if err != nil {
		return nil
	}
	ns := obj.GetNamespace()
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	var out []corev1.Event
	for _, o := range src.List(source.EventKind) {
		ev := o.(*corev1.Event)
		if ev.Namespace == ns && ev.InvolvedObject.Kind == string(kind) && ev.InvolvedObject.Name == obj.GetName() &&
			(ev.InvolvedObject.UID == "" || ev.InvolvedObject.UID == obj.GetUID()) {
			out = append(out, *ev)
		}
	}
	return out
}

// Collect removes events last seen more than TTL ago, and the oldest ones
// beyond MaxEvents, every interval until ctx ends.
func Collect(ctx context.Context, src source.Source, w source.Writer, clk clock.Clock, interval time.Duration) {
	for {
		expire(src, w, clk.Now())
		select {
		case <-ctx.Done():
			return
		case <-clk.After(interval):
		}
	}
}

func expire(src source.Source, w source.Writer, now time.Time) {
	var evs []*corev1.Event
	for _, o := range src.List(source.EventKind) {
		evs = append(evs, o.(*corev1.Event))
	}
	sort.Slice(evs, func(i, j int) bool { return lastSeen(evs[i]).Before(lastSeen(evs[j])) })
	for i, ev := range evs {
		if now.Sub(lastSeen(ev)) > TTL || len(evs)-i > MaxEvents {
			w.Delete(source.EventKind, ev.Namespace, ev.Name)
		}
	}
}

func lastSeen(ev *corev1.Event) time.Time {
	if !ev.LastTimestamp.IsZero() {
		return ev.LastTimestamp.Time
	}
	if !ev.EventTime.IsZero() {
		return ev.EventTime.Time
	}
	return ev.CreationTimestamp.Time
}
