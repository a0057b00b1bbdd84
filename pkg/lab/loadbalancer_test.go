package lab

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/podnet/podnet/pkg/source"
)

func lbService(name string, typ corev1.ServiceType, ingress ...string) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name)},
		Spec: corev1.ServiceSpec{Type: typ}}
	for _, ip := range ingress {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	return s
}

func TestLoadBalancerIngress(t *testing.T) {
	pool := netip.MustParsePrefix("10.0.0.0/29") // usable: .1 to .6
	others := []source.Object{
		lbService("a", corev1.ServiceTypeLoadBalancer, "10.0.0.1"),
		lbService("b", corev1.ServiceTypeLoadBalancer, "10.0.0.2"),
	}
	full := append([]source.Object{}, others...)
	for _, ip := range []string{"10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"} {
		full = append(full, lbService("x"+ip, corev1.ServiceTypeLoadBalancer, ip))
	}
	withIP := func(s *corev1.Service, ip string) *corev1.Service { s.Spec.LoadBalancerIP = ip; return s }
	withClass := func(s *corev1.Service) *corev1.Service {
		s.Spec.LoadBalancerClass = ptr.To("example.com/other")
		return s
	}
	for _, tc := range []struct {
		name    string
		svc     *corev1.Service
		others  []source.Object
		want    string // "" = no ingress
		wantErr bool
	}{
		{name: "ClusterIP gets none", svc: lbService("s", corev1.ServiceTypeClusterIP), others: others},
		{name: "a former LoadBalancer loses its address", svc: lbService("s", corev1.ServiceTypeNodePort, "10.0.0.3"), others: others},
		{name: "lowest free address", svc: lbService("s", corev1.ServiceTypeLoadBalancer), others: others, want: "10.0.0.3"},
		{name: "keeps its address", svc: lbService("s", corev1.ServiceTypeLoadBalancer, "10.0.0.5"), others: others, want: "10.0.0.5"},
		{name: "an address another Service also holds is replaced", svc: lbService("s", corev1.ServiceTypeLoadBalancer, "10.0.0.1"), others: others, want: "10.0.0.3"},
		{name: "an address outside the pool is replaced", svc: lbService("s", corev1.ServiceTypeLoadBalancer, "192.0.2.1"), others: others, want: "10.0.0.3"},
		{name: "the network address is not handed out", svc: lbService("s", corev1.ServiceTypeLoadBalancer, "10.0.0.0"), others: nil, want: "10.0.0.1"},
		{name: "the broadcast address is not handed out", svc: lbService("s", corev1.ServiceTypeLoadBalancer, "10.0.0.7"), others: nil, want: "10.0.0.1"},
		{name: "requested loadBalancerIP", svc: withIP(lbService("s", corev1.ServiceTypeLoadBalancer), "10.0.0.6"), others: others, want: "10.0.0.6"},
		{name: "requested address taken", svc: withIP(lbService("s", corev1.ServiceTypeLoadBalancer), "10.0.0.2"), others: others, wantErr: true},
		{name: "requested address outside the pool", svc: withIP(lbService("s", corev1.ServiceTypeLoadBalancer), "192.0.2.1"), others: others, wantErr: true},
		{name: "pool exhausted", svc: lbService("s", corev1.ServiceTypeLoadBalancer), others: full, wantErr: true},
		{name: "another controller's class is left alone", svc: withClass(lbService("s", corev1.ServiceTypeLoadBalancer)), others: others},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &loadBalancers{src: source.NewStatic(append([]source.Object{tc.svc}, tc.others...)...), pool: pool}
			got, err := l.ingressFor(tc.svc)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("ingress %v, want none", got)
			case tc.want != "" && (len(got) != 1 || got[0].IP != tc.want):
				t.Errorf("ingress %v, want %s", got, tc.want)
			case tc.want != "" && (got[0].IPMode == nil || *got[0].IPMode != corev1.LoadBalancerIPModeVIP):
				t.Errorf("ingress %v should have ipMode VIP", got)
			}
		})
	}
}

func TestNodeNamesFollowKind(t *testing.T) {
	for i, want := range []string{"lab-control-plane", "lab-worker", "lab-worker2", "lab-worker3"} {
		if got := NodeName("lab", i); got != want {
			t.Errorf("NodeName(lab, %d) = %q, want %q", i, got, want)
		}
	}
}

func TestShapeIsKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	sh, err := loadShape(dir, 0)
	if err != nil || sh.Nodes != 1 {
		t.Fatalf("new lab with no count: %+v %v, want 1 node", sh, err)
	}
	dir = t.TempDir()
	if sh, err = loadShape(dir, 3); err != nil || sh.Nodes != 3 {
		t.Fatalf("new lab with 3: %+v %v", sh, err)
	}
	if sh, err = loadShape(dir, 0); err != nil || sh.Nodes != 3 {
		t.Errorf("restart without a count: %+v %v, want the recorded 3", sh, err)
	}
	if _, err = loadShape(dir, 2); err == nil {
		t.Errorf("restart asking for 2 nodes of a 3-node lab should be refused")
	}
	if err := CheckNodes(t.TempDir(), MaxNodes+1); err == nil {
		t.Errorf("more than MaxNodes should be refused")
	}
}
