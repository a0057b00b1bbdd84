package printers

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func describeDeployment(d *describeWriter, dep *appsv1.Deployment, rss []*appsv1.ReplicaSet) {
	d.write(0, "Name:\t%s\n", dep.Name)
	d.write(0, "Namespace:\t%s\n", dep.Namespace)
	d.write(0, "CreationTimestamp:\t%s\n", rfc1123(dep.CreationTimestamp))
	d.labelsMultiline("Labels", dep.Labels)
	d.annotationsMultiline("Annotations", dep.Annotations)
	d.write(0, "Selector:\t%s\n", selectorString(dep.Spec.Selector))
	d.write(0, "Replicas:\t%d desired | %d updated | %d total | %d available | %d unavailable\n",
		replicas(dep.Spec.Replicas), dep.Status.UpdatedReplicas, dep.Status.Replicas,
		dep.Status.AvailableReplicas, dep.Status.UnavailableReplicas)
	strategy := dep.Spec.Strategy
	if strategy.Type == "" {
		strategy.Type = appsv1.RollingUpdateDeploymentStrategyType // the API server's default
	}
	d.write(0, "StrategyType:\t%s\n", strategy.Type)
	d.write(0, "MinReadySeconds:\t%d\n", dep.Spec.MinReadySeconds)
	if strategy.Type == appsv1.RollingUpdateDeploymentStrategyType {
		unavailable, surge := "25%", "25%" // defaults
		if ru := strategy.RollingUpdate; ru != nil {
			if ru.MaxUnavailable != nil {
				unavailable = ru.MaxUnavailable.String()
			}
			if ru.MaxSurge != nil {
				surge = ru.MaxSurge.String()
			}
		}
		d.write(0, "RollingUpdateStrategy:\t%s max unavailable, %s max surge\n", unavailable, surge)
	}
	describePodTemplate(d, &dep.Spec.Template)
	if len(dep.Status.Conditions) > 0 {
		d.write(0, "Conditions:\n  Type\tStatus\tReason\n")
		d.write(1, "----\t------\t------\n")
		for _, c := range dep.Status.Conditions {
			d.write(1, "%v \t%v\t%v\n", c.Type, c.Status, c.Reason)
		}
	}
	oldRSs, newRS := splitReplicaSets(dep, rss)
	if len(oldRSs) > 0 || newRS != nil {
		d.write(0, "OldReplicaSets:\t%s\n", replicaSetsSummary(oldRSs))
		var news []*appsv1.ReplicaSet
		if newRS != nil {
			news = append(news, newRS)
		}
		d.write(0, "NewReplicaSet:\t%s\n", replicaSetsSummary(news))
	}
}

// splitReplicaSets finds the deployment's replica sets: the new one has the
// deployment's pod template (ignoring pod-template-hash); old ones are the
// others that still have pods.
func splitReplicaSets(dep *appsv1.Deployment, rss []*appsv1.ReplicaSet) (old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) {
	for _, rs := range rss {
		if rs.Namespace != dep.Namespace || !ownedBy(rs, dep) {
			continue
		}
		if sameTemplate(rs.Spec.Template, dep.Spec.Template) && newRS == nil {
			newRS = rs
			continue
		}
		if replicas(rs.Spec.Replicas) > 0 || rs.Status.Replicas > 0 {
			old = append(old, rs)
		}
	}
	return old, newRS
}

func ownedBy(rs *appsv1.ReplicaSet, dep *appsv1.Deployment) bool {
	ref := metav1.GetControllerOf(rs)
	if ref == nil {
		return false
	}
	if dep.UID != "" && ref.UID != "" {
		return ref.UID == dep.UID
	}
	return ref.Kind == "Deployment" && ref.Name == dep.Name
}

func sameTemplate(a, b corev1.PodTemplateSpec) bool {
	a, b = *a.DeepCopy(), *b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return equality.Semantic.DeepEqual(a, b)
}

func replicaSetsSummary(rss []*appsv1.ReplicaSet) string {
	if len(rss) == 0 {
		return "<none>"
	}
	parts := make([]string, len(rss))
	for i, rs := range rss {
		parts[i] = fmt.Sprintf("%s (%d/%d replicas created)", rs.Name, rs.Status.Replicas, replicas(rs.Spec.Replicas))
	}
	return strings.Join(parts, ", ")
}

func describePodTemplate(d *describeWriter, t *corev1.PodTemplateSpec) {
	d.write(0, "Pod Template:\n")
	d.labelsMultiline("  Labels", t.Labels)
	if len(t.Annotations) > 0 {
		d.annotationsMultiline("  Annotations", t.Annotations)
	}
	if t.Spec.ServiceAccountName != "" {
		d.write(1, "Service Account:\t%s\n", t.Spec.ServiceAccountName)
	}
	if len(t.Spec.InitContainers) > 0 {
		describeContainers(d, nil, "Init Containers", t.Spec.InitContainers, nil, "  ")
	}
	describeContainers(d, nil, "Containers", t.Spec.Containers, nil, "  ")
	describeVolumes(d, t.Spec.Volumes, "  ")
	if t.Spec.PriorityClassName != "" {
		d.write(1, "Priority Class Name:\t%s\n", t.Spec.PriorityClassName)
	}
	d.labelsMultiline("  Node-Selectors", t.Spec.NodeSelector)
	describeTolerations(d, "  Tolerations", t.Spec.Tolerations)
}
