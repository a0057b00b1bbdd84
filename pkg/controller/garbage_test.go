package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podnet/podnet/pkg/source"
)

func TestGarbageCollection(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{
			name: "deleting a deployment removes its ReplicaSet and pods",
			run: func(t *testing.T, e *env) {
				e.create(deployment("backend", 2))
				e.settle()
				// The store does not cascade: the collector must.
				if err := e.st.Delete(source.Deployment, "default", "backend"); err != nil {
					t.Fatal(err)
				}
				e.sync()
				if n := len(e.replicaSets()); n != 0 {
					t.Errorf("%d ReplicaSets remain", n)
				}
				if n := len(e.pods(labels.Everything())); n != 0 {
					t.Errorf("%d pods remain", n)
				}
			},
		},
		{
			name: "objects whose owner is missing at start-up are removed, others stay",
			run: func(t *testing.T, e *env) {
				orphan := pod("orphan", nil, "10.244.0.1", true)
				orphan.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "gone", UID: "uid-gone"}}
				e.create(orphan)
				foreign := pod("foreign", nil, "10.244.0.2", true)
				foreign.OwnerReferences = []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "Widget", Name: "w", UID: "uid-w"}}
				e.create(foreign)
				e.create(pod("plain", nil, "10.244.0.3", true))
				e.sync()
				if got := e.podNames(labels.Everything()); !equalStrings(got, []string{"foreign", "plain"}) {
					t.Errorf("pods %v, want [foreign plain]", got)
				}
			},
		},
		{
			name: "an owner recreated under the same name does not keep the old one's dependents",
			run: func(t *testing.T, e *env) {
				svc := e.create(service("web", map[string]string{"app": "web"}, svcPort("http", 80, intstr.FromInt32(80))))
				stale := pod("stale", nil, "10.244.0.1", true)
				stale.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "web", UID: "old-uid"}}
				e.create(stale)
				kept := pod("kept", nil, "10.244.0.2", true)
				kept.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "web", UID: svc.GetUID()}}
				e.create(kept)
				e.sync()
				if got := e.podNames(labels.Everything()); !equalStrings(got, []string{"kept"}) {
					t.Errorf("pods %v, want [kept]", got)
				}
			},
		},
		{
			name: "a deleted namespace loses everything in it",
			run: func(t *testing.T, e *env) {
				e.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}})
				p := pod("a", nil, "10.244.0.1", true)
				p.Namespace = "team"
				e.create(p)
				s := service("web", map[string]string{"app": "web"}, svcPort("http", 80, intstr.FromInt32(80)))
				s.Namespace = "team"
				e.create(s)
				e.sync()
				if err := e.st.Delete(source.Namespace, "", "team"); err != nil {
					t.Fatal(err)
				}
				e.sync()
				for _, k := range source.Kinds {
					for _, o := range e.st.List(k) {
						if o.GetNamespace() == "team" {
							t.Errorf("%s %s remains", k, o.GetName())
						}
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

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
