package controller

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podnet/podnet/pkg/source"
)

// Names upstream's deployment controller writes, which kubectl reads.
const (
	podTemplateHashLabel       = appsv1.DefaultDeploymentUniqueLabelKey
	revisionAnnotation         = "deployment.kubernetes.io/revision"
	desiredReplicasAnnotation  = "deployment.kubernetes.io/desired-replicas"
	maxReplicasAnnotation      = "deployment.kubernetes.io/max-replicas"
	lastAppliedAnnotation      = corev1.LastAppliedConfigAnnotation
	defaultRevisionHistoryKept = 10
)

// syncDeployment makes sure the Deployment's current template has a
// ReplicaSet, moves replicas from older ReplicaSets to it by the
// Deployment's strategy, prunes history and reports status.
func (m *Manager) syncDeployment(namespace, name string) error {
	o, ok := m.src.Get(source.Deployment, namespace, name)
	if !ok {
		return nil
	}
	d := o.(*appsv1.Deployment)
	if d.DeletionTimestamp != nil {
		return nil
	}
	var all []*appsv1.ReplicaSet
	for _, o := range m.src.List(source.ReplicaSet) {
		if rs := o.(*appsv1.ReplicaSet); rs.Namespace == namespace && controlledBy(rs, d) {
			all = append(all, rs)
		}
	}
	sortOldestFirst(all)
	newRS, olds := splitNewReplicaSet(d, all)
	created := false
	if newRS == nil {
		var err error
		if newRS, err = m.createNewReplicaSet(d, olds); err != nil {
			return err
		}
		created = true
	}
	newRS, err := m.syncRevision(newRS, olds)
	if err != nil {
		return err
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		newRS, olds, err = m.recreate(d, newRS, olds)
	} else {
		newRS, olds, err = m.rollingUpdate(d, newRS, olds)
	}
	if err != nil {
		return err
	}
	if err := m.pruneHistory(d, olds); err != nil {
		return err
	}
	return m.updateDeploymentStatus(d, newRS, olds, created)
}

func sortOldestFirst(rss []*appsv1.ReplicaSet) {
	slices.SortStableFunc(rss, func(a, b *appsv1.ReplicaSet) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return compareStrings(a.Name, b.Name)
	})
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// splitNewReplicaSet finds the ReplicaSet whose template is the
// Deployment's (ignoring the hash label), as FindNewReplicaSet: the oldest
// such wins if there are several.
func splitNewReplicaSet(d *appsv1.Deployment, all []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	for i, rs := range all {
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return rs, append(slices.Clone(all[:i]), all[i+1:]...)
		}
	}
	return nil, all
}

func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, podTemplateHashLabel)
	delete(b.Labels, podTemplateHashLabel)
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(b.Labels) == 0 {
		b.Labels = nil
	}
	return apiequality.Semantic.DeepEqual(a, b)
}

// errHashCollision: a ReplicaSet of the new one's name exists with another
// template; the collision count was bumped and the next pass hashes anew.
var errHashCollision = errors.New("pod template hash collision")

func (m *Manager) createNewReplicaSet(d *appsv1.Deployment, olds []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	hash := podTemplateHash(&d.Spec.Template, d.Status.CollisionCount)
	template := d.Spec.Template.DeepCopy()
	if template.Labels == nil {
		template.Labels = map[string]string{}
	}
	template.Labels[podTemplateHashLabel] = hash
	sel := d.Spec.Selector.DeepCopy()
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[podTemplateHashLabel] = hash
	annotations := map[string]string{}
	for k, v := range d.Annotations {
		if k != lastAppliedAnnotation && k != revisionAnnotation {
			annotations[k] = v
		}
	}
	annotations[revisionAnnotation] = strconv.FormatInt(maxRevision(olds)+1, 10)
	zero := int32(0)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       d.Namespace,
			Name:            d.Name + "-" + hash,
			Labels:          copyMap(template.Labels),
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{controllerRef(d, source.Deployment)},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &zero,
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        *template,
		},
	}
	stored, err := m.create(rs)
	if err == nil {
		return stored.(*appsv1.ReplicaSet), nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating replicaset %q: %w", rs.Name, err)
	}
	if o, ok := m.src.Get(source.ReplicaSet, rs.Namespace, rs.Name); ok {
		existing := o.(*appsv1.ReplicaSet)
		if controlledBy(existing, d) && equalIgnoreHash(&existing.Spec.Template, &d.Spec.Template) {
			return existing, nil
		}
	}
	upd := d.DeepCopy()
	n := int32(0)
	if upd.Status.CollisionCount != nil {
		n = *upd.Status.CollisionCount
	}
	n++
	upd.Status.CollisionCount = &n
	if _, err := m.update(upd); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("replicaset %q: %w", rs.Name, errHashCollision)
}

func revisionOf(rs *appsv1.ReplicaSet) int64 {
	v, _ := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
	return v
}

func maxRevision(rss []*appsv1.ReplicaSet) int64 {
	var n int64
	for _, rs := range rss {
		n = max(n, revisionOf(rs))
	}
	return n
}

// syncRevision gives the new ReplicaSet a revision above every old one, as
// a rollback to an old template does upstream.
func (m *Manager) syncRevision(newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	top := maxRevision(olds)
	if revisionOf(newRS) > top {
		return newRS, nil
	}
	upd := newRS.DeepCopy()
	if upd.Annotations == nil {
		upd.Annotations = map[string]string{}
	}
	upd.Annotations[revisionAnnotation] = strconv.FormatInt(top+1, 10)
	stored, err := m.update(upd)
	if err != nil {
		return nil, err
	}
	return stored.(*appsv1.ReplicaSet), nil
}

// scaleReplicaSet sets a ReplicaSet's replicas and the annotations that
// record what the Deployment wanted when it did.
func (m *Manager) scaleReplicaSet(rs *appsv1.ReplicaSet, n int32, d *appsv1.Deployment, surge int32) (*appsv1.ReplicaSet, error) {
	desired := strconv.Itoa(int(replicasOf(d.Spec.Replicas)))
	maxTotal := strconv.Itoa(int(replicasOf(d.Spec.Replicas) + surge))
	if replicasOf(rs.Spec.Replicas) == n && rs.Annotations[desiredReplicasAnnotation] == desired &&
		rs.Annotations[maxReplicasAnnotation] == maxTotal {
		return rs, nil
	}
	upd := rs.DeepCopy()
	upd.Spec.Replicas = &n
	if upd.Annotations == nil {
		upd.Annotations = map[string]string{}
	}
	upd.Annotations[desiredReplicasAnnotation] = desired
	upd.Annotations[maxReplicasAnnotation] = maxTotal
	stored, err := m.update(upd)
	if err != nil {
		return nil, fmt.Errorf("scaling replicaset %q to %d: %w", rs.Name, n, err)
	}
	if from := replicasOf(rs.Spec.Replicas); from != n {
		dir := "up"
		if n < from {
			dir = "down"
		}
		m.event(fromDeployment, d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", dir, rs.Name, from, n)
	}
	return stored.(*appsv1.ReplicaSet), nil
}

// pruneHistory deletes the oldest fully scaled-down ReplicaSets beyond
// spec.revisionHistoryLimit.
func (m *Manager) pruneHistory(d *appsv1.Deployment, olds []*appsv1.ReplicaSet) error {
	limit := defaultRevisionHistoryKept
	if d.Spec.RevisionHistoryLimit != nil {
		limit = int(*d.Spec.RevisionHistoryLimit)
	}
	var idle []*appsv1.ReplicaSet
	for _, rs := range olds {
		if replicasOf(rs.Spec.Replicas) == 0 && rs.Status.Replicas == 0 {
			idle = append(idle, rs)
		}
	}
	slices.SortStableFunc(idle, func(a, b *appsv1.ReplicaSet) int {
		return int(revisionOf(a) - revisionOf(b))
	})
	for i := 0; i < len(idle)-limit; i++ {
		if err := m.delete(source.ReplicaSet, idle[i].Namespace, idle[i].Name); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
