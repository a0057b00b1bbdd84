package apiserver

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/podnet/podnet/pkg/source"
	"github.com/podnet/podnet/pkg/store"
)

func newServer(t *testing.T) (*Server, *store.Store) {
	t.Helper()
	st, err := store.New("", clocktesting.NewFakeClock(time.Unix(1000, 0)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(st, Config{Rand: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func service(name, clusterIP string, typ corev1.ServiceType, nodePort int32) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Type: typ, ClusterIP: clusterIP, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80), NodePort: nodePort}}}}
}

func TestBootstrapObjects(t *testing.T) {
	_, st := newServer(t)
	for _, ns := range DefaultNamespaces {
		o, ok := st.Get(source.Namespace, "", ns)
		if !ok {
			t.Fatalf("namespace %s missing", ns)
		}
		if got := o.GetLabels()["kubernetes.io/metadata.name"]; got != ns {
			t.Errorf("namespace %s has kubernetes.io/metadata.name=%q", ns, got)
		}
	}
	o, ok := st.Get(source.Service, "default", "kubernetes")
	if !ok || o.(*corev1.Service).Spec.ClusterIP != "10.96.0.1" {
		t.Fatalf("default/kubernetes = %v", o)
	}
}

func TestApply(t *testing.T) {
	cases := []struct {
		name    string
		first   []source.Object
		batch   []source.Object
		wantErr string
		check   func(t *testing.T, st *store.Store, res []Result)
	}{
		{
			name:  "an explicit clusterIP is honoured",
			batch: []source.Object{service("dns", "10.96.0.10", "", 0)},
			check: func(t *testing.T, st *store.Store, res []Result) {
				if ip := res[0].Object.(*corev1.Service).Spec.ClusterIP; ip != "10.96.0.10" {
					t.Errorf("clusterIP %s", ip)
				}
			},
		},
		{
			name:    "a clusterIP already taken is refused with the API server's message",
			first:   []source.Object{service("a", "10.96.0.50", "", 0)},
			batch:   []source.Object{service("b", "10.96.0.50", "", 0)},
			wantErr: `Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.50"]: failed to allocate IP 10.96.0.50: provided IP is already allocated`,
		},
		{
			name:    "a nodePort outside the range is refused",
			batch:   []source.Object{service("web", "", corev1.ServiceTypeNodePort, 40000)},
			wantErr: `Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid ports is 30000-32767`,
		},
		{
			name:    "a nodePort already taken is refused",
			first:   []source.Object{service("a", "", corev1.ServiceTypeNodePort, 30080)},
			batch:   []source.Object{service("b", "", corev1.ServiceTypeNodePort, 30080)},
			wantErr: `Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated`,
		},
		{
			name: "a batch with one invalid object changes nothing",
			batch: []source.Object{
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}},
				service("good", "", "", 0),
				service("bad", "", corev1.ServiceTypeNodePort, 40000),
			},
			wantErr: `Service "bad" is invalid: spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid ports is 30000-32767`,
			check: func(t *testing.T, st *store.Store, _ []Result) {
				if _, ok := st.Get(source.Namespace, "", "fresh"); ok {
					t.Error("namespace fresh was created by a failed batch")
				}
				if _, ok := st.Get(source.Service, "default", "good"); ok {
					t.Error("service good was created by a failed batch")
				}
			},
		},
		{
			name: "a namespace and its objects apply in one batch, objects first",
			batch: []source.Object{
				&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "later"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "later"}},
			},
		},
		{
			name:    "an object in a missing namespace names the namespace",
			batch:   []source.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "nope"}}},
			wantErr: `namespaces "nope" not found`,
		},
		{
			name:  "applying the same object again is unchanged and keeps its clusterIP",
			first: []source.Object{service("same", "", "", 0)},
			batch: []source.Object{service("same", "", "", 0)},
			check: func(t *testing.T, st *store.Store, res []Result) {
				if res[0].Action != Unchanged {
					t.Errorf("action %s, want unchanged", res[0].Action)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, st := newServer(t)
			if tc.first != nil {
				if _, err := s.Apply(tc.first, false); err != nil {
					t.Fatal(err)
				}
			}
			res, err := s.Apply(tc.batch, false)
			got := ""
			if err != nil {
				// The manifest validator's errors read as kubectl prints
				// them ("The Service ..."); allocation errors are bare.
				got = strings.TrimPrefix(err.Error(), "The ")
			}
			if got != tc.wantErr {
				t.Fatalf("error %q, want %q", got, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, st, res)
			}
		})
	}
}

func TestDeleteReleasesAndCascades(t *testing.T) {
	s, st := newServer(t)
	if _, err := s.Apply([]source.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}},
		func() *corev1.Service {
			v := service("web", "10.96.0.77", corev1.ServiceTypeNodePort, 30100)
			v.Namespace = "team"
			return v
		}(),
	}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(source.Namespace, "", "team"); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Get(source.Service, "team", "web"); ok {
		t.Fatal("deleting a namespace left its service")
	}
	// The address and port are free again.
	if _, err := s.Apply([]source.Object{service("again", "10.96.0.77", corev1.ServiceTypeNodePort, 30100)}, false); err != nil {
		t.Fatalf("reusing a released clusterIP and nodePort: %v", err)
	}
	if err := s.Delete(source.Namespace, "", "kube-system"); err == nil {
		t.Fatal("kube-system was deleted")
	}
}

func TestReapplyKeepsWhatTheClusterSet(t *testing.T) {
	s, st := newServer(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "frontend", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := s.Apply([]source.Object{pod}, false); err != nil {
		t.Fatal(err)
	}
	// The scheduler binds the pod.
	live, _ := st.Get(source.Pod, "default", "frontend")
	bound := live.DeepCopyObject().(*corev1.Pod)
	bound.Spec.NodeName = "node-a"
	if _, err := s.Update(bound); err != nil {
		t.Fatal(err)
	}
	res, err := s.Apply([]source.Object{pod}, false)
	if err != nil {
		t.Fatalf("re-applying a scheduled pod's manifest: %v", err)
	}
	if res[0].Action != Unchanged {
		t.Errorf("action %s, want unchanged", res[0].Action)
	}

	// The deployment controller records a revision on the Deployment; a
	// manifest that never named it leaves it alone.
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Annotations: map[string]string{"team": "a"}},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}}}
	if _, err := s.Apply([]source.Object{dep.DeepCopy()}, false); err != nil {
		t.Fatal(err)
	}
	liveDep, _ := st.Get(source.Deployment, "default", "web")
	revised := liveDep.DeepCopyObject().(*appsv1.Deployment)
	revised.Annotations["deployment.kubernetes.io/revision"] = "1"
	if _, err := s.Update(revised); err != nil {
		t.Fatal(err)
	}
	res, err = s.Apply([]source.Object{dep.DeepCopy()}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != Unchanged {
		t.Errorf("deployment re-apply: action %s, want unchanged", res[0].Action)
	}
	after, _ := st.Get(source.Deployment, "default", "web")
	if got := after.GetAnnotations()["deployment.kubernetes.io/revision"]; got != "1" {
		t.Errorf("revision annotation after re-apply = %q, want 1", got)
	}
	// A user's own annotation is the manifest's to remove.
	dep.Annotations = nil
	if res, _ = s.Apply([]source.Object{dep.DeepCopy()}, false); res[0].Action != Configured {
		t.Errorf("dropping a user annotation: action %s, want configured", res[0].Action)
	}
}
