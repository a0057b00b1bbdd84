package controller

import (
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/podnet/podnet/pkg/source"
)

// syncReplicaSet keeps spec.replicas active pods of a ReplicaSet and
// reports them in its status.
func (m *Manager) syncReplicaSet(namespace, name string) error {
	o, ok := m.src.Get(source.ReplicaSet, namespace, name)
	if !ok {
		return nil // the garbage collector removes its pods
	}
	rs := o.(*appsv1.ReplicaSet)
	if rs.DeletionTimestamp != nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return fmt.Errorf("spec.selector: %w", err)
	}
	pods, err := m.claimPods(rs, source.ReplicaSet, sel)
	if err != nil {
		return err
	}
	want := int(replicasOf(rs.Spec.Replicas))
	switch diff := len(pods) - want; {
	case diff < 0:
		for range -diff {
			created, err := m.createPod(podFromTemplate(&rs.Spec.Template, rs, source.ReplicaSet), rs.Name+"-")
			if err != nil {
				m.event(fromReplicaSet, rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
				return err
			}
			m.event(fromReplicaSet, rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", created.Name)
			pods = append(pods, created)
		}
	case diff > 0:
		slices.SortStableFunc(pods, func(a, b *corev1.Pod) int {
			if deleteFirst(a, b) {
				return -1
			}
			if deleteFirst(b, a) {
				return 1
			}
			return 0
		})
		for _, pod := range pods[:diff] {
			if err := m.delete(source.Pod, pod.Namespace, pod.Name); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			m.event(fromReplicaSet, rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", pod.Name)
		}
		pods = pods[diff:]
	}
	return m.updateReplicaSetStatus(rs, pods)
}

// claimPods returns the active pods rs controls, adopting orphans its
// selector matches and releasing pods it no longer selects, as upstream's
// PodControllerRefManager does.
func (m *Manager) claimPods(owner source.Object, kind source.Kind, sel labels.Selector) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	for _, pod := range m.podsInNamespace(owner.GetNamespace()) {
		matches := !sel.Empty() && sel.Matches(labels.Set(pod.Labels))
		switch {
		case controlledBy(pod, owner) && !matches:
			released := pod.DeepCopy()
			released.OwnerReferences = slices.DeleteFunc(released.OwnerReferences, func(r metav1.OwnerReference) bool {
				return r.UID == owner.GetUID()
			})
			if _, err := m.update(released); err != nil && !apierrors.IsNotFound(err) {
				return nil, err
			}
		case controlledBy(pod, owner):
			if podActive(pod) {
				out = append(out, pod)
			}
		case matches && metav1.GetControllerOf(pod) == nil && podActive(pod):
			adopted := pod.DeepCopy()
			adopted.OwnerReferences = append(adopted.OwnerReferences, controllerRef(owner, kind))
			stored, err := m.update(adopted)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, stored.(*corev1.Pod))
		}
	}
	return out, nil
}

// podFromTemplate is a pod as a controller stamps it out of its template.
func podFromTemplate(t *corev1.PodTemplateSpec, owner source.Object, kind source.Kind) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       owner.GetNamespace(),
			Labels:          copyMap(t.Labels),
			Annotations:     copyMap(t.Annotations),
			Finalizers:      slices.Clone(t.Finalizers),
			OwnerReferences: []metav1.OwnerReference{controllerRef(owner, kind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	return pod
}

// maxNameAttempts: a generated name can collide with an existing pod; the
// API server then answers AlreadyExists and a new name is drawn.
const maxNameAttempts = 5

// createPod creates pod under a name generated from base.
func (m *Manager) createPod(pod *corev1.Pod, base string) (*corev1.Pod, error) {
	var err error
	for range maxNameAttempts {
		pod.Name = m.names.generate(base)
		var stored source.Object
		stored, err = m.create(pod)
		if err == nil {
			return stored.(*corev1.Pod), nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating pod: %w", err)
		}
	}
	return nil, fmt.Errorf("creating pod: %w", err)
}

func (m *Manager) updateReplicaSetStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	st := rs.Status.DeepCopy()
	st.Replicas = int32(len(pods))
	st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas = 0, 0, 0
	tmpl := labels.SelectorFromSet(rs.Spec.Template.Labels)
	now := m.clock.Now()
	for _, pod := range pods {
		if tmpl.Matches(labels.Set(pod.Labels)) {
			st.FullyLabeledReplicas++
		}
		if podReady(pod) {
			st.ReadyReplicas++
		}
		if podAvailable(pod, rs.Spec.MinReadySeconds, now) {
			st.AvailableReplicas++
		}
	}
	st.ObservedGeneration = rs.Generation
	if apiequality.Semantic.DeepEqual(*st, rs.Status) {
		return nil
	}
	upd := rs.DeepCopy()
	upd.Status = *st
	_, err := m.update(upd)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func replicasOf(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

func copyMap(in map[string]string) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
