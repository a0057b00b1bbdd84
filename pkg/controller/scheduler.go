package controller

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/podnet/podnet/pkg/source"
)

// schedulePod binds an unscheduled pod to the feasible node with the fewest
// pods (ties by name), or records why none is feasible, in the words
// kube-scheduler uses, so `describe` reads the same.
func (m *Manager) schedulePod(namespace, name string) error {
	o, ok := m.src.Get(source.Pod, namespace, name)
	if !ok {
		return nil
	}
	pod := o.(*corev1.Pod)
	if pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil || podTerminal(pod) {
		return nil
	}
	if pod.Spec.SchedulerName != "" && pod.Spec.SchedulerName != corev1.DefaultSchedulerName {
		return nil // another scheduler's pod
	}
	var nodes []*corev1.Node
	for _, o := range m.src.List(source.Node) {
		nodes = append(nodes, o.(*corev1.Node))
	}
	load := map[string]int{}
	for _, o := range m.src.List(source.Pod) {
		if p := o.(*corev1.Pod); p.Spec.NodeName != "" && !podTerminal(p) {
			load[p.Spec.NodeName]++
		}
	}
	var best *corev1.Node
	reasons := map[string]int{}
	for _, n := range nodes {
		if why := unfit(pod, n); why != "" {
			reasons[why]++
			continue
		}
		if best == nil || load[n.Name] < load[best.Name] || (load[n.Name] == load[best.Name] && n.Name < best.Name) {
			best = n
		}
	}
	upd := pod.DeepCopy()
	now := metav1.NewTime(m.clock.Now())
	if best == nil {
		setPodCondition(upd, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable, Message: unschedulableMessage(len(nodes), reasons), LastTransitionTime: now})
		if upd.Status.Phase == "" {
			upd.Status.Phase = corev1.PodPending
		}
	} else {
		upd.Spec.NodeName = best.Name
		setPodCondition(upd, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	if apiequality.Semantic.DeepEqual(upd, pod) {
		return nil
	}
	_, err := m.update(upd)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		if best != nil {
			m.event(fromScheduler, pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, best.Name)
		} else {
			m.event(fromScheduler, pod, corev1.EventTypeWarning, "FailedScheduling", "%s", unschedulableMessage(len(nodes), reasons))
		}
	}
	return err
}

// unfit says why pod cannot go to n, in kube-scheduler's words, or "".
func unfit(pod *corev1.Pod, n *corev1.Node) string {
	if n.Spec.Unschedulable && !tolerates(pod, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}) {
		return "node(s) were unschedulable"
	}
	if !nodeReady(n) && !tolerates(pod, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}) {
		return fmt.Sprintf("node(s) had untolerated taint {%s: }", corev1.TaintNodeNotReady)
	}
	for _, t := range n.Spec.Taints {
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(pod, t) {
			return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)
		}
	}
	if len(pod.Spec.NodeSelector) > 0 && !labels.SelectorFromSet(pod.Spec.NodeSelector).Matches(labels.Set(n.Labels)) {
		return "node(s) didn't match Pod's node affinity/selector"
	}
	return ""
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// tolerates: some toleration of the pod matches the taint's key (an empty
// key with Exists matches all), effect (empty matches all) and value.
func tolerates(pod *corev1.Pod, t corev1.Taint) bool {
	return slices.ContainsFunc(pod.Spec.Tolerations, func(tol corev1.Toleration) bool {
		if tol.Effect != "" && tol.Effect != t.Effect {
			return false
		}
		if tol.Key != "" && tol.Key != t.Key {
			return false
		}
		if tol.Key == "" && tol.Operator != corev1.TolerationOpExists {
			return false
		}
		switch tol.Operator {
		case corev1.TolerationOpExists:
			return true
		case "", corev1.TolerationOpEqual:
			return tol.Value == t.Value
		}
		return false
	})
}

// unschedulableMessage is the FitError text: "0/3 nodes are available: 1
// node(s) had ..., 2 node(s) didn't match ....", reasons sorted.
func unschedulableMessage(nodes int, reasons map[string]int) string {
	if nodes == 0 {
		return "no nodes available to schedule pods"
	}
	var parts []string
	for why, n := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, why))
	}
	sort.Strings(parts)
	return fmt.Sprintf("0/%d nodes are available: %s.", nodes, strings.Join(parts, ", "))
}

// setPodCondition replaces or adds c, keeping the transition time when the
// status did not change.
func setPodCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		cur := &pod.Status.Conditions[i]
		if cur.Type != c.Type {
			continue
		}
		if cur.Status == c.Status {
			c.LastTransitionTime = cur.LastTransitionTime
			c.LastProbeTime = cur.LastProbeTime
		}
		*cur = c
		return
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}
