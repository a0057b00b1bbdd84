package controller

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podnet/podnet/pkg/source"
)

// keysFor names what an event may have put out of line. It over-approximates
// (every Service of a pod's namespace, say) because a pod's old labels are
// not in a Modified event, and a spare pass costs only a comparison.
func (m *Manager) keysFor(ev source.Event) []key {
	o := ev.Object
	ns, name := o.GetNamespace(), o.GetName()
	var keys []key
	if ev.Type == source.Deleted && ev.Kind != source.Namespace && source.Namespaced(ev.Kind) {
		keys = append(keys, key{ctrlGC, ns, ""})
	}
	switch obj := o.(type) {
	case *appsv1.Deployment:
		keys = append(keys, key{ctrlDeployment, ns, name})
	case *appsv1.ReplicaSet:
		keys = append(keys, key{ctrlReplicaSet, ns, name})
		if ref := metav1.GetControllerOf(obj); ref != nil && ref.Kind == string(source.Deployment) {
			keys = append(keys, key{ctrlDeployment, ns, ref.Name})
		}
	case *appsv1.StatefulSet:
		keys = append(keys, key{ctrlStatefulSet, ns, name})
	case *corev1.Pod:
		keys = append(keys, m.podKeys(obj, ev.Type)...)
	case *corev1.Service:
		keys = append(keys, key{ctrlEndpointSlice, ns, name})
	case *discoveryv1.EndpointSlice:
		if managedSlice(obj) {
			keys = append(keys, key{ctrlEndpointSlice, ns, obj.Labels[discoveryv1.LabelServiceName]})
		}
	case *corev1.Node:
		keys = append(keys, m.unscheduledPodKeys()...)
		// Endpoints name their node and zone, and skip unknown nodes.
		for _, o := range m.src.List(source.Service) {
			keys = append(keys, key{ctrlEndpointSlice, o.GetNamespace(), o.GetName()})
		}
	case *corev1.Namespace:
		if ev.Type == source.Deleted {
			keys = append(keys, key{ctrlNamespace, "", name})
		}
	}
	return keys
}

func (m *Manager) podKeys(pod *corev1.Pod, typ source.EventType) []key {
	var keys []key
	if ref := metav1.GetControllerOf(pod); ref != nil {
		switch ref.Kind {
		case string(source.ReplicaSet):
			keys = append(keys, key{ctrlReplicaSet, pod.Namespace, ref.Name})
		case string(source.StatefulSet):
			keys = append(keys, key{ctrlStatefulSet, pod.Namespace, ref.Name})
		}
	} else {
		// An orphan may be adopted by a ReplicaSet selecting it.
		for _, o := range m.src.List(source.ReplicaSet) {
			if o.GetNamespace() == pod.Namespace {
				keys = append(keys, key{ctrlReplicaSet, pod.Namespace, o.GetName()})
			}
		}
	}
	if typ != source.Deleted && pod.Spec.NodeName == "" {
		keys = append(keys, key{ctrlScheduler, pod.Namespace, pod.Name})
	}
	if typ == source.Deleted || pod.Spec.NodeName != "" {
		// A pod leaving or landing on a node changes the spread others see.
		keys = append(keys, m.unscheduledPodKeys()...)
	}
	for _, o := range m.src.List(source.Service) {
		if o.GetNamespace() == pod.Namespace {
			keys = append(keys, key{ctrlEndpointSlice, pod.Namespace, o.GetName()})
		}
	}
	return keys
}

func (m *Manager) unscheduledPodKeys() []key {
	var keys []key
	for _, o := range m.src.List(source.Pod) {
		if pod := o.(*corev1.Pod); pod.Spec.NodeName == "" {
			keys = append(keys, key{ctrlScheduler, pod.Namespace, pod.Name})
		}
	}
	return keys
}

// allKeys names every object every controller looks after, for start-up and
// SyncAll. Garbage collection comes first, so nothing is built on an object
// about to go.
func (m *Manager) allKeys() []key {
	var keys []key
	namespaces := map[string]bool{}
	for _, k := range source.Kinds {
		if !source.Namespaced(k) {
			continue
		}
		for _, o := range m.src.List(k) {
			namespaces[o.GetNamespace()] = true
		}
	}
	for ns := range namespaces {
		if _, ok := m.src.Get(source.Namespace, "", ns); !ok {
			keys = append(keys, key{ctrlNamespace, "", ns})
		}
		keys = append(keys, key{ctrlGC, ns, ""})
	}
	add := func(k source.Kind, ctrl string) {
		for _, o := range m.src.List(k) {
			keys = append(keys, key{ctrl, o.GetNamespace(), o.GetName()})
		}
	}
	add(source.Deployment, ctrlDeployment)
	add(source.ReplicaSet, ctrlReplicaSet)
	add(source.StatefulSet, ctrlStatefulSet)
	keys = append(keys, m.unscheduledPodKeys()...)
	add(source.Service, ctrlEndpointSlice)
	for _, o := range m.src.List(source.EndpointSlice) {
		if es := o.(*discoveryv1.EndpointSlice); managedSlice(es) {
			keys = append(keys, key{ctrlEndpointSlice, es.Namespace, es.Labels[discoveryv1.LabelServiceName]})
		}
	}
	return keys
}
