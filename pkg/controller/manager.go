// Package controller holds podnet's controllers, the lab's
// kube-controller-manager and kube-scheduler: Deployments and ReplicaSets,
// StatefulSets, pod scheduling, EndpointSlices, garbage collection of owned
// objects and namespace cleanup. Each is level-triggered: an event only names
// an object whose state must be re-read from the Source and converged, writing
// through the Writer.
package controller

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"

	"github.com/podnet/podnet/pkg/events"
	"github.com/podnet/podnet/pkg/source"
)

// Config holds what the controllers must not reach for themselves.
type Config struct {
	Clock clock.Clock
	// Rand draws the random suffixes of generated names (pods, slices).
	Rand *rand.Rand
}

// Controller names; each is also the first part of the keys it reconciles.
const (
	ctrlDeployment    = "deployment"
	ctrlReplicaSet    = "replicaset"
	ctrlStatefulSet   = "statefulset"
	ctrlScheduler     = "scheduler"
	ctrlEndpointSlice = "endpointslice"
	ctrlGC            = "garbagecollector"
	ctrlNamespace     = "namespace"
)

// Manager runs every controller over one source.
type Manager struct {
	src   source.Source
	w     source.Writer
	clock clock.Clock
	names *nameGenerator
	queue *queue

	// passMu keeps SyncAll and Run's passes from interleaving: controllers
	// read, decide and write, which only works one pass at a time.
	passMu sync.Mutex
	writes atomic.Int64

	// events holds one recorder per controller, named as upstream's
	// components report themselves (describe's "From" column).
	events map[string]*events.Recorder
}

// Components, as the Events they record name them.
const (
	fromReplicaSet  = "replicaset-controller"
	fromDeployment  = "deployment-controller"
	fromStatefulSet = "statefulset-controller"
	fromScheduler   = "default-scheduler"
)

// event records an Event about obj from one controller.
func (m *Manager) event(from string, obj source.Object, eventType, reason, format string, args ...any) {
	m.events[from].Eventf(obj, "", eventType, reason, format, args...)
}

// NewManager returns a manager reading src and writing through w.
func NewManager(src source.Source, w source.Writer, cfg Config) *Manager {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	m := &Manager{src: src, w: w, clock: cfg.Clock, names: &nameGenerator{r: cfg.Rand}, queue: newQueue(), events: map[string]*events.Recorder{}}
	for _, from := range []string{fromReplicaSet, fromDeployment, fromStatefulSet, fromScheduler} {
		m.events[from] = events.New(src, w, from, "", cfg.Clock)
	}
	return m
}

// Retry delays for keys whose reconcile failed (conflicts, races with other
// writers): short first, so a stale read is fixed at once, capped so that a
// persistent failure does not spin.
const (
	retryFirst = 10 * time.Millisecond
	retryMax   = 5 * time.Second
)

// Run subscribes to the source, reconciles everything once, then reconciles
// each key its events name until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	cancel := m.src.Subscribe(func(ev source.Event) {
		for _, k := range m.keysFor(ev) {
			m.queue.add(k)
		}
	})
	defer cancel()
	for !m.src.HasSynced() {
		select {
		case <-ctx.Done():
			return
		case <-m.clock.After(10 * time.Millisecond):
		}
	}
	for _, k := range m.allKeys() {
		m.queue.add(k)
	}
	failed := map[key]int{}
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.queue.wake:
		case <-retry:
			retry = nil
			for k := range failed {
				m.queue.add(k)
			}
			continue
		}
		keys := m.queue.drain()
		m.passMu.Lock()
		for _, k := range keys {
			if err := m.reconcile(k); err != nil {
				failed[k]++
			} else {
				delete(failed, k)
			}
		}
		m.passMu.Unlock()
		if len(failed) > 0 && retry == nil {
			retry = m.clock.After(backoff(failed))
		}
	}
}

// backoff doubles with the worst key's failure count.
func backoff(failed map[key]int) time.Duration {
	n := 0
	for _, c := range failed {
		n = max(n, c)
	}
	d := retryFirst
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// maxSyncPasses bounds SyncAll: every pass moves each object at least one
// step (RS created, then pods, then status), so a handful suffice.
const maxSyncPasses = 20

// SyncAll reconciles every object, pass after pass, until a pass writes
// nothing. It is for start-up and tests, which want the converged state
// without running the event loop.
func (m *Manager) SyncAll() error {
	m.passMu.Lock()
	defer m.passMu.Unlock()
	var errs []error
	for range maxSyncPasses {
		before := m.writes.Load()
		errs = errs[:0]
		for _, k := range m.allKeys() {
			if err := m.reconcile(k); err != nil {
				errs = append(errs, err)
			}
		}
		if m.writes.Load() == before && len(errs) == 0 {
			return nil
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return fmt.Errorf("controllers did not converge in %d passes", maxSyncPasses)
}

// reconcile runs the controller a key names.
func (m *Manager) reconcile(k key) error {
	var err error
	switch k.ctrl {
	case ctrlDeployment:
		err = m.syncDeployment(k.namespace, k.name)
	case ctrlReplicaSet:
		err = m.syncReplicaSet(k.namespace, k.name)
	case ctrlStatefulSet:
		err = m.syncStatefulSet(k.namespace, k.name)
	case ctrlScheduler:
		err = m.schedulePod(k.namespace, k.name)
	case ctrlEndpointSlice:
		err = m.syncService(k.namespace, k.name)
	case ctrlGC:
		err = m.collectGarbage(k.namespace)
	case ctrlNamespace:
		err = m.syncNamespace(k.name)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", k.ctrl, nsName(k.namespace, k.name), err)
	}
	return nil
}

func nsName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// Writes go through these, so SyncAll can tell when a pass changed nothing.
func (m *Manager) create(o source.Object) (source.Object, error) {
	m.writes.Add(1)
	return m.w.Create(o)
}

func (m *Manager) update(o source.Object) (source.Object, error) {
	m.writes.Add(1)
	return m.w.Update(o)
}

func (m *Manager) delete(k source.Kind, namespace, name string) error {
	m.writes.Add(1)
	return m.w.Delete(k, namespace, name)
}
