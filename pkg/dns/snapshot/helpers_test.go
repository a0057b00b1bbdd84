package snapshot

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/podnet/podnet/pkg/source"
)

func asService(o source.Object) *corev1.Service          { return o.(*corev1.Service) }
func asSlice(o source.Object) *discoveryv1.EndpointSlice { return o.(*discoveryv1.EndpointSlice) }
