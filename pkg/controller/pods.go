package controller

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/podnet/podnet/pkg/source"
)

// podReadyCondition is the pod's Ready condition, or nil.
func podReadyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// podReady: the kubelet's verdict, the PodReady condition being True.
func podReady(pod *corev1.Pod) bool {
	c := podReadyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

// podAvailable: ready for at least minReadySeconds, as upstream's
// IsPodAvailable decides.
func podAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := podReadyCondition(pod)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	min := time.Duration(minReadySeconds) * time.Second
	return !c.LastTransitionTime.IsZero() && !c.LastTransitionTime.Add(min).After(now)
}

func podTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// podActive: counts towards a controller's replicas (FilterActivePods).
func podActive(pod *corev1.Pod) bool {
	return !podTerminal(pod) && pod.DeletionTimestamp == nil
}

// controllerRef makes the ownerReference a controller puts on what it
// creates: controller and blockOwnerDeletion, as metav1.NewControllerRef.
func controllerRef(owner source.Object, k source.Kind) metav1.OwnerReference {
	gvk := source.GroupVersionKind(k)
	return *metav1.NewControllerRef(owner, schema.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind})
}

// controlledBy reports whether o's controller is owner (by UID, so a
// recreated owner of the same name does not inherit old objects).
func controlledBy(o, owner metav1.Object) bool {
	ref := metav1.GetControllerOf(o)
	return ref != nil && ref.UID == owner.GetUID()
}

// podsInNamespace lists the pods of one namespace.
func (m *Manager) podsInNamespace(namespace string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, o := range m.src.List(source.Pod) {
		if o.GetNamespace() == namespace {
			out = append(out, o.(*corev1.Pod))
		}
	}
	return out
}

// podPhaseRank orders phases for deletion: the less far a pod got, the
// sooner it goes (Pending < Unknown < Running).
func podPhaseRank(p corev1.PodPhase) int {
	switch p {
	case corev1.PodPending:
		return 0
	case corev1.PodUnknown:
		return 1
	case corev1.PodRunning:
		return 2
	}
	return 0
}

func restarts(pod *corev1.Pod) int32 {
	var n int32
	for _, cs := range pod.Status.ContainerStatuses {
		n = max(n, cs.RestartCount)
	}
	return n
}

// deleteFirst reports whether pod a should be removed before b when scaling
// down, following upstream's ActivePods ranking: unscheduled before
// scheduled, earlier phase first, not ready before ready, ready for less
// time first, more restarts first, newer before older.
func deleteFirst(a, b *corev1.Pod) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if ra, rb := podPhaseRank(a.Status.Phase), podPhaseRank(b.Status.Phase); ra != rb {
		return ra < rb
	}
	if podReady(a) != podReady(b) {
		return !podReady(a)
	}
	if podReady(a) && podReady(b) {
		ta, tb := podReadyCondition(a).LastTransitionTime, podReadyCondition(b).LastTransitionTime
		if !ta.Equal(&tb) {
			return tb.Before(&ta)
		}
	}
	if ra, rb := restarts(a), restarts(b); ra != rb {
		return ra > rb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name > b.Name
}
