package lab

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podnet/podnet/pkg/source"
)

// ClusterDNSIP is kube-dns's Service IP, as kubeadm sets it.
const ClusterDNSIP = "10.96.0.10"

// corefile is kubeadm's default Corefile (with its cache exemption for the
// cluster domain) without the forward line: the lab has no way out of its
// namespaces, so there is nothing to forward to. A user can add one naming
// a resolver that runs inside the lab. The DNS pods apply an edited
// ConfigMap within seconds, without a restart.
func corefile(domain string) string {
	return fmt.Sprintf(`.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes %s in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    # No "forward . /etc/resolv.conf": the lab cannot reach the host's resolvers.
    cache 30 {
       disable success %s
       disable denial %s
    }
    loop
    reload
    loadbalance
}
`, domain, domain, domain)
}

// nodeObject is node i as kubelet registers it.
func nodeObject(lab string, i int, name string) *corev1.Node {
	labels := map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
	if i == 0 {
		// kind labels only its first node with a role; it carries no
		// NoSchedule taint here, so pods spread over every node.
		labels["node-role.kubernetes.io/control-plane"] = ""
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.NodeSpec{PodCIDR: PodCIDR(i), PodCIDRs: []string{PodCIDR(i)}},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: NodeIP(i)}, {Type: corev1.NodeHostName, Address: name}},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message: "kubelet is posting ready status", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.34.0-podnet", OperatingSystem: "linux", Architecture: "amd64",
				OSImage: "podnet lab (" + lab + ")", ContainerRuntimeVersion: "podnet://netns", KernelVersion: kernelVersion()},
		},
	}
}

// dnsObjects are CoreDNS's objects as kubeadm creates them: the coredns
// ConfigMap and Deployment (2 replicas, k8s-app=kube-dns) and the kube-dns
// Service at 10.96.0.10 with its dns, dns-tcp and metrics ports.
func dnsObjects(domain string) []source.Object {
	labels := map[string]string{"k8s-app": "kube-dns"}
	replicas := int32(2)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "coredns"},
		Data: map[string]string{"Corefile": corefile(domain)}}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8181)}},
		PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "coredns", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					DNSPolicy: corev1.DNSDefault,
					Containers: []corev1.Container{{
						Name: "coredns", Image: "registry.k8s.io/coredns/coredns:v1.11.3",
						Args: []string{"-conf", "/etc/coredns/Corefile"},
						Ports: []corev1.ContainerPort{
							{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
							{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
							{Name: "metrics", ContainerPort: 9153, Protocol: corev1.ProtocolTCP},
						},
						ReadinessProbe: probe,
					}},
				},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns", Labels: map[string]string{
			"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}},
		Spec: corev1.ServiceSpec{
			Selector:  labels,
			ClusterIP: ClusterDNSIP,
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
				{Name: "metrics", Port: 9153, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9153)},
			},
		},
	}
	return []source.Object{cm, svc, dep}
}
