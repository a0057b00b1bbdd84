package manifest

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateReplicas(d.Spec.Replicas, spec)
	errs = append(errs, validateWorkloadSelector(d.Spec.Selector, "deployment", spec.Child("selector"))...)
	errs = append(errs, validateWorkloadTemplate("ReplicaSet", d.Spec.Selector, &d.Spec.Template, true, spec.Child("template"))...)
	errs = append(errs, validateDeploymentStrategy(&d.Spec.Strategy, spec.Child("strategy"))...)
	if d.Spec.RevisionHistoryLimit != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*d.Spec.RevisionHistoryLimit), spec.Child("revisionHistoryLimit"))...)
	}
	return errs
}

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateReplicas(rs.Spec.Replicas, spec)
	// Upstream says "deployment" here too.
	errs = append(errs, validateWorkloadSelector(rs.Spec.Selector, "deployment", spec.Child("selector"))...)
	errs = append(errs, validateWorkloadTemplate("ReplicaSet", rs.Spec.Selector, &rs.Spec.Template, true, spec.Child("template"))...)
	return errs
}

func validateStatefulSet(s *appsv1.StatefulSet) field.ErrorList {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	switch s.Spec.PodManagementPolicy {
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(spec.Child("podManagementPolicy"), s.Spec.PodManagementPolicy, "must be 'OrderedReady' or 'Parallel'"))
	}
	switch s.Spec.UpdateStrategy.Type {
	case appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType:
	default:
		errs = append(errs, field.Invalid(spec.Child("updateStrategy"), s.Spec.UpdateStrategy, "must be 'RollingUpdate' or 'OnDelete'"))
	}
	errs = append(errs, validateReplicas(s.Spec.Replicas, spec)...)
	errs = append(errs, validateWorkloadSelector(s.Spec.Selector, "statefulset", spec.Child("selector"))...)
	// Upstream checks only the template's labels for StatefulSets, not its
	// pod spec (a TODO there, because of volume claim templates).
	errs = append(errs, validateWorkloadTemplate("StatefulSet", s.Spec.Selector, &s.Spec.Template, false, spec.Child("template"))...)
	return errs
}

func validateReplicas(replicas *int32, spec *field.Path) field.ErrorList {
	if replicas == nil {
		return nil
	}
	return apivalidation.ValidateNonnegativeField(int64(*replicas), spec.Child("replicas"))
}

// validateWorkloadSelector: a controller must select its pods, and an empty
// selector would adopt every pod in the namespace.
func validateWorkloadSelector(sel *metav1.LabelSelector, what string, fldPath *field.Path) field.ErrorList {
	if sel == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, fldPath)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(fldPath, sel, "empty selector is invalid for "+what))
	}
	return errs
}

// validateWorkloadTemplate checks that the template's pods would be selected
// by their own controller, and that they can run under it.
func validateWorkloadTemplate(controller string, sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, podSpec bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if selector, err := metav1.LabelSelectorAsSelector(sel); err == nil && sel != nil && !selector.Empty() {
		if !selector.Matches(labels.Set(t.Labels)) {
			errs = append(errs, field.Invalid(fldPath.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
		}
	}
	// Upstream reports template labels at spec.template.labels (without
	// "metadata"); kept for identical messages.
	errs = append(errs, metav1validation.ValidateLabels(t.Labels, fldPath.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, fldPath.Child("annotations"))...)
	if podSpec {
		errs = append(errs, validatePodSpec(&t.Spec, fldPath.Child("spec"))...)
	}
	// Controllers replace pods that end: a template must restart forever.
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(fldPath.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in "+controller+" is not Supported"))
	}
	return errs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
		return nil
	case appsv1.RollingUpdateDeploymentStrategyType:
	default:
		return field.ErrorList{field.NotSupported(fldPath.Child("type"), s.Type, []string{"Recreate", "RollingUpdate"})}
	}
	ru := s.RollingUpdate
	p := fldPath.Child("rollingUpdate")
	var errs field.ErrorList
	errs = append(errs, validatePositiveIntOrPercent(ru.MaxUnavailable, p.Child("maxUnavailable"))...)
	errs = append(errs, validatePositiveIntOrPercent(ru.MaxSurge, p.Child("maxSurge"))...)
	if intOrPercentValue(ru.MaxUnavailable) == 0 && intOrPercentValue(ru.MaxSurge) == 0 {
		// Neither extra nor missing pods allowed: a rollout could never move.
		errs = append(errs, field.Invalid(p.Child("maxUnavailable"), ru.MaxUnavailable, "may not be 0 when `maxSurge` is 0"))
	}
	if ru.MaxUnavailable != nil && ru.MaxUnavailable.Type == intstr.String && intOrPercentValue(ru.MaxUnavailable) > 100 {
		errs = append(errs, field.Invalid(p.Child("maxUnavailable"), ru.MaxUnavailable, "must not be greater than 100%"))
	}
	return errs
}

func validatePositiveIntOrPercent(v *intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	if v.Type == intstr.String {
		if msgs := validation.IsValidPercent(v.StrVal); len(msgs) > 0 {
			return field.ErrorList{field.Invalid(fldPath, v, strings.Join(msgs, ", "))}
		}
		return nil
	}
	return apivalidation.ValidateNonnegativeField(int64(v.IntVal), fldPath)
}

func intOrPercentValue(v *intstr.IntOrString) int {
	if v == nil {
		return 0
	}
	if v.Type == intstr.Int {
		return v.IntValue()
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, 100, false)
	if err != nil {
		return -1
	}
	return n
}
