package printers

import (
	"fmt"
	"io"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/podnet/podnet/pkg/source"
)

// Options are the `get` flags that change a table.
type Options struct {
	Wide          bool // -o wide
	WithNamespace bool // -A: a NAMESPACE column first
	WithKind      bool // several kinds or `get all`: names as "pod/web"
	ShowLabels    bool // --show-labels
	NoHeaders     bool // --no-headers
	Now           time.Time
}

// KindObjects is one group of a multi-kind `get`.
type KindObjects struct {
	Kind    source.Kind
	Objects []source.Object
}

// rowFunc makes one row's cells, wide columns included: the table printer
// drops columns with a non-zero priority unless Wide is set.
type rowFunc func(o source.Object, c cellContext) ([]any, error)

// cellContext carries what cells depend on besides the object.
type cellContext struct {
	now  time.Time
	wide bool
}

func (c cellContext) age(t metav1.Time) string { return age(t, c.now) }

// age is kubectl's AGE: "<unknown>" for objects without a creation time.
func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// PrintTable prints objs, all of one kind, as `kubectl get` does. Nothing is
// printed for an empty list: the caller prints NoResourcesMessage to stderr.
func PrintTable(w io.Writer, kind source.Kind, objs []source.Object, opts Options) error {
	table, err := buildTable(kind, objs, opts)
	if err != nil {
		return err
	}
	p := printers.NewTablePrinter(printers.PrintOptions{
		NoHeaders: opts.NoHeaders,
		// kubectl drops NAMESPACE for cluster-scoped kinds even with -A.
		WithNamespace: opts.WithNamespace && source.Namespaced(kind),
		WithKind:      opts.WithKind,
		Wide:          opts.Wide,
		ShowLabels:    opts.ShowLabels,
		Kind:          groupKind(kind),
	})
	return p.PrintObj(table, w)
}

// PrintAll prints one table per non-empty group, separated by a blank line and
// aligned separately, as `kubectl get all` and `kubectl get pods,svc` do.
func PrintAll(w io.Writer, groups []KindObjects, opts Options) error {
	first := true
	for _, g := range groups {
		if len(g.Objects) == 0 {
			continue
		}
		if !first && !opts.NoHeaders {
			if _, err := fmt.Fprintln(w); err != nil {
				return err
			}
		}
		first = false
		if err := PrintTable(w, g.Kind, g.Objects, opts); err != nil {
			return err
		}
	}
	return nil
}

// NoResourcesMessage is what kubectl writes to stderr when a list is empty.
func NoResourcesMessage(namespace string, allNamespaces bool) string {
	if allNamespaces || namespace == "" {
		return "No resources found"
	}
	return fmt.Sprintf("No resources found in %s namespace.", namespace)
}

func buildTable(kind source.Kind, objs []source.Object, opts Options) (*metav1.Table, error) {
	cols, row, ok := columnsFor(kind)
	if !ok {
		return nil, fmt.Errorf("no table columns for kind %q", kind)
	}
	sorted := append([]source.Object(nil), objs...)
	sortByNamespaceName(sorted)
	c := cellContext{now: opts.Now, wide: opts.Wide}
	table := &metav1.Table{ColumnDefinitions: cols}
	for _, o := range sorted {
		cells, err := row(o, c)
		if err != nil {
			return nil, err
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  cells,
			Object: runtime.RawExtension{Object: o},
		})
	}
	return table, nil
}

// sortByNamespaceName gives the API server's list order (its storage keys are
// namespace/name).
func sortByNamespaceName(objs []source.Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		if objs[i].GetNamespace() != objs[j].GetNamespace() {
			return objs[i].GetNamespace() < objs[j].GetNamespace()
		}
		return objs[i].GetName() < objs[j].GetName()
	})
}

// Column helpers: Format "name" marks the column the kind prefix goes on.
func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name"}
}

func column(name string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: "string"}
}

func wideColumn(name string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: "string", Priority: 1}
}

func columnsFor(kind source.Kind) ([]metav1.TableColumnDefinition, rowFunc, bool) {
	switch kind {
	case source.Pod:
		return podColumns(), podRow, true
	case source.Service:
		return serviceColumns(), serviceRow, true
	case EndpointsKind:
		return endpointsColumns(), endpointsRow, true
	case source.EndpointSlice:
		return endpointSliceColumns(), endpointSliceRow, true
	case source.Namespace:
		return namespaceColumns(), namespaceRow, true
	case source.Node:
		return nodeColumns(), nodeRow, true
	case source.Deployment:
		return deploymentColumns(), deploymentRow, true
	case source.ReplicaSet:
		return replicaSetColumns(), replicaSetRow, true
	case source.StatefulSet:
		return statefulSetColumns(), statefulSetRow, true
	case source.NetworkPolicy:
		return networkPolicyColumns(), networkPolicyRow, true
	case source.Ingress:
		return ingressColumns(), ingressRow, true
	case source.AdminNetworkPolicy:
		return adminNetworkPolicyColumns(), adminNetworkPolicyRow, true
	case source.BaselineAdminNetworkPolicy:
		return baselineAdminNetworkPolicyColumns(), baselineAdminNetworkPolicyRow, true
	case source.ConfigMap:
		return configMapColumns(), configMapRow, true
	case source.Secret:
		return secretColumns(), secretRow, true
	case source.EventKind:
		return eventColumns(), eventRow, true
	}
	return nil, nil, false
}

// typed asserts an object's Go type, naming the kind in the error.
func typed[T any](o source.Object) (T, error) {
	t, ok := o.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("expected %T, got %T", zero, o)
	}
	return t, nil
}
