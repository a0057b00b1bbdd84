package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podnet/podnet/pkg/source"
)

func TestScheduler(t *testing.T) {
	unscheduled := func(name string, nodeSelector map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec: corev1.PodSpec{NodeSelector: nodeSelector, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	}
	notReady := node("node-b", nil)
	notReady.Status.Conditions[0].Status = corev1.ConditionFalse
	cases := []struct {
		name     string
		nodes    []*corev1.Node
		existing map[string]string // pod name -> node
		pod      *corev1.Pod
		wantNode string
		wantCond corev1.ConditionStatus
		wantMsg  string
	}{
		{
			name:     "a nodeSelector sends the pod to the node with that label",
			nodes:    []*corev1.Node{node("node-a", nil), node("node-b", map[string]string{"disk": "ssd"})},
			pod:      unscheduled("p", map[string]string{"disk": "ssd"}),
			wantNode: "node-b", wantCond: corev1.ConditionTrue,
		},
		{
			name:     "the pod goes to the node running the fewest pods",
			nodes:    []*corev1.Node{node("node-a", nil), node("node-b", nil)},
			existing: map[string]string{"x": "node-a"},
			pod:      unscheduled("p", nil),
			wantNode: "node-b", wantCond: corev1.ConditionTrue,
		},
		{
			name:     "equally loaded nodes are chosen by name",
			nodes:    []*corev1.Node{node("node-b", nil), node("node-a", nil)},
			pod:      unscheduled("p", nil),
			wantNode: "node-a", wantCond: corev1.ConditionTrue,
		},
		{
			name:     "a node that is not ready gets no pods",
			nodes:    []*corev1.Node{node("node-a", nil), notReady},
			existing: map[string]string{"x": "node-a"},
			pod:      unscheduled("p", nil),
			wantNode: "node-a", wantCond: corev1.ConditionTrue,
		},
		{
			name:     "no matching node leaves the pod Pending and says why, as kube-scheduler does",
			nodes:    []*corev1.Node{node("node-a", nil)},
			pod:      unscheduled("p", map[string]string{"disk": "ssd"}),
			wantNode: "", wantCond: corev1.ConditionFalse,
			wantMsg: "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
		},
		{
			name: "a tainted node takes only pods that tolerate the taint",
			nodes: []*corev1.Node{func() *corev1.Node {
				n := node("node-a", nil)
				n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
				return n
			}()},
			pod:      unscheduled("p", nil),
			wantNode: "", wantCond: corev1.ConditionFalse,
			wantMsg: "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: db}.",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			for _, n := range tc.nodes {
				e.create(n)
			}
			for name, n := range tc.existing {
				p := unscheduled(name, nil)
				p.Spec.NodeName = n
				e.create(p)
			}
			e.create(tc.pod)
			e.sync()
			got := e.get(source.Pod, "default", tc.pod.Name).(*corev1.Pod)
			if got.Spec.NodeName != tc.wantNode {
				t.Errorf("nodeName %q, want %q", got.Spec.NodeName, tc.wantNode)
			}
			var cond *corev1.PodCondition
			for i := range got.Status.Conditions {
				if got.Status.Conditions[i].Type == corev1.PodScheduled {
					cond = &got.Status.Conditions[i]
				}
			}
			if cond == nil || cond.Status != tc.wantCond || cond.Message != tc.wantMsg {
				t.Fatalf("PodScheduled %+v, want %s %q", cond, tc.wantCond, tc.wantMsg)
			}
			if tc.wantCond == corev1.ConditionFalse && (cond.Reason != "Unschedulable" || got.Status.Phase != corev1.PodPending) {
				t.Errorf("reason %q phase %q, want Unschedulable and Pending", cond.Reason, got.Status.Phase)
			}
		})
	}
}
