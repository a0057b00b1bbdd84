package manifest

import (
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestSeed000 reads the manifests of seed 000 (the DNS and NetworkPolicy
// walkthrough), re-indented from the tutorial, as a user would apply them.
func TestSeed000(t *testing.T) {
	cases := []struct {
		name  string
		file  string
		check func(t *testing.T, objs []any)
	}{
		{"the backend Deployment runs one nginx pod labelled app=backend", "backend-deployment.yaml", func(t *testing.T, objs []any) {
			d := objs[0].(*appsv1.Deployment)
			if *d.Spec.Replicas != 1 || d.Spec.Template.Labels["app"] != "backend" || d.Spec.Template.Spec.Containers[0].Image != "nginx" {
				t.Errorf("unexpected deployment %+v", d.Spec)
			}
		}},
		{"the backend Service sends TCP port 80 to port 80 of app=backend", "backend-service.yaml", func(t *testing.T, objs []any) {
			s := objs[0].(*corev1.Service)
			p := s.Spec.Ports[0]
			if s.Spec.Type != corev1.ServiceTypeClusterIP || p.Port != 80 || p.TargetPort != intstr.FromInt32(80) || s.Spec.Selector["app"] != "backend" {
				t.Errorf("unexpected service %+v", s.Spec)
			}
		}},
		{"the frontend Pod sleeps in a curl image", "frontend-pod.yaml", func(t *testing.T, objs []any) {
			p := objs[0].(*corev1.Pod)
			if c := p.Spec.Containers[0]; c.Image != "curlimages/curl" || len(c.Command) != 2 || p.Spec.DNSPolicy != corev1.DNSClusterFirst {
				t.Errorf("unexpected pod %+v", p.Spec)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := ReadPaths([]string{filepath.Join("testdata", "seed000", tc.file)}, false, nil)
			if err != nil {
				t.Fatalf("ReadPaths: %v", err)
			}
			if len(objs) != 1 {
				t.Fatalf("got %d objects, want 1", len(objs))
			}
			Default(objs[0])
			if err := ValidationError(objs[0], Validate(objs[0], Options{})); err != nil {
				t.Fatalf("invalid: %v", err)
			}
			tc.check(t, []any{objs[0]})
		})
	}
	t.Run("the seed directory reads as three objects in file order", func(t *testing.T) {
		objs, err := ReadPaths([]string{filepath.Join("testdata", "seed000")}, false, nil)
		if err != nil || len(objs) != 3 {
			t.Fatalf("got %d objects, err %v", len(objs), err)
		}
		if objs[0].GetName() != "backend" || objs[2].GetName() != "frontend" {
			t.Errorf("order: %s, %s, %s", objs[0].GetName(), objs[1].GetName(), objs[2].GetName())
		}
	})
}
