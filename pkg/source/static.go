package source

import (
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
)

// KindOf names the kind of a typed object.
func KindOf(o Object) (Kind, error) {
	switch o.(type) {
	case *corev1.Namespace:
		return Namespace, nil
	case *corev1.Node:
		return Node, nil
	case *corev1.Pod:
		return Pod, nil
	case *corev1.Service:
		return Service, nil
	case *corev1.ConfigMap:
		return ConfigMap, nil
	case *corev1.Secret:
		return Secret, nil
	case *corev1.Event:
		return EventKind, nil
	case *discoveryv1.EndpointSlice:
		return EndpointSlice, nil
	case *appsv1.Deployment:
		return Deployment, nil
	case *appsv1.ReplicaSet:
		return ReplicaSet, nil
	case *appsv1.StatefulSet:
		return StatefulSet, nil
	case *networkingv1.NetworkPolicy:
		return NetworkPolicy, nil
	case *networkingv1.Ingress:
		return Ingress, nil
	case *policyv1alpha1.AdminNetworkPolicy:
		return AdminNetworkPolicy, nil
	case *policyv1alpha1.BaselineAdminNetworkPolicy:
		return BaselineAdminNetworkPolicy, nil
	}
	return "", fmt.Errorf("unsupported object type %T", o)
}

// Static is a Source over objects set directly, for tests and for serving a
// fixed snapshot (e.g. manifests given on the command line). Set and Delete
// notify subscribers synchronously.
type Static struct {
	mu   sync.Mutex
	objs map[Kind]map[string]Object
	subs map[int]func(Event)
	next int
}

var _ Source = (*Static)(nil)

// NewStatic returns a Static holding objs.
func NewStatic(objs ...Object) *Static {
	s := &Static{objs: map[Kind]map[string]Object{}, subs: map[int]func(Event){}}
	for _, o := range objs {
		s.Set(o)
	}
	return s
}

// Set adds or replaces o.
func (s *Static) Set(o Object) {
	k, err := KindOf(o)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	if s.objs[k] == nil {
		s.objs[k] = map[string]Object{}
	}
	typ := Added
	if _, ok := s.objs[k][Key(o)]; ok {
		typ = Modified
	}
	s.objs[k][Key(o)] = o
	subs := s.subscribers()
	s.mu.Unlock()
	for _, fn := range subs {
		fn(Event{Type: typ, Kind: k, Object: o})
	}
}

// Delete removes o (matched by kind, namespace and name).
func (s *Static) Delete(o Object) {
	k, err := KindOf(o)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	old, ok := s.objs[k][Key(o)]
	delete(s.objs[k], Key(o))
	subs := s.subscribers()
	s.mu.Unlock()
	if ok {
		for _, fn := range subs {
			fn(Event{Type: Deleted, Kind: k, Object: old})
		}
	}
}

func (s *Static) subscribers() []func(Event) {
	out := make([]func(Event), 0, len(s.subs))
	for _, fn := range s.subs {
		out = append(out, fn)
	}
	return out
}

func (s *Static) List(k Kind) []Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Object, 0, len(s.objs[k]))
	for _, o := range s.objs[k] {
		out = append(out, o)
	}
	return out
}

func (s *Static) Get(k Kind, namespace, name string) (Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	o, ok := s.objs[k][key]
	return o, ok
}

func (s *Static) Subscribe(fn func(Event)) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	s.subs[id] = fn
	return func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
	}
}

func (s *Static) HasSynced() bool { return true }

// New returns an empty object of kind k, to decode into.
func New(k Kind) (Object, error) {
	switch k {
	case Namespace:
		return &corev1.Namespace{}, nil
	case Node:
		return &corev1.Node{}, nil
	case Pod:
		return &corev1.Pod{}, nil
	case Service:
		return &corev1.Service{}, nil
	case ConfigMap:
		return &corev1.ConfigMap{}, nil
	case Secret:
		return &corev1.Secret{}, nil
	case EventKind:
		return &corev1.Event{}, nil
	case EndpointSlice:
		return &discoveryv1.EndpointSlice{}, nil
	case Deployment:
		return &appsv1.Deployment{}, nil
	case ReplicaSet:
		return &appsv1.ReplicaSet{}, nil
	case StatefulSet:
		return &appsv1.StatefulSet{}, nil
	case NetworkPolicy:
		return &networkingv1.NetworkPolicy{}, nil
	case Ingress:
		return &networkingv1.Ingress{}, nil
	case AdminNetworkPolicy:
		return &policyv1alpha1.AdminNetworkPolicy{}, nil
	case BaselineAdminNetworkPolicy:
		return &policyv1alpha1.BaselineAdminNetworkPolicy{}, nil
	}
	return nil, fmt.Errorf("unsupported kind %q", k)
}
