package controller

import (
	"errors"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/podnet/podnet/pkg/source"
)

const (
	// endpointSliceControllerName is the managed-by value upstream's
	// controller writes; slices with another value belong to someone else
	// and are never touched.
	endpointSliceControllerName = "endpointslice-controller.k8s.io"
	// maxEndpointsPerSlice is kube-controller-manager's default.
	maxEndpointsPerSlice = 100
)

func managedSlice(es *discoveryv1.EndpointSlice) bool {
	return es.Labels[discoveryv1.LabelManagedBy] == endpointSliceControllerName && es.Labels[discoveryv1.LabelServiceName] != ""
}

// syncService converges the EndpointSlices of one Service.
func (m *Manager) syncService(namespace, name string) error {
	var existing []*discoveryv1.EndpointSlice
	for _, o := range m.src.List(source.EndpointSlice) {
		es := o.(*discoveryv1.EndpointSlice)
		if es.Namespace == namespace && managedSlice(es) && es.Labels[discoveryv1.LabelServiceName] == name {
			existing = append(existing, es)
		}
	}
	slices.SortFunc(existing, func(a, b *discoveryv1.EndpointSlice) int { return compareStrings(a.Name, b.Name) })
	o, ok := m.src.Get(source.Service, namespace, name)
	if !ok {
		return m.deleteSlices(existing)
	}
	svc := o.(*corev1.Service)
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return m.deleteSlices(existing)
	}
	if len(svc.Spec.Selector) == 0 {
		// Selectorless: endpoints come from whoever wrote the slices.
		return nil
	}
	var owned []*discoveryv1.EndpointSlice
	var stale []*discoveryv1.EndpointSlice
	for _, es := range existing {
		if controlledBy(es, svc) {
			owned = append(owned, es)
		} else {
			stale = append(stale, es) // left by an earlier Service of this name
		}
	}
	plan := m.planSlices(svc, owned, m.desiredEndpoints(svc))
	plan.deletes = append(plan.deletes, stale...)
	return m.applySlicePlan(plan)
}

func (m *Manager) deleteSlices(ss []*discoveryv1.EndpointSlice) error {
	var errs []error
	for _, es := range ss {
		if err := m.delete(source.EndpointSlice, es.Namespace, es.Name); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sliceLabels: the Service's labels except the reserved ones, then the
// reserved ones set by the controller (setEndpointSliceLabels).
func sliceLabels(svc *corev1.Service) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		if k == discoveryv1.LabelServiceName || k == discoveryv1.LabelManagedBy || k == corev1.IsHeadlessService {
			continue
		}
		out[k] = v
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		out[corev1.IsHeadlessService] = ""
	}
	out[discoveryv1.LabelServiceName] = svc.Name
	out[discoveryv1.LabelManagedBy] = endpointSliceControllerName
	return out
}

// slicePrefix is getEndpointSlicePrefix: "<service>-", or "slice-" when
// that would not make a valid name.
func slicePrefix(service string) string {
	prefix := service + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"x")) != 0 {
		return "slice-"
	}
	return prefix
}

func (m *Manager) newSlice(svc *corev1.Service, t discoveryv1.AddressType, ports []discoveryv1.EndpointPort) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       svc.Namespace,
			Labels:          sliceLabels(svc),
			OwnerReferences: []metav1.OwnerReference{controllerRef(svc, source.Service)},
		},
		AddressType: t,
		Ports:       slices.Clone(ports),
		Endpoints:   []discoveryv1.Endpoint{},
	}
}

// slicePlan is one pass's writes for one Service.
type slicePlan struct {
	creates []*discoveryv1.EndpointSlice
	updates []*discoveryv1.EndpointSlice
	deletes []*discoveryv1.EndpointSlice
}

func (m *Manager) applySlicePlan(p slicePlan) error {
	// Reuse the names of slices about to go for new ones of the same
	// address type, as upstream's finalize does, to spare watchers a
	// delete and a create.
	for i := 0; i < len(p.creates); i++ {
		j := slices.IndexFunc(p.deletes, func(es *discoveryv1.EndpointSlice) bool {
			return es.AddressType == p.creates[i].AddressType
		})
		if j < 0 {
			continue
		}
		old := p.deletes[j]
		p.deletes = slices.Delete(p.deletes, j, j+1)
		c := p.creates[i]
		c.Name, c.ResourceVersion, c.UID = old.Name, old.ResourceVersion, old.UID
		c.CreationTimestamp = old.CreationTimestamp
		p.updates = append(p.updates, c)
		p.creates = slices.Delete(p.creates, i, i+1)
		i--
	}
	var errs []error
	for _, es := range p.creates {
		if err := m.createSlice(es); err != nil {
			errs = append(errs, err)
		}
	}
	for _, es := range p.updates {
		if _, err := m.update(es); err != nil {
			errs = append(errs, err)
		}
	}
	if err := m.deleteSlices(p.deletes); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (m *Manager) createSlice(es *discoveryv1.EndpointSlice) error {
	var err error
	for range maxNameAttempts {
		es.Name = m.names.generate(slicePrefix(es.Labels[discoveryv1.LabelServiceName]))
		if _, err = m.create(es); !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return err
}

// planSlices places the desired endpoints into the Service's slices,
// keeping each endpoint in the slice that already holds it, so unchanged
// slices are not rewritten; new endpoints fill slices already being
// rewritten, then any with room, then new slices of at most 100.
func (m *Manager) planSlices(svc *corev1.Service, owned []*discoveryv1.EndpointSlice, groups map[string]*endpointGroup) slicePlan {
	var p slicePlan
	byGroup := map[string][]*discoveryv1.EndpointSlice{}
	for _, es := range owned {
		k := groupKey(es.AddressType, es.Ports)
		byGroup[k] = append(byGroup[k], es)
	}
	labels := sliceLabels(svc)
	for k, g := range groups {
		m.planGroup(svc, g, byGroup[k], labels, &p)
	}
	for k, ss := range byGroup {
		if _, ok := groups[k]; !ok {
			p.deletes = append(p.deletes, ss...)
		}
	}
	// A selecting Service always has a slice per address type, even with
	// no endpoints: a placeholder with no ports, kept if it is there.
	for _, t := range serviceAddressTypes(svc) {
		if m.sliceSurvives(t, owned, p) {
			continue
		}
		placeholder := m.newSlice(svc, t, []discoveryv1.EndpointPort{})
		if i := slices.IndexFunc(p.deletes, func(es *discoveryv1.EndpointSlice) bool {
			return es.AddressType == t && len(es.Endpoints) == 0 && len(es.Ports) == 0 &&
				apiequality.Semantic.DeepEqual(es.Labels, labels)
		}); i >= 0 {
			p.deletes = slices.Delete(p.deletes, i, i+1)
			continue
		}
		p.creates = append(p.creates, placeholder)
	}
	return p
}

// sliceSurvives: after the plan, some slice of type t exists.
func (m *Manager) sliceSurvives(t discoveryv1.AddressType, owned []*discoveryv1.EndpointSlice, p slicePlan) bool {
	for _, es := range p.creates {
		if es.AddressType == t {
			return true
		}
	}
	for _, es := range owned {
		if es.AddressType == t && !slices.Contains(p.deletes, es) {
			return true
		}
	}
	return false
}

func (m *Manager) planGroup(svc *corev1.Service, g *endpointGroup, existing []*discoveryv1.EndpointSlice, labels map[string]string, p *slicePlan) {
	placed := map[string]bool{}
	var changed, unchanged []*discoveryv1.EndpointSlice
	for _, es := range existing {
		eps := make([]discoveryv1.Endpoint, 0, len(es.Endpoints))
		dirty := !apiequality.Semantic.DeepEqual(es.Labels, labels)
		for _, ep := range es.Endpoints {
			k := endpointKey(ep)
			want, ok := g.endpoints[k]
			if !ok || placed[k] {
				dirty = true
				continue
			}
			placed[k] = true
			if !apiequality.Semantic.DeepEqual(want, ep) {
				dirty = true
			}
			eps = append(eps, want)
		}
		switch {
		case len(eps) == 0:
			p.deletes = append(p.deletes, es)
		case dirty:
			upd := es.DeepCopy()
			upd.Labels = copyMap(labels)
			upd.Endpoints = eps
			changed = append(changed, upd)
		default:
			unchanged = append(unchanged, es)
		}
	}
	var rest []string
	for k := range g.endpoints {
		if !placed[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	fill := func(es *discoveryv1.EndpointSlice) bool {
		took := false
		for len(rest) > 0 && len(es.Endpoints) < maxEndpointsPerSlice {
			es.Endpoints = append(es.Endpoints, g.endpoints[rest[0]])
			rest = rest[1:]
			took = true
		}
		return took
	}
	for _, es := range changed {
		fill(es)
	}
	for _, es := range unchanged {
		if len(rest) == 0 {
			break
		}
		if upd := es.DeepCopy(); fill(upd) {
			changed = append(changed, upd)
		}
	}
	p.updates = append(p.updates, changed...)
	for len(rest) > 0 {
		es := m.newSlice(svc, g.addressType, g.ports)
		fill(es)
		p.creates = append(p.creates, es)
	}
}
