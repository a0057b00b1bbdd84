package printers

import (
	"testing"

	"github.com/podnet/podnet/pkg/source"
)

func TestResolveKind(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want source.Kind
	}{
		{"pods by plural, singular, short and kind name", []string{"pods", "pod", "po", "Pod", "PODS"}, source.Pod},
		{"services", []string{"services", "service", "svc"}, source.Service},
		{"legacy endpoints", []string{"endpoints", "ep"}, EndpointsKind},
		{"endpointslices with and without group", []string{"endpointslices", "endpointslice", "endpointslices.discovery.k8s.io"}, source.EndpointSlice},
		{"namespaces", []string{"namespaces", "namespace", "ns"}, source.Namespace},
		{"nodes", []string{"nodes", "node", "no"}, source.Node},
		{"deployments with group and version", []string{"deployments", "deployment", "deploy", "deployment.apps", "deployments.apps", "deployments.v1.apps"}, source.Deployment},
		{"replicasets", []string{"replicasets", "replicaset", "rs"}, source.ReplicaSet},
		{"statefulsets", []string{"statefulsets", "statefulset", "sts"}, source.StatefulSet},
		{"networkpolicies", []string{"networkpolicies", "networkpolicy", "netpol", "networkpolicies.networking.k8s.io"}, source.NetworkPolicy},
		{"ingresses", []string{"ingresses", "ingress", "ing"}, source.Ingress},
		{"configmaps", []string{"configmaps", "configmap", "cm"}, source.ConfigMap},
		{"secrets", []string{"secrets", "secret"}, source.Secret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, arg := range tc.args {
				got, err := ResolveKind(arg)
				if err != nil || got != tc.want {
					t.Errorf("ResolveKind(%q) = %q, %v; want %q", arg, got, err, tc.want)
				}
			}
		})
	}
}

func TestResolveKindUnknown(t *testing.T) {
	tests := []struct {
		name string
		arg  string
	}{
		{"an unknown name", "foo"},
		{"a core kind with a wrong group", "pods.apps"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ResolveKind(tc.arg)
			want := `the server doesn't have a resource type "` + tc.arg + `"`
			if err == nil || err.Error() != want {
				t.Errorf("got %v, want %s", err, want)
			}
		})
	}
}

func TestResourceNameAndKindPrefix(t *testing.T) {
	tests := []struct {
		name     string
		kind     source.Kind
		resource string
		prefix   string
	}{
		{"core kinds have no group", source.Pod, "pods", "pod"},
		{"services", source.Service, "services", "service"},
		{"namespaces", source.Namespace, "namespaces", "namespace"},
		{"nodes", source.Node, "nodes", "node"},
		{"configmaps", source.ConfigMap, "configmaps", "configmap"},
		{"secrets", source.Secret, "secrets", "secret"},
		{"legacy endpoints", EndpointsKind, "endpoints", "endpoints"},
		{"apps kinds carry apps", source.Deployment, "deployments.apps", "deployment.apps"},
		{"replicasets", source.ReplicaSet, "replicasets.apps", "replicaset.apps"},
		{"statefulsets", source.StatefulSet, "statefulsets.apps", "statefulset.apps"},
		{"endpointslices carry discovery.k8s.io", source.EndpointSlice, "endpointslices.discovery.k8s.io", "endpointslice.discovery.k8s.io"},
		{"networkpolicies carry networking.k8s.io", source.NetworkPolicy, "networkpolicies.networking.k8s.io", "networkpolicy.networking.k8s.io"},
		{"ingresses", source.Ingress, "ingresses.networking.k8s.io", "ingress.networking.k8s.io"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ResourceName(tc.kind); got != tc.resource {
				t.Errorf("ResourceName = %q, want %q", got, tc.resource)
			}
			if got := KindPrefix(tc.kind); got != tc.prefix {
				t.Errorf("KindPrefix = %q, want %q", got, tc.prefix)
			}
		})
	}
}
