package printers

import (
	"io"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/podnet/podnet/pkg/source"
)

// Related holds what kubectl describe looks up besides the object itself.
// The caller fills what it has; no events print "Events: <none>", as kubectl
// does, unless HideEvents (kubectl's --show-events=false).
type Related struct {
	Events         []corev1.Event
	HideEvents     bool
	EndpointSlices []*discoveryv1.EndpointSlice // for services: the service's slices
	ReplicaSets    []*appsv1.ReplicaSet         // for deployments: the replica sets it owns
	Pods           []*corev1.Pod                // for nodes: the pods bound to the node
}

// Describe prints `kubectl describe` for one object. Pods, services,
// endpoints, endpointslices, deployments, namespaces, networkpolicies and
// nodes follow kubectl's layout; other kinds get kubectl's common header
// (name, namespace, labels, annotations) and events only.
func Describe(w io.Writer, kind source.Kind, obj source.Object, related Related, now time.Time) error {
	d := newDescribeWriter(w)
	var err error
	switch o := obj.(type) {
	case *corev1.Pod:
		describePod(d, o, now)
	case *corev1.Service:
		describeService(d, o, related.EndpointSlices)
	case *corev1.Endpoints:
		describeEndpoints(d, o)
	case *discoveryv1.EndpointSlice:
		describeEndpointSlice(d, o)
	case *appsv1.Deployment:
		describeDeployment(d, o, related.ReplicaSets)
	case *corev1.Namespace:
		describeNamespace(d, o)
	case *networkingv1.NetworkPolicy:
		describeNetworkPolicy(d, o)
	case *corev1.Node:
		describeNode(d, o, related.Pods, now)
	default:
		describeGeneric(d, obj)
	}
	if !related.HideEvents && !noEvents(kind) {
		d.events(related.Events, now)
	}
	if ferr := d.flush(); err == nil {
		err = ferr
	}
	return err
}

// noEvents lists kinds whose kubectl describer never prints events.
func noEvents(kind source.Kind) bool {
	return kind == source.NetworkPolicy || kind == source.Namespace
}

// describeGeneric is podnet's fallback for kinds without their own layout.
func describeGeneric(d *describeWriter, obj source.Object) {
	d.write(0, "Name:\t%s\n", obj.GetName())
	if obj.GetNamespace() != "" {
		d.write(0, "Namespace:\t%s\n", obj.GetNamespace())
	}
	d.labelsMultiline("Labels", obj.GetLabels())
	d.annotationsMultiline("Annotations", obj.GetAnnotations())
}

func describeNamespace(d *describeWriter, ns *corev1.Namespace) {
	d.write(0, "Name:\t%s\n", ns.Name)
	d.labelsMultiline("Labels", ns.Labels)
	d.annotationsMultiline("Annotations", ns.Annotations)
	d.write(0, "Status:\t%s\n", string(ns.Status.Phase))
	// podnet keeps no quotas or limit ranges; kubectl says so the same way.
	d.write(0, "\n")
	d.write(0, "No resource quota.\n")
	d.write(0, "\n")
	d.write(0, "No LimitRange resource.\n")
}

func printBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
