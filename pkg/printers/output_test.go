package printers

import (
	"bytes"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/podnet/podnet/pkg/source"
)

func TestPrintNames(t *testing.T) {
	tests := []struct {
		name string
		kind source.Kind
		objs []source.Object
		want string
	}{
		{
			name: "pods are pod/name in list order",
			kind: source.Pod,
			objs: []source.Object{
				runningPod("default", "frontend", "10.244.0.5", "n", time.Hour, nil),
				runningPod("default", "backend", "10.244.0.6", "n", time.Hour, nil),
			},
			want: "pod/backend\npod/frontend\n",
		},
		{
			name: "grouped kinds carry their API group",
			kind: source.Deployment,
			objs: []source.Object{deployment("default", "backend", 1, 1, 1, 1, time.Hour)},
			want: "deployment.apps/backend\n",
		},
		{
			name: "endpointslices are in discovery.k8s.io",
			kind: source.EndpointSlice,
			objs: []source.Object{slice("default", "backend-abcde", "backend", nil)},
			want: "endpointslice.discovery.k8s.io/backend-abcde\n",
		},
		{
			name: "networkpolicies are in networking.k8s.io",
			kind: source.NetworkPolicy,
			objs: []source.Object{netpol("default", "x", time.Hour, networkingv1.NetworkPolicySpec{})},
			want: "networkpolicy.networking.k8s.io/x\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := PrintNames(&buf, tc.kind, tc.objs); err != nil {
				t.Fatal(err)
			}
			checkOutput(t, buf.String(), tc.want)
		})
	}
}

func TestPrintJSONPath(t *testing.T) {
	svc := clusterIPService("default", "web", "10.96.12.34", time.Hour, map[string]string{"app": "web"}, tcpPort("http", 80, 8080))
	web := runningPod("default", "web-1", "10.244.1.5", "lab-worker", time.Hour, nil)
	api := runningPod("default", "api-1", "10.244.1.6", "lab-worker", time.Hour, nil)
	tests := []struct {
		name     string
		template string
		objs     []source.Object
		asList   bool
		want     string
	}{
		{
			name: "a single object is the template's root", template: "{.spec.clusterIP}",
			objs: []source.Object{svc}, want: "10.96.12.34",
		},
		{
			name: "apiVersion and kind are set on typed objects", template: "{.apiVersion} {.kind}",
			objs: []source.Object{deployment("default", "web", 1, 1, 1, 1, time.Hour)}, want: "apps/v1 Deployment",
		},
		{
			name: "a list is a v1 List with items", template: "{.kind} {.items[*].metadata.name}",
			objs: []source.Object{web, api}, asList: true, want: "List web-1 api-1",
		},
		{
			name: "range prints one line per item", template: `{range .items[*]}{.metadata.name}{"\t"}{.status.podIP}{"\n"}{end}`,
			objs: []source.Object{web, api}, asList: true, want: "web-1\t10.244.1.5\napi-1\t10.244.1.6\n",
		},
		{
			name: "missing keys print nothing", template: "{.spec.externalName}",
			objs: []source.Object{svc}, want: "",
		},
		{
			name: "filters select list items", template: `{.spec.ports[?(@.name=="http")].targetPort}`,
			objs: []source.Object{svc}, want: "8080",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := PrintJSONPath(&buf, tc.template, tc.objs, tc.asList); err != nil {
				t.Fatal(err)
			}
			checkOutput(t, buf.String(), tc.want)
		})
	}
}

func TestPrintJSONPathRejectsBadTemplate(t *testing.T) {
	err := PrintJSONPath(&bytes.Buffer{}, "{.items[", nil, true)
	if err == nil || !strings.Contains(err.Error(), "error parsing jsonpath") {
		t.Fatalf("got %v, want a parse error", err)
	}
}

func TestEndpointsFromSlices(t *testing.T) {
	svc := clusterIPService("default", "web", "10.96.12.34", time.Hour, map[string]string{"app": "web"}, tcpPort("http", 80, 8080))
	svc.Labels = map[string]string{"app": "web"}
	terminating := endpoint("10.244.1.9", false)
	terminating.Conditions.Terminating = ptr(true)
	tests := []struct {
		name   string
		slices []*discoveryv1.EndpointSlice
		want   []corev1.EndpointSubset
	}{
		{
			name:   "no slices give no subsets",
			slices: nil,
			want:   nil,
		},
		{
			name: "ready endpoints are addresses and not-ready ones notReadyAddresses, sorted by IP",
			slices: []*discoveryv1.EndpointSlice{slice("default", "web-a", "web", []discoveryv1.EndpointPort{slicePort("http", 8080)},
				endpoint("10.244.2.3", true), endpoint("10.244.1.5", true), endpoint("10.244.1.7", false))},
			want: []corev1.EndpointSubset{{
				Addresses:         []corev1.EndpointAddress{{IP: "10.244.1.5"}, {IP: "10.244.2.3"}},
				NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.244.1.7"}},
				Ports:             []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}},
			}},
		},
		{
			name: "slices with the same ports merge and terminating endpoints are dropped",
			slices: []*discoveryv1.EndpointSlice{
				slice("default", "web-a", "web", []discoveryv1.EndpointPort{slicePort("http", 8080)}, endpoint("10.244.1.5", true)),
				slice("default", "web-b", "web", []discoveryv1.EndpointPort{slicePort("http", 8080)}, endpoint("10.244.0.4", true), terminating),
			},
			want: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{{IP: "10.244.0.4"}, {IP: "10.244.1.5"}},
				Ports:     []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}},
			}},
		},
		{
			name: "slices of another service or namespace are ignored",
			slices: []*discoveryv1.EndpointSlice{
				slice("default", "api-a", "api", []discoveryv1.EndpointPort{slicePort("http", 8080)}, endpoint("10.244.1.5", true)),
				slice("other", "web-a", "web", []discoveryv1.EndpointPort{slicePort("http", 8080)}, endpoint("10.244.1.6", true)),
			},
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ep := EndpointsFromSlices(svc, tc.slices)
			if ep.Name != "web" || ep.Namespace != "default" || ep.Labels["app"] != "web" || ep.Labels[labelSkipMirror] != "true" {
				t.Errorf("metadata = %+v", ep.ObjectMeta)
			}
			if got, want := subsetsString(ep.Subsets), subsetsString(tc.want); got != want {
				t.Errorf("subsets\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

func subsetsString(ss []corev1.EndpointSubset) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString("[ready:")
		for _, a := range s.Addresses {
			b.WriteString(" " + a.IP)
		}
		b.WriteString(" notready:")
		for _, a := range s.NotReadyAddresses {
			b.WriteString(" " + a.IP)
		}
		b.WriteString(" ports:")
		for _, p := range s.Ports {
			b.WriteString(" " + p.Name + "/" + string(p.Protocol) + "/" + itoa(p.Port))
		}
		b.WriteString("]")
	}
	return b.String()
}

func TestEndpointsTableFromSlices(t *testing.T) {
	svc := clusterIPService("default", "web", "10.96.12.34", time.Hour, map[string]string{"app": "web"}, tcpPort("", 80, 80))
	sl := slice("default", "web-a", "web", []discoveryv1.EndpointPort{slicePort("", 80)},
		endpoint("10.244.0.5", true), endpoint("10.244.0.6", true), endpoint("10.244.0.7", false))
	var buf bytes.Buffer
	ep := EndpointsFromSlices(svc, []*discoveryv1.EndpointSlice{sl})
	if err := PrintTable(&buf, EndpointsKind, []source.Object{ep}, Options{Now: testNow}); err != nil {
		t.Fatal(err)
	}
	checkOutput(t, buf.String(), golden(`
NAME   ENDPOINTS                     AGE
web    10.244.0.5:80,10.244.0.6:80   60m
`))
}
