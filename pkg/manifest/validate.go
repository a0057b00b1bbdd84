package manifest

import (
	"fmt"
	"net/netip"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/validation/field"
	policyv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/podnet/podnet/pkg/source"
)

// Options are the cluster settings validation depends on. The zero value
// means the defaults of kube-apiserver and of podnet's lab.
type Options struct {
	// NodePortRange is --service-node-port-range; default 30000-32767.
	NodePortRange utilnet.PortRange
	// ServiceCIDR is --service-cluster-ip-range; default 10.96.0.0/12.
	ServiceCIDR netip.Prefix
}

func (o Options) withDefaults() Options {
	if o.NodePortRange.Size == 0 {
		o.NodePortRange = utilnet.PortRange{Base: 30000, Size: 2768}
	}
	if !o.ServiceCIDR.IsValid() {
		o.ServiceCIDR = netip.MustParsePrefix("10.96.0.0/12")
	}
	return o
}

// Validate checks obj as the API server does on create, after defaulting it
// (on a copy: obj is not changed). A namespaced object without namespace is
// checked as if in "default", where kubectl would put it. It returns nil for a
// valid object and for kinds it does not know.
func Validate(obj source.Object, opts Options) field.ErrorList {
	opts = opts.withDefaults()
	c, ok := obj.DeepCopyObject().(source.Object)
	if !ok {
		return nil
	}
	Default(c)
	kind, err := source.KindOf(c)
	if err != nil {
		return nil
	}
	if source.Namespaced(kind) && c.GetNamespace() == "" {
		c.SetNamespace(metav1NamespaceDefault)
	}
	if !source.Namespaced(kind) {
		c.SetNamespace("") // kubectl drops it for cluster-scoped kinds
	}
	errs := apivalidation.ValidateObjectMetaAccessor(c, source.Namespaced(kind), nameValidator(kind), field.NewPath("metadata"))
	switch o := c.(type) {
	case *corev1.Namespace:
		// Nothing beyond the name: spec.finalizers is set by the server.
	case *corev1.Node:
		errs = append(errs, validateNode(o)...)
	case *corev1.Pod:
		errs = append(errs, validatePodSpec(&o.Spec, field.NewPath("spec"))...)
	case *corev1.Service:
		errs = append(errs, validateService(o, opts)...)
	case *corev1.ConfigMap:
		errs = append(errs, validateConfigMap(o)...)
	case *corev1.Secret:
		errs = append(errs, validateSecret(o)...)
	case *discoveryv1.EndpointSlice:
		errs = append(errs, validateEndpointSlice(o)...)
	case *appsv1.Deployment:
		errs = append(errs, validateDeployment(o)...)
	case *appsv1.ReplicaSet:
		errs = append(errs, validateReplicaSet(o)...)
	case *appsv1.StatefulSet:
		errs = append(errs, validateStatefulSet(o)...)
	case *networkingv1.NetworkPolicy:
		errs = append(errs, validateNetworkPolicySpec(&o.Spec, field.NewPath("spec"))...)
	case *networkingv1.Ingress:
		errs = append(errs, validateIngressSpec(&o.Spec, field.NewPath("spec"))...)
	case *policyv1alpha1.AdminNetworkPolicy:
		errs = append(errs, validateAdminNetworkPolicy(o)...)
	case *policyv1alpha1.BaselineAdminNetworkPolicy:
		errs = append(errs, validateBaselineAdminNetworkPolicy(o)...)
	}
	return errs
}

const metav1NamespaceDefault = "default"

// nameValidator is the name rule upstream applies to each kind: Services
// become DNS labels that must not start with a digit, namespaces and
// StatefulSets (whose pods' hostnames derive from it) DNS labels, the rest DNS
// subdomains.
func nameValidator(k source.Kind) apivalidation.ValidateNameFunc {
	switch k {
	case source.Service:
		return apivalidation.NameIsDNS1035Label
	case source.Namespace, source.StatefulSet:
		return apivalidation.NameIsDNSLabel
	}
	return apivalidation.NameIsDNSSubdomain
}

// groupKinds is each kind's API group, as the API server names it in errors.
func groupKind(k source.Kind) schema.GroupKind {
	switch k {
	case source.Deployment, source.ReplicaSet, source.StatefulSet:
		return schema.GroupKind{Group: "apps", Kind: string(k)}
	case source.EndpointSlice:
		return schema.GroupKind{Group: "discovery.k8s.io", Kind: string(k)}
	case source.NetworkPolicy, source.Ingress:
		return schema.GroupKind{Group: "networking.k8s.io", Kind: string(k)}
	case source.AdminNetworkPolicy, source.BaselineAdminNetworkPolicy:
		return schema.GroupKind{Group: policyv1alpha1.GroupName, Kind: string(k)}
	}
	return schema.GroupKind{Kind: string(k)}
}

// InvalidError is the API server's 422 Invalid answer for an object, printed
// the way kubectl prints it. errors.As finds the *apierrors.StatusError
// underneath, so apierrors.IsInvalid holds.
type InvalidError struct {
	Status *apierrors.StatusError
}

func (e *InvalidError) Unwrap() error { return e.Status }

// Error is kubectl's text: `The Service "web" is invalid: ` and then the one
// cause, or each cause on its own line after "* ".
func (e *InvalidError) Error() string {
	d := e.Status.ErrStatus.Details
	prefix := fmt.Sprintf("The %s %q is invalid: ", d.Kind, d.Name)
	causes := make([]string, 0, len(d.Causes))
	for _, c := range d.Causes {
		causes = append(causes, fmt.Sprintf("%s: %s", c.Field, c.Message))
	}
	switch len(causes) {
	case 0:
		return prefix + e.Status.Error()
	case 1:
		return prefix + causes[0]
	}
	return prefix + "\n* " + strings.Join(causes, "\n* ")
}

// ValidationError turns Validate's result into the error the API server
// returns, or nil when errs is empty.
func ValidationError(obj source.Object, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	kind, _ := source.KindOf(obj)
	return &InvalidError{Status: apierrors.NewInvalid(groupKind(kind), obj.GetName(), errs)}
}
