package cli

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestParsePortPair(t *testing.T) {
	for _, tc := range []struct {
		arg     string
		want    portPair
		wantErr bool
	}{
		{arg: "8080:80", want: portPair{local: 8080, remote: 80}},
		{arg: "80", want: portPair{local: 80, remote: 80}},
		{arg: ":80", want: portPair{local: 0, remote: 80}},
		{arg: "0:80", want: portPair{local: 0, remote: 80}},
		{arg: "8080:http", want: portPair{local: 8080, name: "http"}},
		{arg: "http", wantErr: true}, // a name needs a local port
		{arg: "8080:0", wantErr: true},
		{arg: "8080:70000", wantErr: true},
		{arg: "x:80", wantErr: true},
		{arg: "70000:80", wantErr: true},
		{arg: "8080:", wantErr: true},
	} {
		got, err := parsePortPair(tc.arg)
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: error %v, want error %v", tc.arg, err, tc.wantErr)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.arg, got, tc.want)
		}
	}
}

func TestPodPortFollowsTheService(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1"}, Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}}},
	}}}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
		{Name: "web", Port: 80, TargetPort: intstr.FromString("http")},
		{Name: "mon", Port: 9000, TargetPort: intstr.FromInt32(9090)},
		{Name: "same", Port: 7000},
		{Name: "gone", Port: 6000, TargetPort: intstr.FromString("nope")},
	}}}
	for _, tc := range []struct {
		name    string
		svc     *corev1.Service
		pair    portPair
		want    int
		wantErr bool
	}{
		{name: "pod: port as given", pair: portPair{remote: 1234}, want: 1234},
		{name: "pod: container port by name", pair: portPair{name: "metrics"}, want: 9090},
		{name: "pod: unknown name", pair: portPair{name: "grpc"}, wantErr: true},
		{name: "service: named targetPort", svc: svc, pair: portPair{remote: 80}, want: 8080},
		{name: "service: numeric targetPort", svc: svc, pair: portPair{remote: 9000}, want: 9090},
		{name: "service: no targetPort means the port", svc: svc, pair: portPair{remote: 7000}, want: 7000},
		{name: "service: port by its name", svc: svc, pair: portPair{name: "mon"}, want: 9090},
		{name: "service: no such port", svc: svc, pair: portPair{remote: 81}, wantErr: true},
		{name: "service: targetPort names no container port", svc: svc, pair: portPair{remote: 6000}, wantErr: true},
	} {
		got, err := podPort(pod, tc.svc, tc.pair)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("%s: port %d, want %d", tc.name, got, tc.want)
		}
	}
}
