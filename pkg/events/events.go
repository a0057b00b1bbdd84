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

	mu   sync.Mutex
	seen map[string]string // aggregation key → event name
}

// New returns a recorder; host may be empty (controllers have none).
func New(src source.Source, w source.Writer, component, host string, clk clock.PassiveClock) *Recorder {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Recorder{src: src, w: w, component: component, host: host, clock: clk, seen: map[string]string{}}
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
	if name, ok := r.seen[key]; ok {
		if o, found := r.src.Get(source.EventKind, ns, name); found {
			ev := o.(*corev1.Event).DeepCopy()
			ev.Count++
			ev.LastTimestamp = now
			if _, err := r.w.Update(ev); err == nil {
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
	if _, err := r.w.Create(ev); err == nil {
		r.seen[key] = ev.Name
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
