package printers

import (
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/podnet/podnet/pkg/source"
)

// PrintJSONPath evaluates a `-o jsonpath=` template the way kubectl does: on
// the object itself for `get KIND NAME`, and on a v1 List of the objects
// (asList) for a list, so `{.items[*].metadata.name}` works. Missing keys
// print nothing, as with kubectl's default --allow-missing-template-keys.
func PrintJSONPath(w io.Writer, template string, objs []source.Object, asList bool) error {
	p, err := printers.NewJSONPathPrinter(template)
	if err != nil {
		return fmt.Errorf("error parsing jsonpath %s, %v", template, err)
	}
	p.AllowMissingKeys(true)
	items := make([]any, 0, len(objs))
	for _, o := range objs {
		u, err := ToUnstructured(o)
		if err != nil {
			return err
		}
		items = append(items, u.Object)
	}
	if !asList {
		if len(items) != 1 {
			return fmt.Errorf("jsonpath on a single object needs exactly one object, got %d", len(objs))
		}
		return p.PrintObj(&unstructured.Unstructured{Object: items[0].(map[string]any)}, w)
	}
	list := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "List",
		"metadata":   map[string]any{"resourceVersion": ""},
		"items":      items,
	}}
	return p.PrintObj(list, w)
}

// ToUnstructured turns a typed object into the JSON map kubectl's templates
// see, with apiVersion and kind set (typed objects from a store often lack
// them).
func ToUnstructured(o source.Object) (*unstructured.Unstructured, error) {
	kind, err := source.KindOf(o)
	if _, ok := o.(*corev1.Endpoints); ok {
		kind, err = EndpointsKind, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, source.Key(o), err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(groupVersionKind(kind))
	return u, nil
}
