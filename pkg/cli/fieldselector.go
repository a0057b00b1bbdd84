package cli

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/podnet/podnet/pkg/source"
)

// objectFields are the fields the API server lets a field selector match
// on objects of one kind (metadata.name and metadata.namespace for all).
func objectFields(o source.Object) fields.Set {
	set := fields.Set{"metadata.name": o.GetName(), "metadata.namespace": o.GetNamespace()}
	switch t := o.(type) {
	case *corev1.Pod:
		set["spec.nodeName"] = t.Spec.NodeName
		set["spec.restartPolicy"] = string(t.Spec.RestartPolicy)
		set["spec.schedulerName"] = t.Spec.SchedulerName
		set["spec.serviceAccountName"] = t.Spec.ServiceAccountName
		set["spec.hostNetwork"] = fmt.Sprint(t.Spec.HostNetwork)
		set["status.phase"] = string(t.Status.Phase)
		set["status.podIP"] = t.Status.PodIP
		set["status.nominatedNodeName"] = t.Status.NominatedNodeName
	case *corev1.Event:
		set["involvedObject.kind"] = t.InvolvedObject.Kind
		set["involvedObject.namespace"] = t.InvolvedObject.Namespace
		set["involvedObject.name"] = t.InvolvedObject.Name
		set["involvedObject.uid"] = string(t.InvolvedObject.UID)
		set["involvedObject.apiVersion"] = t.InvolvedObject.APIVersion
		set["involvedObject.resourceVersion"] = t.InvolvedObject.ResourceVersion
		set["involvedObject.fieldPath"] = t.InvolvedObject.FieldPath
		set["reason"] = t.Reason
		set["reportingComponent"] = t.ReportingController
		set["source"] = t.Source.Component
		set["type"] = t.Type
	case *corev1.Node:
		set["spec.unschedulable"] = fmt.Sprint(t.Spec.Unschedulable)
	case *corev1.Secret:
		set["type"] = string(t.Type)
	case *corev1.Namespace:
		set["status.phase"] = string(t.Status.Phase)
	}
	return set
}

// fieldFilter parses a --field-selector for kind k and returns a matcher;
// a field the kind does not have is an error, as the API server answers.
func fieldFilter(selector string, k source.Kind) (func(source.Object) bool, error) {
	if selector == "" {
		return func(source.Object) bool { return true }, nil
	}
	sel, err := fields.ParseSelector(selector)
	if err != nil {
		return nil, fmt.Errorf("invalid field selector %q: %v", selector, err)
	}
	probe, err := source.New(k)
	if err != nil {
		return nil, err
	}
	known := objectFields(probe)
	for _, r := range sel.Requirements() {
		if _, ok := known[r.Field]; !ok {
			return nil, fmt.Errorf("Error from server (BadRequest): Unable to find \"%s\" that match label selector \"\", field selector \"%s\": field label not supported: %s",
				source.Resource(k).String(), selector, r.Field)
		}
	}
	return func(o source.Object) bool { return sel.Matches(objectFields(o)) }, nil
}
