package apiserver

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/podnet/podnet/pkg/source"
)

func localLB(name string, hc int32) *corev1.Service {
	svc := service(name, "", corev1.ServiceTypeLoadBalancer, 0)
	svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	svc.Spec.HealthCheckNodePort = hc
	return svc
}

// spec.healthCheckNodePort follows the API server: allocated from the NodePort
// range for LoadBalancer + externalTrafficPolicy Local only, kept on
// re-apply, immutable once set, wiped (and freed) when no longer needed.
func TestHealthCheckNodePort(t *testing.T) {
	cases := []struct {
		name    string
		first   []*corev1.Service
		apply   *corev1.Service
		wantErr string
		want    func(hc int32) bool
	}{
		{name: "a Local LoadBalancer gets one from the NodePort range", apply: localLB("web", 0),
			want: func(hc int32) bool { return hc >= 30000 && hc <= 32767 }},
		{name: "an explicit one is honoured", apply: localLB("web", 31999),
			want: func(hc int32) bool { return hc == 31999 }},
		{name: "a Cluster LoadBalancer gets none", apply: service("web", "", corev1.ServiceTypeLoadBalancer, 0),
			want: func(hc int32) bool { return hc == 0 }},
		{name: "setting it on a Cluster LoadBalancer is refused",
			apply: func() *corev1.Service {
				s := service("web", "", corev1.ServiceTypeLoadBalancer, 0)
				s.Spec.HealthCheckNodePort = 31000
				return s
			}(),
			wantErr: "spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"},
		{name: "one outside the range is refused", apply: localLB("web", 40000),
			wantErr: `spec.healthCheckNodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid ports is 30000-32767`},
		{name: "one used as a nodePort is refused", first: []*corev1.Service{service("np", "", corev1.ServiceTypeNodePort, 31500)},
			apply: localLB("web", 31500), wantErr: `spec.healthCheckNodePort: Invalid value: 31500: provided port is already allocated`},
		{name: "re-applying without it keeps the allocated one", first: []*corev1.Service{localLB("web", 31234)},
			apply: localLB("web", 0), want: func(hc int32) bool { return hc == 31234 }},
		{name: "changing it is refused", first: []*corev1.Service{localLB("web", 31234)},
			apply: localLB("web", 31235), wantErr: `spec.healthCheckNodePort: Forbidden: field is immutable`},
		{name: "switching to Cluster wipes it", first: []*corev1.Service{localLB("web", 31234)},
			apply: service("web", "", corev1.ServiceTypeLoadBalancer, 0), want: func(hc int32) bool { return hc == 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, st := newServer(t)
			for _, f := range tc.first {
				if _, err := s.Apply([]source.Object{f}, false); err != nil {
					t.Fatal(err)
				}
			}
			_, err := s.Apply([]source.Object{tc.apply}, false)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			o, _ := st.Get(source.Service, "default", tc.apply.Name)
			if hc := o.(*corev1.Service).Spec.HealthCheckNodePort; !tc.want(hc) {
				t.Errorf("healthCheckNodePort %d", hc)
			}
		})
	}
}

// A freed health check port can be taken again: wiping and deleting release it.
func TestHealthCheckNodePortReleased(t *testing.T) {
	s, _ := newServer(t)
	must := func(o *corev1.Service) {
		t.Helper()
		if _, err := s.Apply([]source.Object{o}, false); err != nil {
			t.Fatal(err)
		}
	}
	must(localLB("web", 31234))
	must(service("web", "", corev1.ServiceTypeLoadBalancer, 0)) // wiped
	must(service("np", "", corev1.ServiceTypeNodePort, 31234))
	if err := s.Delete(source.Service, "default", "np"); err != nil {
		t.Fatal(err)
	}
	must(localLB("other", 31234))
	if err := s.Delete(source.Service, "default", "other"); err != nil {
		t.Fatal(err)
	}
	must(localLB("third", 31234))
}
