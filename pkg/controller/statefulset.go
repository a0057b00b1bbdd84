package controller

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/podnet/podnet/pkg/source"
)

// syncStatefulSet keeps pods <set>-0..N-1 with stable names, each the host
// <name>.<serviceName> in DNS. OrderedReady creates one at a time and only
// after the previous one is Running and Ready, and removes from the highest
// ordinal down, one at a time; Parallel does both at once. A template change
// replaces pods from the highest ordinal down, one at a time.
func (m *Manager) syncStatefulSet(namespace, name string) error {
	o, ok := m.src.Get(source.StatefulSet, namespace, name)
	if !ok {
		return nil
	}
	set := o.(*appsv1.StatefulSet)
	if set.DeletionTimestamp != nil {
		return nil
	}
	hash, err := statefulSetRevisionHash(set)
	if err != nil {
		return err
	}
	updateRevision := revisionName(set.Name, hash)
	byOrdinal := map[int]*corev1.Pod{}
	for _, pod := range m.podsInNamespace(namespace) {
		if i, ok := ordinalOf(set, pod); ok && controlledBy(pod, set) {
			byOrdinal[i] = pod
		}
	}
	if err := m.scaleStatefulSet(set, byOrdinal, updateRevision); err != nil {
		return err
	}
	return m.updateStatefulSetStatus(set, byOrdinal, updateRevision)
}

// ordinalOf parses <set>-<ordinal>.
func ordinalOf(set *appsv1.StatefulSet, pod *corev1.Pod) (int, bool) {
	rest, ok := strings.CutPrefix(pod.Name, set.Name+"-")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 0 || strconv.Itoa(i) != rest {
		return 0, false
	}
	return i, true
}

func runningAndReady(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodRunning && podReady(pod) && pod.DeletionTimestamp == nil
}

// scaleStatefulSet takes the steps this pass may take, updating byOrdinal
// as it goes.
func (m *Manager) scaleStatefulSet(set *appsv1.StatefulSet, byOrdinal map[int]*corev1.Pod, updateRevision string) error {
	n := int(replicasOf(set.Spec.Replicas))
	ordered := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	start := 0
	if set.Spec.Ordinals != nil {
		start = int(set.Spec.Ordinals.Start)
	}
	healthy := true
	for i := start; i < start+n; i++ {
		pod := byOrdinal[i]
		if pod != nil && podTerminal(pod) {
			// Failed or finished pods are replaced under the same name.
			if err := m.delete(source.Pod, pod.Namespace, pod.Name); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			delete(byOrdinal, i)
			pod = nil
			if ordered {
				return nil
			}
		}
		if pod == nil {
			created, err := m.createStatefulPod(set, i, updateRevision)
			if err != nil {
				return err
			}
			byOrdinal[i] = created
			healthy = false
			if ordered {
				return nil
			}
			continue
		}
		if !runningAndReady(pod) {
			healthy = false
			if ordered {
				return nil
			}
		}
	}
	var condemned []int
	for i := range byOrdinal {
		if i < start || i >= start+n {
			condemned = append(condemned, i)
		}
	}
	// Highest ordinal first.
	slices.Sort(condemned)
	slices.Reverse(condemned)
	for _, i := range condemned {
		if ordered && !healthy {
			return nil
		}
		pod := byOrdinal[i]
		if err := m.delete(source.Pod, pod.Namespace, pod.Name); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		m.event(fromStatefulSet, set, corev1.EventTypeNormal, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", pod.Name, set.Name)
		delete(byOrdinal, i)
		if ordered {
			return nil
		}
	}
	if !healthy || set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return nil
	}
	partition := 0
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = int(*ru.Partition)
	}
	for i := start + n - 1; i >= start+partition; i-- {
		if pod := byOrdinal[i]; pod != nil && pod.Labels[appsv1.StatefulSetRevisionLabel] != updateRevision {
			if err := m.delete(source.Pod, pod.Namespace, pod.Name); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			delete(byOrdinal, i)
			return nil
		}
	}
	return nil
}

func (m *Manager) createStatefulPod(set *appsv1.StatefulSet, ordinal int, revision string) (*corev1.Pod, error) {
	pod := podFromTemplate(&set.Spec.Template, set, source.StatefulSet)
	pod.Name = fmt.Sprintf("%s-%d", set.Name, ordinal)
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[appsv1.StatefulSetPodNameLabel] = pod.Name
	pod.Labels[appsv1.PodIndexLabel] = strconv.Itoa(ordinal)
	pod.Labels[appsv1.StatefulSetRevisionLabel] = revision
	pod.Spec.Hostname = pod.Name
	pod.Spec.Subdomain = set.Spec.ServiceName
	stored, err := m.create(pod)
	if err != nil {
		m.event(fromStatefulSet, set, corev1.EventTypeWarning, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %v", pod.Name, set.Name, err)
		return nil, fmt.Errorf("creating pod %q: %w", pod.Name, err)
	}
	m.event(fromStatefulSet, set, corev1.EventTypeNormal, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return stored.(*corev1.Pod), nil
}

func (m *Manager) updateStatefulSetStatus(set *appsv1.StatefulSet, byOrdinal map[int]*corev1.Pod, updateRevision string) error {
	st := set.Status.DeepCopy()
	st.ObservedGeneration = set.Generation
	st.UpdateRevision = updateRevision
	if st.CurrentRevision == "" {
		st.CurrentRevision = updateRevision
	}
	n := int(replicasOf(set.Spec.Replicas))
	updated := 0
	for _, pod := range byOrdinal {
		if pod.Labels[appsv1.StatefulSetRevisionLabel] == updateRevision {
			updated++
		}
	}
	if updated == n && len(byOrdinal) == n {
		st.CurrentRevision = updateRevision
	}
	st.Replicas, st.ReadyReplicas, st.AvailableReplicas, st.CurrentReplicas, st.UpdatedReplicas = 0, 0, 0, 0, 0
	now := m.clock.Now()
	for _, pod := range byOrdinal {
		st.Replicas++
		if runningAndReady(pod) {
			st.ReadyReplicas++
		}
		if podAvailable(pod, set.Spec.MinReadySeconds, now) {
			st.AvailableReplicas++
		}
		switch pod.Labels[appsv1.StatefulSetRevisionLabel] {
		case st.CurrentRevision:
			st.CurrentReplicas++
			if st.CurrentRevision == updateRevision {
				st.UpdatedReplicas++
			}
		case updateRevision:
			st.UpdatedReplicas++
		}
	}
	if apiequality.Semantic.DeepEqual(*st, set.Status) {
		return nil
	}
	upd := set.DeepCopy()
	upd.Status = *st
	_, err := m.update(upd)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
