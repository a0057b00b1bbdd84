package controller

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// fenceposts resolves maxSurge (rounded up) and maxUnavailable (rounded
// down) against the desired replicas; both zero would block a rollout, so
// upstream then allows one unavailable pod. Recreate has neither.
func fenceposts(d *appsv1.Deployment) (surge, unavailable int32) {
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return 0, 0
	}
	desired := int(replicasOf(d.Spec.Replicas))
	s, u := intstr.FromString("25%"), intstr.FromString("25%")
	if ru != nil && ru.MaxSurge != nil {
		s = *ru.MaxSurge
	}
	if ru != nil && ru.MaxUnavailable != nil {
		u = *ru.MaxUnavailable
	}
	sv, _ := intstr.GetScaledValueFromIntOrPercent(&s, desired, true)
	uv, _ := intstr.GetScaledValueFromIntOrPercent(&u, desired, false)
	if sv == 0 && uv == 0 {
		uv = 1
	}
	return int32(sv), int32(uv)
}

func specReplicas(rss ...*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += replicasOf(rs.Spec.Replicas)
	}
	return n
}

func availableReplicas(rss ...*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += rs.Status.AvailableReplicas
	}
	return n
}

// recreate scales every old ReplicaSet to zero, waits until their pods are
// gone, then scales the new one up.
func (m *Manager) recreate(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	running := false
	for i, rs := range olds {
		if replicasOf(rs.Spec.Replicas) > 0 {
			scaled, err := m.scaleReplicaSet(rs, 0, d, 0)
			if err != nil {
				return nil, nil, err
			}
			olds[i] = scaled
			running = true
		}
		if rs.Status.Replicas > 0 {
			running = true
		}
	}
	if running {
		return newRS, olds, nil
	}
	newRS, err := m.scaleReplicaSet(newRS, replicasOf(d.Spec.Replicas), d, 0)
	return newRS, olds, err
}

// rollingUpdate moves replicas to the new ReplicaSet within maxSurge and
// maxUnavailable, the way upstream's rolling.go does: scale the new one up
// as far as surge allows, then scale old ones down, unhealthy pods first,
// as far as availability allows.
func (m *Manager) rollingUpdate(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	desired := replicasOf(d.Spec.Replicas)
	surge, unavailable := fenceposts(d)
	var err error

	switch cur := replicasOf(newRS.Spec.Replicas); {
	case cur > desired:
		newRS, err = m.scaleReplicaSet(newRS, desired, d, surge)
	case cur < desired:
		total := specReplicas(olds...) + cur
		if room := desired + surge - total; room > 0 {
			newRS, err = m.scaleReplicaSet(newRS, cur+min(room, desired-cur), d, surge)
		}
	default:
		newRS, err = m.scaleReplicaSet(newRS, cur, d, surge)
	}
	if err != nil {
		return nil, nil, err
	}
	if specReplicas(olds...) == 0 {
		return newRS, olds, nil
	}

	minAvailable := desired - unavailable
	newUnavailable := replicasOf(newRS.Spec.Replicas) - newRS.Status.AvailableReplicas
	maxScaleDown := specReplicas(olds...) + replicasOf(newRS.Spec.Replicas) - minAvailable - newUnavailable
	if maxScaleDown <= 0 {
		return newRS, olds, nil
	}
	// Pods of old ReplicaSets that are not available cost no availability.
	var done int32
	for i, rs := range olds {
		if done >= maxScaleDown {
			break
		}
		unhealthy := replicasOf(rs.Spec.Replicas) - rs.Status.AvailableReplicas
		if unhealthy <= 0 {
			continue
		}
		n := min(maxScaleDown-done, unhealthy)
		if olds[i], err = m.scaleReplicaSet(rs, replicasOf(rs.Spec.Replicas)-n, d, surge); err != nil {
			return nil, nil, err
		}
		done += n
	}
	// Then available ones, oldest first, keeping minAvailable.
	budget := min(availableReplicas(append([]*appsv1.ReplicaSet{newRS}, olds...)...)-minAvailable, maxScaleDown-done)
	for i, rs := range olds {
		if budget <= 0 {
			break
		}
		n := min(replicasOf(rs.Spec.Replicas), budget)
		if n == 0 {
			continue
		}
		if olds[i], err = m.scaleReplicaSet(rs, replicasOf(rs.Spec.Replicas)-n, d, surge); err != nil {
			return nil, nil, err
		}
		budget -= n
	}
	return newRS, olds, nil
}
