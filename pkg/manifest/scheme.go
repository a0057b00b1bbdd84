package manifest

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	policyv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/podnet/podnet/pkg/source"
)

// newScheme returns a scheme holding the five API groups podnet reads. Whole
// groups are registered (not only the kinds podnet keeps) so that a kind a real
// cluster knows, such as ServiceAccount, is told apart from one nobody knows.
// Each caller gets its own scheme: schemes are mutable, so none is shared.
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme,
		appsv1.AddToScheme,
		discoveryv1.AddToScheme,
		networkingv1.AddToScheme,
		policyv1alpha1.Install,
	} {
		if err := add(s); err != nil {
			// Registering upstream types into a fresh scheme cannot fail
			// unless the upstream packages are broken.
			panic(err)
		}
	}
	return s
}

// supportedKinds maps each kind podnet keeps to its one served version, so a
// manifest naming another version (apps/v1beta1 Deployment) is refused.
func supportedKinds() map[schema.GroupVersionKind]source.Kind {
	return map[schema.GroupVersionKind]source.Kind{
		corev1.SchemeGroupVersion.WithKind("Namespace"):                          source.Namespace,
		corev1.SchemeGroupVersion.WithKind("Node"):                               source.Node,
		corev1.SchemeGroupVersion.WithKind("Pod"):                                source.Pod,
		corev1.SchemeGroupVersion.WithKind("Service"):                            source.Service,
		corev1.SchemeGroupVersion.WithKind("ConfigMap"):                          source.ConfigMap,
		corev1.SchemeGroupVersion.WithKind("Secret"):                             source.Secret,
		corev1.SchemeGroupVersion.WithKind("Event"):                              source.EventKind,
		discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"):                 source.EndpointSlice,
		appsv1.SchemeGroupVersion.WithKind("Deployment"):                         source.Deployment,
		appsv1.SchemeGroupVersion.WithKind("ReplicaSet"):                         source.ReplicaSet,
		appsv1.SchemeGroupVersion.WithKind("StatefulSet"):                        source.StatefulSet,
		networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"):                source.NetworkPolicy,
		networkingv1.SchemeGroupVersion.WithKind("Ingress"):                      source.Ingress,
		policyv1alpha1.SchemeGroupVersion.WithKind("AdminNetworkPolicy"):         source.AdminNetworkPolicy,
		policyv1alpha1.SchemeGroupVersion.WithKind("BaselineAdminNetworkPolicy"): source.BaselineAdminNetworkPolicy,
	}
}
