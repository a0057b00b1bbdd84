package controller

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/podnet/podnet/pkg/source"
)

func TestStatefulSet(t *testing.T) {
	web := labels.SelectorFromSet(map[string]string{"app": "web"})
	cases := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{
			name: "OrderedReady creates the next pod only once the previous one is running and ready",
			run: func(t *testing.T, e *env) {
				e.create(statefulSet("web", 3, appsv1.OrderedReadyPodManagement))
				e.sync()
				if got := e.podNames(web); !slices.Equal(got, []string{"web-0"}) {
					t.Fatalf("before web-0 is ready: pods %v, want [web-0]", got)
				}
				e.setRunning(e.pods(web)[0], false)
				e.sync()
				if got := e.podNames(web); !slices.Equal(got, []string{"web-0"}) {
					t.Fatalf("while web-0 is running but not ready: pods %v, want [web-0]", got)
				}
				e.setRunning(e.pods(web)[0], true)
				e.sync()
				if got := e.podNames(web); !slices.Equal(got, []string{"web-0", "web-1"}) {
					t.Fatalf("after web-0 is ready: pods %v, want [web-0 web-1]", got)
				}
				e.settle()
				if got := e.podNames(web); !slices.Equal(got, []string{"web-0", "web-1", "web-2"}) {
					t.Fatalf("settled: pods %v", got)
				}
				set := e.get(source.StatefulSet, "default", "web").(*appsv1.StatefulSet)
				if st := set.Status; st.Replicas != 3 || st.ReadyReplicas != 3 || st.CurrentReplicas != 3 || st.UpdatedReplicas != 3 ||
					st.CurrentRevision == "" || st.CurrentRevision != st.UpdateRevision {
					t.Errorf("status %+v", st)
				}
			},
		},
		{
			name: "Parallel creates every pod at once",
			run: func(t *testing.T, e *env) {
				e.create(statefulSet("web", 3, appsv1.ParallelPodManagement))
				e.sync()
				if got := e.podNames(web); !slices.Equal(got, []string{"web-0", "web-1", "web-2"}) {
					t.Fatalf("pods %v", got)
				}
			},
		},
		{
			name: "pods carry hostname, subdomain, owner and the StatefulSet labels",
			run: func(t *testing.T, e *env) {
				set := e.create(statefulSet("web", 2, appsv1.ParallelPodManagement)).(*appsv1.StatefulSet)
				e.sync()
				hash, _ := statefulSetRevisionHash(set)
				for i, p := range e.pods(web) {
					if p.Spec.Hostname != p.Name || p.Spec.Subdomain != "web" {
						t.Errorf("%s: hostname %q subdomain %q", p.Name, p.Spec.Hostname, p.Spec.Subdomain)
					}
					want := map[string]string{"app": "web", appsv1.StatefulSetPodNameLabel: p.Name,
						appsv1.PodIndexLabel: []string{"0", "1"}[i], appsv1.StatefulSetRevisionLabel: "web-" + hash}
					if !labels.Equals(p.Labels, want) {
						t.Errorf("%s: labels %v, want %v", p.Name, p.Labels, want)
					}
					checkControllerRef(t, p, set.UID, "StatefulSet", "apps/v1")
				}
			},
		},
		{
			name: "scaling down removes the highest ordinal first, one at a time",
			run: func(t *testing.T, e *env) {
				e.create(statefulSet("web", 3, appsv1.OrderedReadyPodManagement))
				e.settle()
				set := e.get(source.StatefulSet, "default", "web").(*appsv1.StatefulSet).DeepCopy()
				*set.Spec.Replicas = 1
				e.update(set)
				if err := e.m.syncStatefulSet("default", "web"); err != nil {
					t.Fatal(err)
				}
				if got := e.podNames(web); !slices.Equal(got, []string{"web-0", "web-1"}) {
					t.Fatalf("after one pass: pods %v, want [web-0 web-1]", got)
				}
				e.settle()
				if got := e.podNames(web); !slices.Equal(got, []string{"web-0"}) {
					t.Fatalf("settled: pods %v, want [web-0]", got)
				}
			},
		},
		{
			name: "a template change replaces pods from the highest ordinal down",
			run: func(t *testing.T, e *env) {
				e.create(statefulSet("web", 2, appsv1.OrderedReadyPodManagement))
				e.settle()
				old := e.get(source.StatefulSet, "default", "web").(*appsv1.StatefulSet).Status.CurrentRevision
				set := e.get(source.StatefulSet, "default", "web").(*appsv1.StatefulSet).DeepCopy()
				set.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
				e.update(set)
				e.settle()
				set = e.get(source.StatefulSet, "default", "web").(*appsv1.StatefulSet)
				if set.Status.UpdateRevision == old || set.Status.CurrentRevision != set.Status.UpdateRevision {
					t.Errorf("revisions %q -> current %q update %q", old, set.Status.CurrentRevision, set.Status.UpdateRevision)
				}
				for _, p := range e.pods(web) {
					if p.Spec.Containers[0].Image != "nginx:1.28" || p.Labels[appsv1.StatefulSetRevisionLabel] != set.Status.UpdateRevision {
						t.Errorf("%s: image %s revision %s", p.Name, p.Spec.Containers[0].Image, p.Labels[appsv1.StatefulSetRevisionLabel])
					}
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.create(node("node-1", nil))
			tc.run(t, e)
		})
	}
}
