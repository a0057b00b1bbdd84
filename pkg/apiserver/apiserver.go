// Package apiserver is the lab's write path, the part of kube-apiserver that
// matters for networking: defaulting, validation, ClusterIP and NodePort
// allocation, apply semantics, and cascading deletion, in front of the store.
// A batch is all or nothing: if any object is invalid or cannot be allocated,
// nothing is written.
package apiserver

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podnet/podnet/pkg/allocator"
	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/source"
	"github.com/podnet/podnet/pkg/store"
)

// Config holds the cluster-wide ranges.
type Config struct {
	ServiceCIDR   netip.Prefix // default 10.96.0.0/12
	NodePortFirst int          // default 30000
	NodePortLast  int          // default 32767
	Rand          *rand.Rand
}

func (c *Config) setDefaults() {
	if !c.ServiceCIDR.IsValid() {
		c.ServiceCIDR = netip.MustParsePrefix("10.96.0.0/12")
	}
	if c.NodePortFirst == 0 {
		c.NodePortFirst, c.NodePortLast = 30000, 32767
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
}

// Server applies changes to a store.
type Server struct {
	mu    sync.Mutex // serialises writes, so allocation and storage agree
	st    *store.Store
	cfg   Config
	ips   *allocator.IPs
	ports *allocator.Ports
}

var _ source.Writer = (*Server)(nil)

// DefaultNamespaces exist in every cluster from the start.
var DefaultNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// New rebuilds the allocators from what the store holds and makes sure the
// default namespaces and the `kubernetes` Service exist.
func New(st *store.Store, cfg Config) (*Server, error) {
	cfg.setDefaults()
	ips, err := allocator.NewIPs(cfg.ServiceCIDR, cfg.Rand)
	if err != nil {
		return nil, err
	}
	s := &Server{st: st, cfg: cfg, ips: ips, ports: allocator.NewPorts(cfg.NodePortFirst, cfg.NodePortLast, cfg.Rand)}
	for _, o := range st.List(source.Service) {
		svc := o.(*corev1.Service)
		if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil {
			s.ips.Allocate(ip)
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				s.ports.Allocate(int(p.NodePort))
			}
		}
		if svc.Spec.HealthCheckNodePort != 0 {
			s.ports.Allocate(int(svc.Spec.HealthCheckNodePort))
		}
	}
	var boot []source.Object
	for _, name := range DefaultNamespaces {
		if _, ok := st.Get(source.Namespace, "", name); !ok {
			boot = append(boot, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
		}
	}
	if _, ok := st.Get(source.Service, "default", "kubernetes"); !ok {
		boot = append(boot, kubernetesService(cfg.ServiceCIDR))
	}
	if len(boot) > 0 {
		if _, err := s.Apply(boot, false); err != nil {
			return nil, fmt.Errorf("bootstrapping cluster objects: %w", err)
		}
	}
	return s, nil
}

// kubernetesService is default/kubernetes at the first address of the
// service CIDR, as the API server creates it.
func kubernetesService(cidr netip.Prefix) *corev1.Service {
	ip := cidr.Masked().Addr().Next()
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: ip.String(),
			Ports:     []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(6443)}},
		},
	}
}

// Action is what apply did to one object, as kubectl reports it.
type Action string

const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
)

// Result is the outcome for one object of a batch.
type Result struct {
	Object source.Object
	Kind   source.Kind
	Action Action
}

// ObjectError ties an error to the object of the batch it is about, so the
// CLI can say which input it came from.
type ObjectError struct {
	Index int
	Err   error
}

func (e *ObjectError) Error() string { return e.Err.Error() }
func (e *ObjectError) Unwrap() error { return e.Err }

// Apply creates or updates every object (createOnly: existing objects are an
// error, as `create` has it). Either every object is written or none.
func (s *Server) Apply(objs []source.Object, createOnly bool) ([]Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	type planned struct {
		idx  int
		kind source.Kind
		want source.Object
		old  source.Object // nil when created
	}
	var plan []planned
	newNamespaces := map[string]bool{}
	for i, in := range objs {
		k, err := source.KindOf(in)
		if err != nil {
			return nil, &ObjectError{i, err}
		}
		o := in.DeepCopyObject().(source.Object)
		if source.Namespaced(k) && o.GetNamespace() == "" {
			o.SetNamespace("default")
		}
		live, exists := s.st.Get(k, o.GetNamespace(), o.GetName())
		if exists && !createOnly {
			keepLive(live, o)
		}
		manifest.Default(o)
		if errs := manifest.Validate(o, s.validationOptions()); len(errs) > 0 {
			return nil, &ObjectError{i, manifest.ValidationError(o, errs)}
		}
		if k == source.Namespace {
			newNamespaces[o.GetName()] = true
		}
		old := live
		if exists && createOnly {
			return nil, &ObjectError{i, apierrors.NewAlreadyExists(source.Resource(k), o.GetName())}
		}
		if !exists {
			old = nil
		}
		plan = append(plan, planned{idx: i, kind: k, want: o, old: old})
	}
	for _, p := range plan {
		if ns := p.want.GetNamespace(); source.Namespaced(p.kind) && !newNamespaces[ns] {
			if _, ok := s.st.Get(source.Namespace, "", ns); !ok {
				return nil, &ObjectError{p.idx, apierrors.NewNotFound(source.Resource(source.Namespace), ns)}
			}
		}
	}
	// Namespaces first, then the rest in the order of source.Kinds, so that
	// a single file holding a namespace and its objects applies.
	slices.SortStableFunc(plan, func(a, b planned) int {
		return slices.Index(source.Kinds, a.kind) - slices.Index(source.Kinds, b.kind)
	})

	var undo []func()
	rollback := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	results := make([]Result, len(objs))
	for _, p := range plan {
		want := p.want
		if p.old != nil {
			want = merge(p.kind, p.old, p.want)
		}
		if p.kind == source.Service {
			release, err := s.allocate(want.(*corev1.Service), asService(p.old))
			if err != nil {
				rollback()
				return nil, &ObjectError{p.idx, err}
			}
			undo = append(undo, release)
		}
		if p.old != nil && !changed(p.old, want) {
			results[p.idx] = Result{Object: p.old, Kind: p.kind, Action: Unchanged}
			continue
		}
		if p.kind == source.Pod && p.old != nil {
			if err := podUpdateAllowed(p.old.(*corev1.Pod), want.(*corev1.Pod)); err != nil {
				rollback()
				return nil, &ObjectError{p.idx, err}
			}
		}
		var stored source.Object
		var err error
		if p.old == nil {
			stored, err = s.st.Create(want)
		} else {
			want.SetResourceVersion("")
			stored, err = s.st.Update(want)
		}
		if err != nil {
			rollback()
			return nil, &ObjectError{p.idx, err}
		}
		k, old := p.kind, p.old
		undo = append(undo, func() {
			if old == nil {
				s.st.Delete(k, stored.GetNamespace(), stored.GetName())
			} else {
				o := old.DeepCopyObject().(source.Object)
				o.SetResourceVersion("")
				s.st.Update(o)
			}
		})
		action := Created
		if p.old != nil {
			action = Configured
		}
		results[p.idx] = Result{Object: stored, Kind: p.kind, Action: action}
	}
	return results, nil
}

func (s *Server) validationOptions() manifest.Options {
	return manifest.Options{ServiceCIDR: s.cfg.ServiceCIDR,
		NodePortRange: utilnet.PortRange{Base: s.cfg.NodePortFirst, Size: s.cfg.NodePortLast - s.cfg.NodePortFirst + 1}}
}

// Create is the controllers' create: defaulted, validated and allocated.
func (s *Server) Create(o source.Object) (source.Object, error) {
	res, err := s.Apply([]source.Object{o}, true)
	if err != nil {
		return nil, errors(err)
	}
	return res[0].Object, nil
}

// Update replaces an object as controllers and node agents do (status,
// replicas, slices); a set resourceVersion must match. Services keep their
// allocations consistent.
func (s *Server) Update(o source.Object) (source.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if svc, ok := o.(*corev1.Service); ok {
		old, found := s.st.Get(source.Service, svc.Namespace, svc.Name)
		if !found {
			return nil, apierrors.NewNotFound(source.Resource(source.Service), svc.Name)
		}
		svc = svc.DeepCopy()
		undo, err := s.allocate(svc, old.(*corev1.Service))
		if err != nil {
			return nil, err
		}
		out, err := s.st.Update(svc)
		if err != nil {
			undo() // a refused write (a conflict) keeps nothing it reserved
		}
		return out, err
	}
	return s.st.Update(o)
}

func errors(err error) error {
	if oe, ok := err.(*ObjectError); ok {
		return oe.Err
	}
	return err
}

// Delete removes an object and, as the garbage collector and namespace
// controller would, everything it owns or contains.
func (s *Server) Delete(k source.Kind, namespace, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k == source.Namespace && slices.Contains([]string{"default", "kube-system", "kube-public"}, name) {
		return apierrors.NewForbidden(source.Resource(k), name, fmt.Errorf("this namespace may not be deleted"))
	}
	return s.delete(k, namespace, name)
}

func (s *Server) delete(k source.Kind, namespace, name string) error {
	o, ok := s.st.Get(k, namespace, name)
	if !ok {
		return apierrors.NewNotFound(source.Resource(k), name)
	}
	if k == source.Namespace {
		for _, kk := range source.Kinds {
			if !source.Namespaced(kk) {
				continue
			}
			for _, child := range s.st.List(kk) {
				if child.GetNamespace() == name {
					s.delete(kk, name, child.GetName())
				}
			}
		}
	}
	if err := s.st.Delete(k, namespace, name); err != nil {
		return err
	}
	if svc, ok := o.(*corev1.Service); ok {
		s.releaseAll(svc)
	}
	for _, kk := range source.Kinds {
		if !source.Namespaced(kk) {
			continue
		}
		for _, dep := range s.st.List(kk) {
			if dep.GetNamespace() == namespace && ownedBy(dep, o) {
				s.delete(kk, namespace, dep.GetName())
			}
		}
	}
	return nil
}

func ownedBy(dep, owner source.Object) bool {
	for _, ref := range dep.GetOwnerReferences() {
		if ref.UID == owner.GetUID() {
			return true
		}
	}
	return false
}

func asService(o source.Object) *corev1.Service {
	if o == nil {
		return nil
	}
	return o.(*corev1.Service)
}

// invalidService wraps one field error as the API server reports it.
func invalidService(svc *corev1.Service, path *field.Path, value any, msg string) error {
	return apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, field.ErrorList{field.Invalid(path, value, msg)})
}
