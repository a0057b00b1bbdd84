package controller

import (
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podnet/podnet/pkg/source"
)

// collectGarbage deletes the objects of a namespace whose every owner is
// gone (background cascade: the owner goes first, its dependents after).
// An owner is gone when no object of its kind and name exists, or one
// exists with another UID (deleted and recreated). Owners of kinds podnet
// does not keep (ControllerRevision, a CRD) are assumed to exist: deleting
// on what we cannot see would be wrong.
func (m *Manager) collectGarbage(namespace string) error {
	var errs []error
	for _, k := range source.Kinds {
		if !source.Namespaced(k) {
			continue
		}
		for _, o := range m.src.List(k) {
			if o.GetNamespace() != namespace || len(o.GetOwnerReferences()) == 0 || !m.orphaned(o) {
				continue
			}
			if err := m.delete(k, namespace, o.GetName()); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) orphaned(o source.Object) bool {
	for _, ref := range o.GetOwnerReferences() {
		if m.ownerExists(o.GetNamespace(), ref) {
			return false
		}
	}
	return true
}

func (m *Manager) ownerExists(namespace string, ref metav1.OwnerReference) bool {
	k := source.Kind(ref.Kind)
	if _, err := source.New(k); err != nil {
		return true
	}
	if !source.Namespaced(k) {
		namespace = ""
	}
	owner, ok := m.src.Get(k, namespace, ref.Name)
	return ok && owner.GetUID() == ref.UID
}

// syncNamespace deletes whatever is left in a namespace that no longer
// exists. The API layer usually did it already; objects written by a racing
// client, or a namespace deleted behind our back, are caught here.
func (m *Manager) syncNamespace(name string) error {
	if _, ok := m.src.Get(source.Namespace, "", name); ok {
		return nil
	}
	var errs []error
	for _, k := range source.Kinds {
		if !source.Namespaced(k) {
			continue
		}
		for _, o := range m.src.List(k) {
			if o.GetNamespace() != name {
				continue
			}
			if err := m.delete(k, name, o.GetName()); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
