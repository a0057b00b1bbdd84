package printers

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podnet/podnet/pkg/source"
)

func deploymentColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(), column("Ready"), column("Up-to-date"), column("Available"), column("Age"),
		wideColumn("Containers"), wideColumn("Images"), wideColumn("Selector"),
	}
}

func deploymentRow(o source.Object, c cellContext) ([]any, error) {
	d, err := typed[*appsv1.Deployment](o)
	if err != nil {
		return nil, err
	}
	names, images := containerCells(d.Spec.Template.Spec.Containers)
	return []any{
		d.Name,
		fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicas(d.Spec.Replicas)),
		int64(d.Status.UpdatedReplicas),
		int64(d.Status.AvailableReplicas),
		c.age(d.CreationTimestamp),
		names, images, selectorString(d.Spec.Selector),
	}, nil
}

func replicaSetColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(), column("Desired"), column("Current"), column("Ready"), column("Age"),
		wideColumn("Containers"), wideColumn("Images"), wideColumn("Selector"),
	}
}

func replicaSetRow(o source.Object, c cellContext) ([]any, error) {
	rs, err := typed[*appsv1.ReplicaSet](o)
	if err != nil {
		return nil, err
	}
	names, images := containerCells(rs.Spec.Template.Spec.Containers)
	return []any{
		rs.Name,
		int64(replicas(rs.Spec.Replicas)),
		int64(rs.Status.Replicas),
		int64(rs.Status.ReadyReplicas),
		c.age(rs.CreationTimestamp),
		names, images, selectorString(rs.Spec.Selector),
	}, nil
}

func statefulSetColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(), column("Ready"), column("Age"), wideColumn("Containers"), wideColumn("Images"),
	}
}

func statefulSetRow(o source.Object, c cellContext) ([]any, error) {
	ss, err := typed[*appsv1.StatefulSet](o)
	if err != nil {
		return nil, err
	}
	names, images := containerCells(ss.Spec.Template.Spec.Containers)
	return []any{
		ss.Name,
		fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, replicas(ss.Spec.Replicas)),
		c.age(ss.CreationTimestamp),
		names, images,
	}, nil
}

// replicas reads spec.replicas, which the API server defaults to 1.
func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func containerCells(cs []corev1.Container) (names, images string) {
	n := make([]string, len(cs))
	im := make([]string, len(cs))
	for i, c := range cs {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// selectorString prints a workload selector in labels.Selector syntax.
func selectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "<invalid>"
	}
	return s.String()
}
