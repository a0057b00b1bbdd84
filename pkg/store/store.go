// Package store is the lab's embedded object store: typed Kubernetes objects in
// memory, every write persisted to a state directory, every change delivered to
// subscribers in order. It implements source.Source, so controllers and
// consumers read it exactly as they would read informers over an API server.
//
// The store does no defaulting, validation or allocation: that is the API
// layer's job (package apiserver), as in Kubernetes where storage is below
// admission.
package store

import (
	"fmt"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/utils/clock"

	"github.com/podnet/podnet/pkg/source"
)

// Store holds the objects of one lab.
type Store struct {
	mu    sync.RWMutex
	objs  map[source.Kind]map[string]source.Object
	rv    uint64
	disk  *disk // nil: memory only
	clock clock.Clock

	subMu sync.Mutex
	subs  map[int]*subscriber
	next  int
}

var _ source.Source = (*Store)(nil)

// New opens a store persisted under dir ("" keeps it in memory only) and loads
// what a previous run left there.
func New(dir string, clk clock.Clock) (*Store, error) {
	s := &Store{objs: map[source.Kind]map[string]source.Object{}, subs: map[int]*subscriber{}, clock: clk}
	if dir == "" {
		return s, nil
	}
	d, err := openDisk(dir)
	if err != nil {
		return nil, err
	}
	s.disk = d
	loaded, err := d.loadAll()
	if err != nil {
		return nil, err
	}
	s.rv = d.readVersion()
	for _, o := range loaded {
		k, _ := source.KindOf(o)
		s.bucket(k)[source.Key(o)] = o
		if rv, err := strconv.ParseUint(o.GetResourceVersion(), 10, 64); err == nil && rv > s.rv {
			s.rv = rv
		}
	}
	return s, nil
}

func (s *Store) bucket(k source.Kind) map[string]source.Object {
	b := s.objs[k]
	if b == nil {
		b = map[string]source.Object{}
		s.objs[k] = b
	}
	return b
}

func key(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// Create stores a new object. It fills uid, resourceVersion, creationTimestamp
// and generation, and returns the stored copy.
func (s *Store) Create(o source.Object) (source.Object, error) {
	k, err := source.KindOf(o)
	if err != nil {
		return nil, err
	}
	o = o.DeepCopyObject().(source.Object)
	if o.GetName() == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s: metadata.name: Required value", k))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucket(k)
	if _, ok := b[source.Key(o)]; ok {
		return nil, apierrors.NewAlreadyExists(source.Resource(k), o.GetName())
	}
	if source.Namespaced(k) {
		if _, ok := s.objs[source.Namespace][o.GetNamespace()]; !ok {
			return nil, apierrors.NewNotFound(source.Resource(source.Namespace), o.GetNamespace())
		}
	}
	if o.GetUID() == "" {
		o.SetUID(types.UID(uuid.NewUUID()))
	}
	if ts := o.GetCreationTimestamp(); ts.IsZero() {
		o.SetCreationTimestamp(metav1.NewTime(s.clock.Now()))
	}
	o.SetGeneration(1)
	if err := s.commit(k, o); err != nil {
		return nil, err
	}
	b[source.Key(o)] = o
	s.publish(source.Event{Type: source.Added, Kind: k, Object: o})
	return o, nil
}

// Update replaces an existing object. If o carries a resourceVersion it must
// match the stored one (optimistic concurrency, as the API server does).
func (s *Store) Update(o source.Object) (source.Object, error) {
	k, err := source.KindOf(o)
	if err != nil {
		return nil, err
	}
	o = o.DeepCopyObject().(source.Object)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucket(k)
	old, ok := b[source.Key(o)]
	if !ok {
		return nil, apierrors.NewNotFound(source.Resource(k), o.GetName())
	}
	if rv := o.GetResourceVersion(); rv != "" && rv != old.GetResourceVersion() {
		return nil, apierrors.NewConflict(source.Resource(k), o.GetName(),
			fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	o.SetUID(old.GetUID())
	o.SetCreationTimestamp(old.GetCreationTimestamp())
	o.SetGeneration(old.GetGeneration())
	if specChanged(old, o) {
		o.SetGeneration(old.GetGeneration() + 1)
	}
	if err := s.commit(k, o); err != nil {
		return nil, err
	}
	b[source.Key(o)] = o
	s.publish(source.Event{Type: source.Modified, Kind: k, Object: o})
	return o, nil
}

// Delete removes an object.
func (s *Store) Delete(k source.Kind, namespace, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bucket(k)
	old, ok := b[key(namespace, name)]
	if !ok {
		return apierrors.NewNotFound(source.Resource(k), name)
	}
	if s.disk != nil {
		if err := s.disk.remove(k, old); err != nil {
			return err
		}
	}
	delete(b, key(namespace, name))
	// The deletion gets a resourceVersion of its own, so that a watcher can
	// order it against the list it started from.
	s.rv++
	if s.disk != nil {
		// Deletions leave no object behind to carry their version.
		s.disk.writeVersion(s.rv)
	}
	gone := old.DeepCopyObject().(source.Object)
	gone.SetResourceVersion(strconv.FormatUint(s.rv, 10))
	s.publish(source.Event{Type: source.Deleted, Kind: k, Object: gone})
	return nil
}

// commit gives o the next resourceVersion and writes it through to disk.
// Called with s.mu held.
func (s *Store) commit(k source.Kind, o source.Object) error {
	s.rv++
	o.SetResourceVersion(strconv.FormatUint(s.rv, 10))
	if s.disk != nil {
		if err := s.disk.write(k, o); err != nil {
			s.rv--
			return fmt.Errorf("persisting %s %s: %w", k, source.Key(o), err)
		}
	}
	return nil
}

// ResourceVersion is the version of the latest change.
func (s *Store) ResourceVersion() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rv
}

func (s *Store) List(k source.Kind) []source.Object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]source.Object, 0, len(s.objs[k]))
	for _, o := range s.objs[k] {
		out = append(out, o)
	}
	return out
}

func (s *Store) Get(k source.Kind, namespace, name string) (source.Object, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.objs[k][key(namespace, name)]
	return o, ok
}

func (s *Store) HasSynced() bool { return true }

var _ source.Writer = (*Store)(nil)
