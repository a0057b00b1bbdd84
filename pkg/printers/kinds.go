package printers

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/podnet/podnet/pkg/source"
)

// EndpointsKind is the legacy v1 Endpoints view. podnet keeps only
// EndpointSlices; `get endpoints` shows what the endpoints mirroring would
// produce from them (see EndpointsFromSlices).
const EndpointsKind source.Kind = "Endpoints"

// kindInfo is what kubectl's RESTMapper knows about one kind.
type kindInfo struct {
	group    string
	version  string
	resource string   // plural, as in URLs and NotFound errors
	names    []string // singular and short names accepted on the command line
}

// kindTable is read-only after construction; a function keeps it out of
// package state.
func kindTable() map[source.Kind]kindInfo {
	return map[source.Kind]kindInfo{
		source.Pod:           {"", "v1", "pods", []string{"pod", "po"}},
		source.Service:       {"", "v1", "services", []string{"service", "svc"}},
		EndpointsKind:        {"", "v1", "endpoints", []string{"ep"}},
		source.Namespace:     {"", "v1", "namespaces", []string{"namespace", "ns"}},
		source.Node:          {"", "v1", "nodes", []string{"node", "no"}},
		source.ConfigMap:     {"", "v1", "configmaps", []string{"configmap", "cm"}},
		source.Secret:        {"", "v1", "secrets", []string{"secret"}},
		source.EventKind:     {"", "v1", "events", []string{"event", "ev"}},
		source.EndpointSlice: {"discovery.k8s.io", "v1", "endpointslices", []string{"endpointslice"}},
		source.Deployment:    {"apps", "v1", "deployments", []string{"deployment", "deploy"}},
		source.ReplicaSet:    {"apps", "v1", "replicasets", []string{"replicaset", "rs"}},
		source.StatefulSet:   {"apps", "v1", "statefulsets", []string{"statefulset", "sts"}},
		source.NetworkPolicy: {"networking.k8s.io", "v1", "networkpolicies", []string{"networkpolicy", "netpol"}},
		source.Ingress:       {"networking.k8s.io", "v1", "ingresses", []string{"ingress", "ing"}},
		source.AdminNetworkPolicy: {"policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies",
			[]string{"adminnetworkpolicy", "anp"}},
		source.BaselineAdminNetworkPolicy: {"policy.networking.k8s.io", "v1alpha1", "baselineadminnetworkpolicies",
			[]string{"baselineadminnetworkpolicy", "banp"}},
	}
}

// ResolveKind maps a kubectl resource argument ("po", "svc", "deployments.apps",
// "networkpolicy.networking.k8s.io", "Pod") to a kind. Unknown names give
// kubectl's error text.
func ResolveKind(arg string) (source.Kind, error) {
	name := strings.ToLower(arg)
	for kind, info := range kindTable() {
		candidates := append([]string{info.resource, strings.ToLower(string(kind))}, info.names...)
		for _, c := range candidates {
			if name == c {
				return kind, nil
			}
			// kubectl accepts resource.group and resource.version.group too.
			if info.group != "" && (name == c+"."+info.group || name == c+"."+info.version+"."+info.group) {
				return kind, nil
			}
			if info.group == "" && name == c+"."+info.version {
				return kind, nil
			}
		}
	}
	return "", fmt.Errorf("the server doesn't have a resource type %q", arg)
}

// ResourceName is the plural resource with its group, as kubectl prints it in
// `Error from server (NotFound): deployments.apps "x" not found`.
func ResourceName(kind source.Kind) string {
	info, ok := kindTable()[kind]
	if !ok {
		return strings.ToLower(string(kind))
	}
	if info.group == "" {
		return info.resource
	}
	return info.resource + "." + info.group
}

// KindPrefix is the lower-case kind with its group, as in `-o name` and in
// success lines such as "deployment.apps/web created".
func KindPrefix(kind source.Kind) string {
	return strings.ToLower(groupKind(kind).String())
}

func groupKind(kind source.Kind) schema.GroupKind {
	return schema.GroupKind{Group: kindTable()[kind].group, Kind: string(kind)}
}

// groupVersionKind is what apiVersion/kind of an object of this kind say.
func groupVersionKind(kind source.Kind) schema.GroupVersionKind {
	info, ok := kindTable()[kind]
	if !ok {
		return schema.GroupVersionKind{Kind: string(kind)}
	}
	return schema.GroupVersionKind{Group: info.group, Version: info.version, Kind: string(kind)}
}

// ResourceNames lists the plural resource names kubectl completes for
// TYPE arguments.
func ResourceNames() []string {
	var names []string
	for _, info := range kindTable() {
		names = append(names, info.resource)
	}
	slices.Sort(names)
	return names
}
