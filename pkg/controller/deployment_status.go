package controller

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons and messages as upstream's deployment controller writes
// them; `kubectl rollout status` and users' scripts read them.
const (
	reasonMinimumReplicasAvailable   = "MinimumReplicasAvailable"
	reasonMinimumReplicasUnavailable = "MinimumReplicasUnavailable"
	reasonNewReplicaSetCreated       = "NewReplicaSetCreated"
	reasonFoundNewReplicaSet         = "FoundNewReplicaSet"
	reasonReplicaSetUpdated          = "ReplicaSetUpdated"
	reasonNewReplicaSetAvailable     = "NewReplicaSetAvailable"
)

func (m *Manager) updateDeploymentStatus(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet, created bool) error {
	all := append([]*appsv1.ReplicaSet{newRS}, olds...)
	desired := replicasOf(d.Spec.Replicas)
	st := d.Status.DeepCopy()
	st.ObservedGeneration = d.Generation
	st.Replicas, st.ReadyReplicas, st.AvailableReplicas = 0, 0, 0
	for _, rs := range all {
		st.Replicas += rs.Status.Replicas
		st.ReadyReplicas += rs.Status.ReadyReplicas
		st.AvailableReplicas += rs.Status.AvailableReplicas
	}
	st.UpdatedReplicas = newRS.Status.Replicas
	st.UnavailableReplicas = max(0, desired-st.AvailableReplicas)

	now := metav1.NewTime(m.clock.Now())
	_, unavailable := fenceposts(d)
	if st.AvailableReplicas >= desired-unavailable {
		setDeploymentCondition(st, appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinimumReplicasAvailable,
			"Deployment has minimum availability.", now)
	} else {
		setDeploymentCondition(st, appsv1.DeploymentAvailable, corev1.ConditionFalse, reasonMinimumReplicasUnavailable,
			"Deployment does not have minimum availability.", now)
	}
	complete := st.UpdatedReplicas == desired && st.Replicas == desired && st.AvailableReplicas == desired
	switch {
	case complete:
		setDeploymentCondition(st, appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewReplicaSetAvailable,
			fmt.Sprintf("ReplicaSet %q has successfully progressed.", newRS.Name), now)
	case created:
		setDeploymentCondition(st, appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewReplicaSetCreated,
			fmt.Sprintf("Created new replica set %q", newRS.Name), now)
	case deploymentCondition(st, appsv1.DeploymentProgressing) == nil:
		setDeploymentCondition(st, appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonFoundNewReplicaSet,
			fmt.Sprintf("Found new replica set %q", newRS.Name), now)
	case progressed(&d.Status, st):
		setDeploymentCondition(st, appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonReplicaSetUpdated,
			fmt.Sprintf("ReplicaSet %q is progressing.", newRS.Name), now)
	}
	if apiequality.Semantic.DeepEqual(*st, d.Status) && d.Annotations[revisionAnnotation] == newRS.Annotations[revisionAnnotation] {
		return nil
	}
	upd := d.DeepCopy()
	upd.Status = *st
	if rev := newRS.Annotations[revisionAnnotation]; rev != "" {
		if upd.Annotations == nil {
			upd.Annotations = map[string]string{}
		}
		upd.Annotations[revisionAnnotation] = rev
	}
	_, err := m.update(upd)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// progressed: the rollout moved since the last status (DeploymentProgressing).
func progressed(old, cur *appsv1.DeploymentStatus) bool {
	return cur.UpdatedReplicas > old.UpdatedReplicas || cur.ReadyReplicas > old.ReadyReplicas ||
		cur.AvailableReplicas > old.AvailableReplicas || cur.Replicas-cur.UpdatedReplicas < old.Replicas-old.UpdatedReplicas
}

func deploymentCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setDeploymentCondition changes nothing when status and reason are the
// same, and keeps the transition time when only the reason changes.
func setDeploymentCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, msg string, now metav1.Time) {
	cur := deploymentCondition(st, t)
	if cur != nil && cur.Status == status && cur.Reason == reason && cur.Message == msg {
		return
	}
	c := appsv1.DeploymentCondition{Type: t, Status: status, Reason: reason, Message: msg, LastUpdateTime: now, LastTransitionTime: now}
	if cur != nil {
		if cur.Status == status {
			c.LastTransitionTime = cur.LastTransitionTime
		}
		*cur = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}
