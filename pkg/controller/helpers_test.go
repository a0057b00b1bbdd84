package controller

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/podnet/podnet/pkg/source"
	"github.com/podnet/podnet/pkg/store"
)

// env is an in-memory cluster with a manager over it. Tests seed the store
// and call SyncAll; "kubelet" plays the node agent's part in pod status.
type env struct {
	t      *testing.T
	st     *store.Store
	m      *Manager
	clk    *clocktesting.FakeClock
	nextIP int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	st, err := store.New("", clk)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, clk: clk, nextIP: 10}
	e.m = NewManager(st, st, Config{Clock: clk, Rand: rand.New(rand.NewPCG(1, 2))})
	e.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	return e
}

func (e *env) create(o source.Object) source.Object {
	e.t.Helper()
	stored, err := e.st.Create(o)
	if err != nil {
		e.t.Fatalf("creating %s: %v", o.GetName(), err)
	}
	return stored
}

func (e *env) update(o source.Object) source.Object {
	e.t.Helper()
	o = o.DeepCopyObject().(source.Object)
	o.SetResourceVersion("")
	stored, err := e.st.Update(o)
	if err != nil {
		e.t.Fatalf("updating %s: %v", o.GetName(), err)
	}
	return stored
}

func (e *env) sync() {
	e.t.Helper()
	if err := e.m.SyncAll(); err != nil {
		e.t.Fatalf("SyncAll: %v", err)
	}
}

// settle alternates controller passes and kubelet work until neither has
// anything left to do: the state a running lab reaches.
func (e *env) settle() {
	e.t.Helper()
	for range 50 {
		e.sync()
		if e.kubelet() == 0 {
			return
		}
	}
	e.t.Fatal("cluster did not settle")
}

// kubelet makes every scheduled, not yet running pod Running and Ready with
// an IP, as the node agent would. It returns how many pods it changed.
func (e *env) kubelet() int {
	n := 0
	for _, pod := range e.pods(labels.Everything()) {
		if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodRunning {
			continue
		}
		e.setRunning(pod, true)
		n++
	}
	return n
}

func (e *env) setRunning(pod *corev1.Pod, ready bool) *corev1.Pod {
	e.t.Helper()
	upd := pod.DeepCopy()
	upd.Status.Phase = corev1.PodRunning
	if upd.Status.PodIP == "" {
		e.nextIP++
		ip := fmt.Sprintf("10.244.0.%d", e.nextIP)
		upd.Status.PodIP = ip
		upd.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	setPodCondition(upd, corev1.PodCondition{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.NewTime(e.clk.Now())})
	return e.update(upd).(*corev1.Pod)
}

func (e *env) pods(sel labels.Selector) []*corev1.Pod {
	var out []*corev1.Pod
	for _, o := range e.st.List(source.Pod) {
		if pod := o.(*corev1.Pod); sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, pod)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return compareStrings(a.Name, b.Name) })
	return out
}

func (e *env) podNames(sel labels.Selector) []string {
	var out []string
	for _, p := range e.pods(sel) {
		out = append(out, p.Name)
	}
	return out
}

func (e *env) replicaSets() []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, o := range e.st.List(source.ReplicaSet) {
		out = append(out, o.(*appsv1.ReplicaSet))
	}
	// Oldest revision first: the fake clock gives all the same timestamp.
	slices.SortFunc(out, func(a, b *appsv1.ReplicaSet) int { return int(revisionOf(a) - revisionOf(b)) })
	return out
}

func (e *env) slices(service string) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, o := range e.st.List(source.EndpointSlice) {
		if es := o.(*discoveryv1.EndpointSlice); es.Labels[discoveryv1.LabelServiceName] == service {
			out = append(out, es)
		}
	}
	slices.SortFunc(out, func(a, b *discoveryv1.EndpointSlice) int { return compareStrings(a.Name, b.Name) })
	return out
}

func (e *env) get(k source.Kind, namespace, name string) source.Object {
	e.t.Helper()
	o, ok := e.st.Get(k, namespace, name)
	if !ok {
		e.t.Fatalf("%s %s/%s not found", k, namespace, name)
	}
	return o
}

func node(name string, lbls map[string]string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
}

func podTemplate(app string, ports ...corev1.ContainerPort) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			Containers:    []corev1.Container{{Name: "app", Image: "nginx:1.27", Ports: ports}},
			RestartPolicy: corev1.RestartPolicyAlways,
		},
	}
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name),
		},
	}
}

func statefulSet(name string, replicas int32, policy appsv1.PodManagementPolicyType) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            &replicas,
			ServiceName:         name,
			PodManagementPolicy: policy,
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template:            podTemplate(name),
		},
	}
}

func service(name string, selector map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{
			Selector: selector, Ports: ports, ClusterIP: "10.96.0.50",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
		},
	}
}

func svcPort(name string, port int32, target intstr.IntOrString) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: port, TargetPort: target, Protocol: corev1.ProtocolTCP}
}

// pod is a running pod with an IP, as the node agent reports it.
func pod(name string, lbls map[string]string, ip string, ready bool, ports ...corev1.ContainerPort) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: lbls},
		Spec: corev1.PodSpec{NodeName: "node-1",
			Containers: []corev1.Container{{Name: "app", Image: "nginx", Ports: ports}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
	}
}
