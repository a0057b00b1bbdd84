package manifest

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podnet/podnet/pkg/source"
)

const (
	svcHead    = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n"
	podHead    = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n"
	policyHead = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np\nspec:\n  podSelector: {}\n"
)

func TestDefault(t *testing.T) {
	cases := []struct {
		name  string
		doc   string
		check func(source.Object) (got, want any)
	}{
		// Service
		{"a Service without type is ClusterIP", svcHead + "  ports:\n  - port: 80\n",
			func(o source.Object) (any, any) { return o.(*corev1.Service).Spec.Type, corev1.ServiceTypeClusterIP }},
		{"a Service's sessionAffinity defaults to None", svcHead + "  ports:\n  - port: 80\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Service).Spec.SessionAffinity, corev1.ServiceAffinityNone
			}},
		{"sessionAffinity None drops a given sessionAffinityConfig", svcHead + "  sessionAffinity: None\n  sessionAffinityConfig:\n    clientIP:\n      timeoutSeconds: 5\n",
			func(o source.Object) (any, any) { return o.(*corev1.Service).Spec.SessionAffinityConfig == nil, true }},
		{"ClientIP affinity gets a timeout of 10800 seconds", svcHead + "  sessionAffinity: ClientIP\n",
			func(o source.Object) (any, any) {
				return *o.(*corev1.Service).Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds, int32(10800)
			}},
		{"ClientIP affinity keeps a given timeout", svcHead + "  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n    clientIP:\n      timeoutSeconds: 60\n",
			func(o source.Object) (any, any) {
				return *o.(*corev1.Service).Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds, int32(60)
			}},
		{"a Service port's protocol defaults to TCP", svcHead + "  ports:\n  - port: 80\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Service).Spec.Ports[0].Protocol, corev1.ProtocolTCP
			}},
		{"a Service port's targetPort defaults to its port", svcHead + "  ports:\n  - port: 8080\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Service).Spec.Ports[0].TargetPort, intstr.FromInt32(8080)
			}},
		{"a named targetPort is kept", svcHead + "  ports:\n  - port: 80\n    targetPort: http\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Service).Spec.Ports[0].TargetPort, intstr.FromString("http")
			}},
		{"internalTrafficPolicy defaults to Cluster", svcHead + "  ports:\n  - port: 80\n",
			func(o source.Object) (any, any) {
				return *o.(*corev1.Service).Spec.InternalTrafficPolicy, corev1.ServiceInternalTrafficPolicyCluster
			}},
		{"a ClusterIP Service gets no externalTrafficPolicy", svcHead + "  ports:\n  - port: 80\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Service).Spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicy("")
			}},
		{"a NodePort Service's externalTrafficPolicy defaults to Cluster", svcHead + "  type: NodePort\n  ports:\n  - port: 80\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Service).Spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicyCluster
			}},
		{"a ClusterIP Service with externalIPs is externally accessible", svcHead + "  externalIPs: [192.0.2.1]\n  ports:\n  - port: 80\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Service).Spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicyCluster
			}},
		{"a LoadBalancer allocates node ports by default", svcHead + "  type: LoadBalancer\n  ports:\n  - port: 80\n",
			func(o source.Object) (any, any) { return *o.(*corev1.Service).Spec.AllocateLoadBalancerNodePorts, true }},
		{"an ExternalName Service gets no internalTrafficPolicy", svcHead + "  type: ExternalName\n  externalName: example.com\n",
			func(o source.Object) (any, any) { return o.(*corev1.Service).Spec.InternalTrafficPolicy == nil, true }},
		{"a Service is SingleStack IPv4", svcHead + "  ports:\n  - port: 80\n",
			func(o source.Object) (any, any) {
				s := o.(*corev1.Service).Spec
				return string(*s.IPFamilyPolicy) + "/" + string(s.IPFamilies[0]), "SingleStack/IPv4"
			}},
		{"a headless Service without selector requires dual stack", svcHead + "  clusterIP: None\n",
			func(o source.Object) (any, any) {
				return *o.(*corev1.Service).Spec.IPFamilyPolicy, corev1.IPFamilyPolicyRequireDualStack
			}},
		// Pod
		{"a pod's dnsPolicy defaults to ClusterFirst", podHead + "  containers:\n  - name: c\n    image: nginx\n",
			func(o source.Object) (any, any) { return o.(*corev1.Pod).Spec.DNSPolicy, corev1.DNSClusterFirst }},
		{"a pod's restartPolicy defaults to Always", podHead + "  containers:\n  - name: c\n    image: nginx\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Pod).Spec.RestartPolicy, corev1.RestartPolicyAlways
			}},
		{"a pod's grace period defaults to 30 seconds", podHead + "  containers:\n  - name: c\n    image: nginx\n",
			func(o source.Object) (any, any) {
				return *o.(*corev1.Pod).Spec.TerminationGracePeriodSeconds, int64(30)
			}},
		{"a pod's scheduler defaults to default-scheduler", podHead + "  containers:\n  - name: c\n    image: nginx\n",
			func(o source.Object) (any, any) { return o.(*corev1.Pod).Spec.SchedulerName, "default-scheduler" }},
		{"a pod enables service links", podHead + "  containers:\n  - name: c\n    image: nginx\n",
			func(o source.Object) (any, any) { return *o.(*corev1.Pod).Spec.EnableServiceLinks, true }},
		{"a pod gets an empty security context", podHead + "  containers:\n  - name: c\n    image: nginx\n",
			func(o source.Object) (any, any) { return o.(*corev1.Pod).Spec.SecurityContext != nil, true }},
		{"a container port's protocol defaults to TCP", podHead + "  containers:\n  - name: c\n    image: nginx\n    ports:\n    - containerPort: 80\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Pod).Spec.Containers[0].Ports[0].Protocol, corev1.ProtocolTCP
			}},
		{"a host-network pod's container ports are host ports", podHead + "  hostNetwork: true\n  containers:\n  - name: c\n    image: nginx\n    ports:\n    - containerPort: 8080\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Pod).Spec.Containers[0].Ports[0].HostPort, int32(8080)
			}},
		{"an image without tag is pulled Always", podHead + "  containers:\n  - name: c\n    image: nginx\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Pod).Spec.Containers[0].ImagePullPolicy, corev1.PullAlways
			}},
		{"an image tagged latest is pulled Always", podHead + "  containers:\n  - name: c\n    image: registry:5000/nginx:latest\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Pod).Spec.Containers[0].ImagePullPolicy, corev1.PullAlways
			}},
		{"an image with another tag is pulled IfNotPresent", podHead + "  containers:\n  - name: c\n    image: nginx:1.27\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Pod).Spec.Containers[0].ImagePullPolicy, corev1.PullIfNotPresent
			}},
		{"a registry port is not a tag", podHead + "  containers:\n  - name: c\n    image: registry:5000/nginx\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Pod).Spec.Containers[0].ImagePullPolicy, corev1.PullAlways
			}},
		{"an image by digest is pulled IfNotPresent", podHead + "  containers:\n  - name: c\n    image: nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
			func(o source.Object) (any, any) {
				return o.(*corev1.Pod).Spec.Containers[0].ImagePullPolicy, corev1.PullIfNotPresent
			}},
		{"a container's termination message goes to /dev/termination-log from a File", podHead + "  containers:\n  - name: c\n    image: nginx\n",
			func(o source.Object) (any, any) {
				c := o.(*corev1.Pod).Spec.Containers[0]
				return c.TerminationMessagePath + " " + string(c.TerminationMessagePolicy), "/dev/termination-log File"
			}},
		{"a probe gets timeout 1, period 10, success 1 and failure 3", podHead + "  containers:\n  - name: c\n    image: nginx\n    readinessProbe:\n      tcpSocket:\n        port: 80\n",
			func(o source.Object) (any, any) {
				p := o.(*corev1.Pod).Spec.Containers[0].ReadinessProbe
				return []int32{p.TimeoutSeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold}, []int32{1, 10, 1, 3}
			}},
		{"an httpGet probe gets path / and scheme HTTP", podHead + "  containers:\n  - name: c\n    image: nginx\n    livenessProbe:\n      httpGet:\n        port: 80\n",
			func(o source.Object) (any, any) {
				h := o.(*corev1.Pod).Spec.Containers[0].LivenessProbe.HTTPGet
				return h.Path + " " + string(h.Scheme), "/ HTTP"
			}},
		// Workloads
		{"a Deployment gets one replica, RollingUpdate 25%/25%, 10 revisions and 600s to progress",
			"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n",
			func(o source.Object) (any, any) {
				s := o.(*appsv1.Deployment).Spec
				return []any{*s.Replicas, s.Strategy.Type, s.Strategy.RollingUpdate.MaxUnavailable.String(), s.Strategy.RollingUpdate.MaxSurge.String(), *s.RevisionHistoryLimit, *s.ProgressDeadlineSeconds},
					[]any{int32(1), appsv1.RollingUpdateDeploymentStrategyType, "25%", "25%", int32(10), int32(600)}
			}},
		{"a Recreate Deployment gets no rollingUpdate", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  strategy:\n    type: Recreate\n",
			func(o source.Object) (any, any) {
				return o.(*appsv1.Deployment).Spec.Strategy.RollingUpdate == nil, true
			}},
		{"a Deployment keeps zero replicas", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: 0\n",
			func(o source.Object) (any, any) { return *o.(*appsv1.Deployment).Spec.Replicas, int32(0) }},
		{"a Deployment's pod template gets pod spec defaults", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: nginx\n        ports:\n        - containerPort: 80\n",
			func(o source.Object) (any, any) {
				s := o.(*appsv1.Deployment).Spec.Template.Spec
				return string(s.DNSPolicy) + " " + string(s.Containers[0].Ports[0].Protocol), "ClusterFirst TCP"
			}},
		{"a pod template does not get the pod-only enableServiceLinks", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n",
			func(o source.Object) (any, any) {
				return o.(*appsv1.Deployment).Spec.Template.Spec.EnableServiceLinks == nil, true
			}},
		{"a ReplicaSet gets one replica", "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: r\n",
			func(o source.Object) (any, any) { return *o.(*appsv1.ReplicaSet).Spec.Replicas, int32(1) }},
		{"a StatefulSet gets one replica, OrderedReady, RollingUpdate from partition 0 and 10 revisions",
			"apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: s\n",
			func(o source.Object) (any, any) {
				s := o.(*appsv1.StatefulSet).Spec
				return []any{*s.Replicas, s.PodManagementPolicy, s.UpdateStrategy.Type, *s.UpdateStrategy.RollingUpdate.Partition, *s.RevisionHistoryLimit, s.PersistentVolumeClaimRetentionPolicy.WhenDeleted},
					[]any{int32(1), appsv1.OrderedReadyPodManagement, appsv1.RollingUpdateStatefulSetStrategyType, int32(0), int32(10), appsv1.RetainPersistentVolumeClaimRetentionPolicyType}
			}},
		// NetworkPolicy
		{"a policy without policyTypes or egress rules is about Ingress", policyHead,
			func(o source.Object) (any, any) {
				return o.(*networkingv1.NetworkPolicy).Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress"}
			}},
		{"a policy with egress rules is about Ingress and Egress", policyHead + "  egress:\n  - {}\n",
			func(o source.Object) (any, any) {
				return o.(*networkingv1.NetworkPolicy).Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}
			}},
		{"a policy with only ingress rules is about Ingress", policyHead + "  ingress:\n  - {}\n",
			func(o source.Object) (any, any) {
				return o.(*networkingv1.NetworkPolicy).Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress"}
			}},
		{"explicit policyTypes are kept even when egress rules exist", policyHead + "  policyTypes: [Egress]\n  egress:\n  - {}\n",
			func(o source.Object) (any, any) {
				return o.(*networkingv1.NetworkPolicy).Spec.PolicyTypes, []networkingv1.PolicyType{"Egress"}
			}},
		{"a policy port's protocol defaults to TCP", policyHead + "  ingress:\n  - ports:\n    - port: 80\n",
			func(o source.Object) (any, any) {
				return *o.(*networkingv1.NetworkPolicy).Spec.Ingress[0].Ports[0].Protocol, corev1.ProtocolTCP
			}},
		// The rest
		{"an EndpointSlice port gets protocol TCP and an empty name", "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: e\naddressType: IPv4\nendpoints: []\nports:\n- port: 80\n",
			func(o source.Object) (any, any) {
				p := o.(*discoveryv1.EndpointSlice).Ports[0]
				return string(*p.Protocol) + "/" + *p.Name, "TCP/"
			}},
		{"a Namespace is labelled with its own name", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n",
			func(o source.Object) (any, any) { return o.GetLabels()["kubernetes.io/metadata.name"], "prod" }},
		{"a Namespace's phase is Active", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n",
			func(o source.Object) (any, any) { return o.(*corev1.Namespace).Status.Phase, corev1.NamespaceActive }},
		{"a Secret's type defaults to Opaque", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
			func(o source.Object) (any, any) { return o.(*corev1.Secret).Type, corev1.SecretTypeOpaque }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := decodeOne(t, tc.doc)
			Default(o)
			got, want := tc.check(o)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}
