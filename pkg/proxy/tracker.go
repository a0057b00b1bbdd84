package proxy

import (
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/podnet/podnet/pkg/source"
)

// changeTracker remembers which Services (namespace/name) changed since the
// last successful sync, as kube-proxy's change trackers do, so a sync
// recompiles only those. A change that is not about one Service (a Node,
// the first sync, a failed sync) marks everything.
type changeTracker struct {
	mu       sync.Mutex
	all      bool
	services map[string]bool
	// sliceOwner is the Service each EndpointSlice last belonged to: events
	// carry only the new object, and a slice whose service-name label
	// changed (or that was deleted) also changes its old Service.
	sliceOwner map[string]string
}

func newChangeTracker() *changeTracker {
	return &changeTracker{all: true, services: map[string]bool{}, sliceOwner: map[string]string{}}
}

// note records ev; it reports whether the event matters to the proxy.
func (t *changeTracker) note(ev source.Event) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch ev.Kind {
	case source.Service:
		t.services[source.Key(ev.Object)] = true
	case source.EndpointSlice:
		key := source.Key(ev.Object)
		if old, ok := t.sliceOwner[key]; ok {
			t.services[old] = true
		}
		owner := ""
		if s, ok := ev.Object.(*discoveryv1.EndpointSlice); ok {
			if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
				owner = s.Namespace + "/" + name
			}
		}
		if owner == "" || ev.Type == source.Deleted {
			delete(t.sliceOwner, key)
		} else {
			t.sliceOwner[key] = owner
		}
		if owner != "" {
			t.services[owner] = true
		}
	case source.Node:
		t.all = true
	default:
		return false
	}
	return true
}

// markAll makes the next sync recompile everything.
func (t *changeTracker) markAll() {
	t.mu.Lock()
	t.all = true
	t.mu.Unlock()
}

// take returns what changed and starts a new round.
func (t *changeTracker) take() (all bool, services map[string]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	all, services = t.all, t.services
	t.all, t.services = false, map[string]bool{}
	return all, services
}

// learnSlices records every slice's Service after a full sync, which read
// the whole state (slices that existed before the subscription sent no
// event).
func (t *changeTracker) learnSlices(sl []*discoveryv1.EndpointSlice) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range sl {
		key := s.Namespace + "/" + s.Name
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			if _, ok := t.sliceOwner[key]; !ok {
				t.sliceOwner[key] = s.Namespace + "/" + name
			}
		}
	}
}
