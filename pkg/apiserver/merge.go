package apiserver

import (
	"reflect"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/podnet/podnet/pkg/source"
)

// merge is apply's update: the manifest's labels, annotations and desired
// state replace the stored ones, while what the cluster filled in (uid,
// status, allocations, which allocate() keeps) stays.
func merge(k source.Kind, old, want source.Object) source.Object {
	out := old.DeepCopyObject().(source.Object)
	out.SetLabels(want.GetLabels())
	out.SetAnnotations(want.GetAnnotations())
	ov, wv := reflect.ValueOf(out).Elem(), reflect.ValueOf(want).Elem()
	for _, f := range []string{"Spec", "Data", "StringData", "BinaryData", "Type", "Immutable", "AddressType", "Endpoints", "Ports"} {
		if dst := ov.FieldByName(f); dst.IsValid() && dst.CanSet() {
			dst.Set(wv.FieldByName(f))
		}
	}
	if k == source.Namespace {
		// The namespace name label is the API server's, not the user's.
		l := out.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		l["kubernetes.io/metadata.name"] = out.GetName()
		out.SetLabels(l)
	}
	return out
}

// changed reports whether writing want over old would change anything a
// user asked for (kubectl's "configured" versus "unchanged").
func changed(old, want source.Object) bool {
	if !apiequality.Semantic.DeepEqual(old.GetLabels(), want.GetLabels()) ||
		!apiequality.Semantic.DeepEqual(old.GetAnnotations(), want.GetAnnotations()) {
		return true
	}
	ov, wv := reflect.ValueOf(old).Elem(), reflect.ValueOf(want).Elem()
	for _, f := range []string{"Spec", "Data", "StringData", "BinaryData", "Type", "Immutable", "AddressType", "Endpoints", "Ports"} {
		a, b := ov.FieldByName(f), wv.FieldByName(f)
		if a.IsValid() && !apiequality.Semantic.DeepEqual(a.Interface(), b.Interface()) {
			return true
		}
	}
	return false
}

// podUpdateAllowed enforces the pod spec's immutability, as the API server
// does: only container images and a few scheduling fields may change, and
// podnet runs images by name, so it refuses every spec change.
func podUpdateAllowed(old, want *corev1.Pod) error {
	if apiequality.Semantic.DeepEqual(old.Spec, want.Spec) {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, want.Name, field.ErrorList{
		field.Forbidden(field.NewPath("spec"), "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"),
	})
}

// keepLive carries over, before defaulting, what the cluster set on a live
// object and a manifest leaves unset, as kubectl apply's merge leaves fields
// the manifest never named: a pod's node, replicas after a scale, and the
// annotations controllers own (a Deployment's revision).
func keepLive(live, want source.Object) {
	for k, v := range live.GetAnnotations() {
		if _, set := want.GetAnnotations()[k]; !set && systemOwned(k) {
			a := want.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			a[k] = v
			want.SetAnnotations(a)
		}
	}
	switch w := want.(type) {
	case *corev1.Pod:
		if w.Spec.NodeName == "" {
			w.Spec.NodeName = live.(*corev1.Pod).Spec.NodeName
		}
	case *appsv1.Deployment:
		if w.Spec.Replicas == nil {
			w.Spec.Replicas = live.(*appsv1.Deployment).Spec.Replicas
		}
	case *appsv1.ReplicaSet:
		if w.Spec.Replicas == nil {
			w.Spec.Replicas = live.(*appsv1.ReplicaSet).Spec.Replicas
		}
	case *appsv1.StatefulSet:
		if w.Spec.Replicas == nil {
			w.Spec.Replicas = live.(*appsv1.StatefulSet).Spec.Replicas
		}
	}
}

// systemOwned reports whether an annotation key is in a Kubernetes-reserved
// domain (kubernetes.io, k8s.io and their subdomains), where controllers,
// not manifests, write.
func systemOwned(key string) bool {
	prefix, _, ok := strings.Cut(key, "/")
	if !ok {
		return false
	}
	for _, d := range []string{"kubernetes.io", "k8s.io"} {
		if prefix == d || strings.HasSuffix(prefix, "."+d) {
			return true
		}
	}
	return false
}
