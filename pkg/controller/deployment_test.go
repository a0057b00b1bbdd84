package controller

import (
	"regexp"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/podnet/podnet/pkg/source"
)

var podNameRE = regexp.MustCompile(`^backend-[a-z0-9]+-[bcdfghjklmnpqrstvwxz2456789]{5}$`)

func TestDeployment(t *testing.T) {
	backend := labels.SelectorFromSet(map[string]string{"app": "backend"})
	cases := []struct {
		name  string
		run   func(e *env)
		check func(t *testing.T, e *env)
	}{
		{
			name: "a deployment of 3 makes one ReplicaSet named by its template hash and 3 pods it owns",
			run:  func(e *env) { e.create(deployment("backend", 3)); e.settle() },
			check: func(t *testing.T, e *env) {
				d := e.get(source.Deployment, "default", "backend").(*appsv1.Deployment)
				rss := e.replicaSets()
				if len(rss) != 1 {
					t.Fatalf("got %d ReplicaSets, want 1", len(rss))
				}
				rs := rss[0]
				hash := podTemplateHash(&d.Spec.Template, nil)
				if rs.Name != "backend-"+hash || rs.Labels[podTemplateHashLabel] != hash ||
					rs.Spec.Selector.MatchLabels[podTemplateHashLabel] != hash || rs.Spec.Selector.MatchLabels["app"] != "backend" {
					t.Errorf("ReplicaSet %s labels %v selector %v, want backend-%s with the hash", rs.Name, rs.Labels, rs.Spec.Selector, hash)
				}
				checkControllerRef(t, rs, d.UID, "Deployment", "apps/v1")
				pods := e.pods(backend)
				if len(pods) != 3 {
					t.Fatalf("got %d pods, want 3", len(pods))
				}
				for _, p := range pods {
					if !podNameRE.MatchString(p.Name) || p.Labels[podTemplateHashLabel] != hash {
						t.Errorf("pod %s labels %v: want a generated name and the hash label", p.Name, p.Labels)
					}
					checkControllerRef(t, p, rs.UID, "ReplicaSet", "apps/v1")
				}
				checkDeploymentStatus(t, d, 3)
				if rs.Status.Replicas != 3 || rs.Status.ReadyReplicas != 3 || rs.Status.AvailableReplicas != 3 {
					t.Errorf("ReplicaSet status %+v, want 3 ready and available", rs.Status)
				}
			},
		},
		{
			name: "scaling down to 1 leaves one pod and the same ReplicaSet",
			run: func(e *env) {
				e.create(deployment("backend", 3))
				e.settle()
				d := e.get(source.Deployment, "default", "backend").(*appsv1.Deployment).DeepCopy()
				*d.Spec.Replicas = 1
				e.update(d)
				e.settle()
			},
			check: func(t *testing.T, e *env) {
				if n := len(e.pods(backend)); n != 1 {
					t.Errorf("got %d pods, want 1", n)
				}
				if n := len(e.replicaSets()); n != 1 {
					t.Errorf("got %d ReplicaSets, want 1", n)
				}
				checkDeploymentStatus(t, e.get(source.Deployment, "default", "backend").(*appsv1.Deployment), 1)
			},
		},
		{
			name: "scaling up to 5 adds two pods and keeps the three",
			run: func(e *env) {
				e.create(deployment("backend", 3))
				e.settle()
				before := e.podNames(backend)
				d := e.get(source.Deployment, "default", "backend").(*appsv1.Deployment).DeepCopy()
				*d.Spec.Replicas = 5
				e.update(d)
				e.settle()
				after := e.podNames(backend)
				for _, n := range before {
					if !contains(after, n) {
						e.t.Errorf("pod %s went away while scaling up", n)
					}
				}
			},
			check: func(t *testing.T, e *env) {
				if n := len(e.pods(backend)); n != 5 {
					t.Errorf("got %d pods, want 5", n)
				}
				checkDeploymentStatus(t, e.get(source.Deployment, "default", "backend").(*appsv1.Deployment), 5)
			},
		},
		{
			name: "a template change rolls pods to a new ReplicaSet and scales the old one to zero",
			run: func(e *env) {
				e.create(deployment("backend", 3))
				e.settle()
				d := e.get(source.Deployment, "default", "backend").(*appsv1.Deployment).DeepCopy()
				d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
				e.update(d)
				e.settle()
			},
			check: func(t *testing.T, e *env) {
				d := e.get(source.Deployment, "default", "backend").(*appsv1.Deployment)
				rss := e.replicaSets()
				if len(rss) != 2 {
					t.Fatalf("got %d ReplicaSets, want 2", len(rss))
				}
				if *rss[0].Spec.Replicas != 0 || *rss[1].Spec.Replicas != 3 {
					t.Errorf("replicas old=%d new=%d, want 0 and 3", *rss[0].Spec.Replicas, *rss[1].Spec.Replicas)
				}
				if rss[1].Name != "backend-"+podTemplateHash(&d.Spec.Template, nil) {
					t.Errorf("new ReplicaSet is %s", rss[1].Name)
				}
				if rss[1].Annotations[revisionAnnotation] != "2" || d.Annotations[revisionAnnotation] != "2" {
					t.Errorf("revision annotations %v / %v, want 2", rss[1].Annotations, d.Annotations)
				}
				for _, p := range e.pods(backend) {
					if p.Spec.Containers[0].Image != "nginx:1.28" {
						t.Errorf("pod %s runs %s", p.Name, p.Spec.Containers[0].Image)
					}
				}
				checkDeploymentStatus(t, d, 3)
			},
		},
		{
			name: "the Recreate strategy removes the old pods before making new ones",
			run: func(e *env) {
				d := deployment("backend", 2)
				d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
				e.create(d)
				e.settle()
				d = e.get(source.Deployment, "default", "backend").(*appsv1.Deployment).DeepCopy()
				d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
				e.update(d)
				// One deployment pass: the old ReplicaSet goes to zero and
				// the new one waits at zero while old pods remain.
				if err := e.m.syncDeployment("default", "backend"); err != nil {
					e.t.Fatal(err)
				}
				for _, rs := range e.replicaSets() {
					if *rs.Spec.Replicas != 0 {
						e.t.Errorf("ReplicaSet %s has %d replicas while old pods remain, want 0", rs.Name, *rs.Spec.Replicas)
					}
				}
				e.settle()
			},
			check: func(t *testing.T, e *env) {
				pods := e.pods(backend)
				if len(pods) != 2 {
					t.Fatalf("got %d pods, want 2", len(pods))
				}
				for _, p := range pods {
					if p.Spec.Containers[0].Image != "nginx:1.28" {
						t.Errorf("pod %s runs %s", p.Name, p.Spec.Containers[0].Image)
					}
				}
			},
		},
		{
			name: "a standalone ReplicaSet keeps its pods and reports their readiness",
			run: func(e *env) {
				sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "backend"}}
				two := int32(2)
				e.create(&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "backend-solo"},
					Spec: appsv1.ReplicaSetSpec{Replicas: &two, Selector: sel, Template: podTemplate("backend")}})
				e.sync()
			},
			check: func(t *testing.T, e *env) {
				pods := e.pods(backend)
				if len(pods) != 2 {
					t.Fatalf("got %d pods, want 2", len(pods))
				}
				e.setRunning(pods[0], true)
				e.sync()
				rs := e.get(source.ReplicaSet, "default", "backend-solo").(*appsv1.ReplicaSet)
				if rs.Status.Replicas != 2 || rs.Status.ReadyReplicas != 1 || rs.Status.ObservedGeneration != rs.Generation {
					t.Errorf("status %+v, want 2 replicas, 1 ready, generation observed", rs.Status)
				}
			},
		},
		{
			name: "scaling down deletes not-ready pods before ready ones",
			run: func(e *env) {
				e.create(deployment("backend", 3))
				e.settle()
				pods := e.pods(backend)
				e.setRunning(pods[1], false)
				d := e.get(source.Deployment, "default", "backend").(*appsv1.Deployment).DeepCopy()
				*d.Spec.Replicas = 2
				e.update(d)
				e.sync()
				if contains(e.podNames(backend), pods[1].Name) {
					e.t.Errorf("not-ready pod %s survived the scale-down", pods[1].Name)
				}
			},
			check: func(t *testing.T, e *env) {},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.create(node("node-1", nil))
			tc.run(e)
			tc.check(t, e)
		})
	}
}

func checkControllerRef(t *testing.T, o metav1.Object, uid any, kind, apiVersion string) {
	t.Helper()
	ref := metav1.GetControllerOf(o)
	if ref == nil || ref.UID != uid || ref.Kind != kind || ref.APIVersion != apiVersion ||
		ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("%s: controller ref %+v, want %s %s uid %v blocking deletion", o.GetName(), ref, apiVersion, kind, uid)
	}
}

func checkDeploymentStatus(t *testing.T, d *appsv1.Deployment, want int32) {
	t.Helper()
	st := d.Status
	if st.Replicas != want || st.ReadyReplicas != want || st.AvailableReplicas != want || st.UpdatedReplicas != want ||
		st.ObservedGeneration != d.Generation {
		t.Errorf("status %+v (generation %d), want %d everywhere", st, d.Generation, want)
	}
	avail, prog := deploymentCondition(&st, appsv1.DeploymentAvailable), deploymentCondition(&st, appsv1.DeploymentProgressing)
	if avail == nil || avail.Status != corev1.ConditionTrue || avail.Reason != reasonMinimumReplicasAvailable {
		t.Errorf("Available condition %+v", avail)
	}
	if prog == nil || prog.Status != corev1.ConditionTrue || prog.Reason != reasonNewReplicaSetAvailable {
		t.Errorf("Progressing condition %+v", prog)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
