package manifest

import (
	corev1 "k8s.io/api/core/v1"
	policyv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
)

// The CRDs of policy.networking.k8s.io default one thing: the protocol of
// portNumber and portRange, to TCP.

func defaultAdminPorts(in []policyv1alpha1.AdminNetworkPolicyIngressRule, eg []policyv1alpha1.AdminNetworkPolicyEgressRule) {
	for i := range in {
		defaultAdminPortList(in[i].Ports)
	}
	for i := range eg {
		defaultAdminPortList(eg[i].Ports)
	}
}

func defaultBaselinePorts(in []policyv1alpha1.BaselineAdminNetworkPolicyIngressRule, eg []policyv1alpha1.BaselineAdminNetworkPolicyEgressRule) {
	for i := range in {
		defaultAdminPortList(in[i].Ports)
	}
	for i := range eg {
		defaultAdminPortList(eg[i].Ports)
	}
}

func defaultAdminPortList(ports *[]policyv1alpha1.AdminNetworkPolicyPort) {
	if ports == nil {
		return
	}
	for i := range *ports {
		p := &(*ports)[i]
		if p.PortNumber != nil && p.PortNumber.Protocol == "" {
			p.PortNumber.Protocol = corev1.ProtocolTCP
		}
		if p.PortRange != nil && p.PortRange.Protocol == "" {
			p.PortRange.Protocol = corev1.ProtocolTCP
		}
	}
}
