// Package source is the seam between cluster state and everything that reads it.
//
// Controllers and consumers (node agent, proxy, DNS, policy) see only Source: a
// list of objects by kind plus change notifications, like a set of client-go
// informers. The embedded store provides it in the lab, the lab API client
// provides it to processes inside pods, and client-go informers can provide it
// against a real API server. Nothing above this package knows which it has.
package source

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object is a Kubernetes object from k8s.io/api (a *corev1.Pod, *corev1.Service, ...).
// Objects handed out by a Source are shared: treat them as read-only, as with an
// informer cache, and DeepCopy before changing one.
type Object interface {
	metav1.Object
	runtime.Object
}

// Kind names an object kind, as in the manifest's "kind" field.
type Kind string

const (
	Namespace     Kind = "Namespace"
	Node          Kind = "Node"
	Pod           Kind = "Pod"
	Service       Kind = "Service"
	EndpointSlice Kind = "EndpointSlice"
	Deployment    Kind = "Deployment"
	ReplicaSet    Kind = "ReplicaSet"
	StatefulSet   Kind = "StatefulSet"
	NetworkPolicy Kind = "NetworkPolicy"
	Ingress       Kind = "Ingress"
	ConfigMap     Kind = "ConfigMap"
	Secret        Kind = "Secret"
	// EventKind is core/v1 Event, what components report about objects
	// (named apart from Event, a change delivered to subscribers).
	EventKind Kind = "Event"
	// AdminNetworkPolicy and BaselineAdminNetworkPolicy are the
	// cluster-scoped policy.networking.k8s.io/v1alpha1 kinds.
	AdminNetworkPolicy         Kind = "AdminNetworkPolicy"
	BaselineAdminNetworkPolicy Kind = "BaselineAdminNetworkPolicy"
)

// Kinds lists every kind podnet keeps, in the order objects of one apply are
// created (namespaces first, as kubectl users expect).
var Kinds = []Kind{Namespace, Node, ConfigMap, Secret, Service, EndpointSlice,
	Deployment, ReplicaSet, StatefulSet, Pod, NetworkPolicy, AdminNetworkPolicy,
	BaselineAdminNetworkPolicy, Ingress, EventKind}

// Namespaced reports whether objects of kind k live in a namespace.
func Namespaced(k Kind) bool {
	return k != Namespace && k != Node && k != AdminNetworkPolicy && k != BaselineAdminNetworkPolicy
}

// EventType says what happened to an object.
type EventType string

const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
)

// Event is one change. For Deleted, Object is the last state seen.
type Event struct {
	Type   EventType `json:"type"`
	Kind   Kind      `json:"kind"`
	Object Object    `json:"-"`
}

// Source is an informer-like view of cluster state.
type Source interface {
	// List returns every object of kind k, in all namespaces.
	List(k Kind) []Object
	// Get returns one object; namespace is "" for cluster-scoped kinds.
	Get(k Kind, namespace, name string) (Object, bool)
	// Subscribe calls fn for every change after it returns. fn runs on the
	// source's delivery goroutine, in order: it must not block for long.
	// The returned function stops delivery.
	Subscribe(fn func(Event)) (cancel func())
	// HasSynced is true once List reflects the whole state (always, for the
	// embedded store; after the first list, for a remote one).
	HasSynced() bool
}

// Key is "namespace/name", or "name" for cluster-scoped objects, as client-go's
// MetaNamespaceKeyFunc makes it.
func Key(o metav1.Object) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}

// Resource is the API resource of kind k, as API errors name it
// (`pods "x" not found`, `deployments.apps "web" not found`).
func Resource(k Kind) schema.GroupResource {
	switch k {
	case Deployment, ReplicaSet, StatefulSet:
		return schema.GroupResource{Group: "apps", Resource: resourceNames[k]}
	case EndpointSlice:
		return schema.GroupResource{Group: "discovery.k8s.io", Resource: resourceNames[k]}
	case NetworkPolicy, Ingress:
		return schema.GroupResource{Group: "networking.k8s.io", Resource: resourceNames[k]}
	case AdminNetworkPolicy, BaselineAdminNetworkPolicy:
		return schema.GroupResource{Group: "policy.networking.k8s.io", Resource: resourceNames[k]}
	}
	return schema.GroupResource{Resource: resourceNames[k]}
}

// GroupVersionKind is the API version and kind objects of k are written with.
func GroupVersionKind(k Kind) schema.GroupVersionKind {
	gr := Resource(k)
	version := "v1"
	if k == AdminNetworkPolicy || k == BaselineAdminNetworkPolicy {
		version = "v1alpha1"
	}
	return schema.GroupVersionKind{Group: gr.Group, Version: version, Kind: string(k)}
}

var resourceNames = map[Kind]string{
	Namespace: "namespaces", Node: "nodes", Pod: "pods", Service: "services",
	EndpointSlice: "endpointslices", Deployment: "deployments", ReplicaSet: "replicasets",
	StatefulSet: "statefulsets", NetworkPolicy: "networkpolicies", Ingress: "ingresses",
	ConfigMap: "configmaps", Secret: "secrets", EventKind: "events",
	AdminNetworkPolicy: "adminnetworkpolicies", BaselineAdminNetworkPolicy: "baselineadminnetworkpolicies",
}

// Writer changes cluster state. The lab's API layer implements it (with
// defaulting, validation and allocation); a client-go clientset can too.
type Writer interface {
	Create(o Object) (Object, error)
	// Update replaces an object; a non-empty resourceVersion must match.
	Update(o Object) (Object, error)
	Delete(k Kind, namespace, name string) error
}
