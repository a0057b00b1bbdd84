package printers

import (
	"bytes"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podnet/podnet/pkg/source"
)

func describedPod() *corev1.Pod {
	p := runningPod("default", "web-1", "10.244.1.5", "lab-worker", time.Hour, map[string]string{"app": "web"})
	p.Status.HostIP = "172.18.0.3"
	p.Status.StartTime = ptr(ago(time.Hour))
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-7d4b9c", Controller: ptr(true)}}
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue},
	}
	c := &p.Spec.Containers[0]
	c.Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP, Name: "http"}}
	c.Env = []corev1.EnvVar{
		{Name: "MODE", Value: "prod"},
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
	}
	c.ReadinessProbe = &corev1.Probe{
		ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(80), Scheme: corev1.URISchemeHTTP}},
		TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
	}
	p.Status.ContainerStatuses[0].ContainerID = "podnet://web-1-app"
	p.Status.ContainerStatuses[0].ImageID = "nginx@sha256:abc"
	return p
}

func podEvents() []corev1.Event {
	return []corev1.Event{
		{
			Type: "Warning", Reason: "Unhealthy", Message: "Readiness probe failed",
			Source: corev1.EventSource{Component: "kubelet"}, Count: 3,
			FirstTimestamp: ago(50 * time.Minute), LastTimestamp: ago(2 * time.Minute),
		},
		{
			Type: "Normal", Reason: "Scheduled", Message: "Successfully assigned default/web-1 to lab-worker",
			Source: corev1.EventSource{Component: "default-scheduler"}, Count: 1,
			FirstTimestamp: ago(time.Hour), LastTimestamp: ago(time.Hour),
		},
	}
}

func TestDescribe(t *testing.T) {
	svc := clusterIPService("default", "web", "10.96.12.34", time.Hour, map[string]string{"app": "web"}, tcpPort("http", 80, 8080))
	svc.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicySingleStack)
	svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	svc.Spec.SessionAffinity = corev1.ServiceAffinityNone
	webSlice := slice("default", "web-a", "web", []discoveryv1.EndpointPort{slicePort("http", 8080)},
		endpoint("10.244.1.5", true), endpoint("10.244.2.3", true), endpoint("10.244.2.9", false))

	nodePortSvc := &corev1.Service{
		ObjectMeta: meta("default", "np", time.Hour, nil),
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.7.7", ClusterIPs: []string{"10.96.7.7"},
			Ports:                 []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http"), NodePort: 30080, Protocol: corev1.ProtocolTCP}},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
		},
	}

	apiAllow := netpol("default", "api-allow", time.Hour, networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "bookstore", "role": "api"}},
		Ingress: []networkingv1.NetworkPolicyIngressRule{
			{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bookstore"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: ptr(intstr.FromInt32(80))}},
			},
			{
				From: []networkingv1.NetworkPolicyPeer{
					{IPBlock: &networkingv1.IPBlock{CIDR: "172.17.0.0/16", Except: []string{"172.17.1.0/24"}}},
					{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "mon"}}},
				},
			},
		},
	})
	denyEgress := netpol("default", "deny-egress", time.Hour, networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
	})
	dnsOnly := netpol("default", "dns-only", time.Hour, networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		Egress: []networkingv1.NetworkPolicyEgressRule{{
			Ports: []networkingv1.NetworkPolicyPort{
				{Port: ptr(intstr.FromInt32(53)), Protocol: ptr(corev1.ProtocolUDP)},
				{Port: ptr(intstr.FromInt32(30000)), EndPort: ptr(int32(32767))},
			},
		}},
	})

	ns := &corev1.Namespace{
		ObjectMeta: meta("", "default", 24*time.Hour, map[string]string{"kubernetes.io/metadata.name": "default"}),
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}

	dep := deployment("default", "web", 3, 3, 3, 3, 2*time.Hour)
	dep.UID = "dep-uid"
	dep.Status.Conditions = []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
		{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
	}
	newRS := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-7d4b9c", OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "web", UID: "dep-uid", Controller: ptr(true)}}},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(int32(3)), Template: *dep.Spec.Template.DeepCopy()},
		Status:     appsv1.ReplicaSetStatus{Replicas: 3},
	}
	newRS.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = "7d4b9c"

	cm := &corev1.ConfigMap{ObjectMeta: meta("default", "settings", time.Hour, map[string]string{"app": "web"})}

	tests := []struct {
		name    string
		kind    source.Kind
		obj     source.Object
		related Related
		want    string
	}{
		{
			name: "a pod shows node, IPs, controller, containers, conditions and events",
			kind: source.Pod, obj: describedPod(), related: Related{Events: podEvents()},
			want: `
Name:         web-1
Namespace:    default
Node:         lab-worker/172.18.0.3
Start Time:   Fri, 02 Jan 2026 11:00:00 +0000
Labels:       app=web
Annotations:  <none>
Status:       Running
IP:           10.244.1.5
IPs:
  IP:           10.244.1.5
Controlled By:  ReplicaSet/web-7d4b9c
Containers:
  app:
    Container ID:   podnet://web-1-app
    Image:          nginx:1.25
    Image ID:       nginx@sha256:abc
    Port:           80/TCP (http)
    Host Port:      0/TCP (http)
    State:          Running
      Started:      Fri, 02 Jan 2026 11:00:00 +0000
    Ready:          True
    Restart Count:  0
    Readiness:      http-get http://:80/healthz delay=0s timeout=1s period=10s #success=1 #failure=3
    Environment:
      MODE:    prod
      POD_IP:  10.244.1.5 (v1:status.podIP)
    Mounts:    <none>
Conditions:
  Type           Status
  Initialized    True 
  Ready          True 
Volumes:         <none>
QoS Class:       BestEffort
Node-Selectors:  <none>
Tolerations:     <none>
Events:
  Type     Reason     Age               From               Message
  ----     ------     ----              ----               -------
  Normal   Scheduled  60m               default-scheduler  Successfully assigned default/web-1 to lab-worker
  Warning  Unhealthy  2m (x3 over 50m)  kubelet            Readiness probe failed
`,
		},
		{
			name: "a service lists ready endpoints of each port from its slices",
			kind: source.Service, obj: svc,
			related: Related{EndpointSlices: []*discoveryv1.EndpointSlice{webSlice}, Events: []corev1.Event{}},
			want: `
Name:              web
Namespace:         default
Labels:            <none>
Annotations:       <none>
Selector:          app=web
Type:              ClusterIP
IP Family Policy:  SingleStack
IP Families:       IPv4
IP:                10.96.12.34
IPs:               10.96.12.34
Port:              http  80/TCP
TargetPort:        8080/TCP
Endpoints:         10.244.1.5:8080,10.244.2.3:8080
Session Affinity:  None
Events:            <none>
`,
		},
		{
			name: "a node port service with a named target port and no endpoints",
			kind: source.Service, obj: nodePortSvc,
			want: `
Name:                     np
Namespace:                default
Labels:                   <none>
Annotations:              <none>
Selector:                 <none>
Type:                     NodePort
IP Families:              <none>
IP:                       10.96.7.7
IPs:                      10.96.7.7
Port:                     <unset>  80/TCP
TargetPort:               http/TCP
NodePort:                 <unset>  30080/TCP
Endpoints:                <none>
Session Affinity:         None
External Traffic Policy:  Local
Events:                   <none>
`,
		},
		{
			name: "a network policy spells out its ingress rules",
			kind: source.NetworkPolicy, obj: apiAllow,
			want: `
Name:         api-allow
Namespace:    default
Created on:   2026-01-02 11:00:00 +0000 UTC
Labels:       <none>
Annotations:  <none>
Spec:
  PodSelector:     app=bookstore,role=api
  Allowing ingress traffic:
    To Port: 80/TCP
    From:
      PodSelector: app=bookstore
    ----------
    To Port: <any> (traffic allowed to all ports)
    From:
      IPBlock:
        CIDR: 172.17.0.0/16
        Except: 172.17.1.0/24
    From:
      NamespaceSelector: <none>
      PodSelector: role=mon
  Not affecting egress traffic
  Policy Types: Ingress
`,
		},
		{
			name: "a deny-all egress policy isolates all pods for egress",
			kind: source.NetworkPolicy, obj: denyEgress,
			want: `
Name:         deny-egress
Namespace:    default
Created on:   2026-01-02 11:00:00 +0000 UTC
Labels:       <none>
Annotations:  <none>
Spec:
  PodSelector:     <none> (Allowing the specific traffic to all pods in this namespace)
  Not affecting ingress traffic
  Allowing egress traffic:
    <none> (Selected pods are isolated for egress connectivity)
  Policy Types: Egress
`,
		},
		{
			name: "egress ports with protocols and ranges, to any destination",
			kind: source.NetworkPolicy, obj: dnsOnly,
			want: `
Name:         dns-only
Namespace:    default
Created on:   2026-01-02 11:00:00 +0000 UTC
Labels:       <none>
Annotations:  <none>
Spec:
  PodSelector:     app=web
  Allowing ingress traffic:
    <none> (Selected pods are isolated for ingress connectivity)
  Allowing egress traffic:
    To Port: 53/UDP
    To Port Range: 30000-32767/TCP
    To: <any> (traffic not restricted by destination)
  Policy Types: Ingress, Egress
`,
		},
		{
			name: "an endpointslice lists each endpoint's conditions",
			kind: source.EndpointSlice, obj: slice("default", "web-a", "web", []discoveryv1.EndpointPort{slicePort("http", 8080)}, endpoint("10.244.2.9", false)),
			want: `
Name:         web-a
Namespace:    default
Labels:       kubernetes.io/service-name=web
Annotations:  <none>
AddressType:  IPv4
Ports:
  Name  Port  Protocol
  ----  ----  --------
  http  8080  TCP
Endpoints:
  - Addresses:  10.244.2.9
    Conditions:
      Ready:   false
    Hostname:  <unset>
    NodeName:  <unset>
    Zone:      <unset>
Events:        <none>
`,
		},
		{
			name: "a namespace says it has no quota or limit range",
			kind: source.Namespace, obj: ns, related: Related{Events: []corev1.Event{}},
			want: `
Name:         default
Labels:       kubernetes.io/metadata.name=default
Annotations:  <none>
Status:       Active

No resource quota.

No LimitRange resource.
`,
		},
		{
			name: "a deployment shows replicas, its pod template and its new replica set",
			kind: source.Deployment, obj: dep, related: Related{ReplicaSets: []*appsv1.ReplicaSet{newRS}},
			want: `
Name:                   web
Namespace:              default
CreationTimestamp:      Fri, 02 Jan 2026 10:00:00 +0000
Labels:                 app=web
Annotations:            <none>
Selector:               app=web
Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable
StrategyType:           RollingUpdate
MinReadySeconds:        0
RollingUpdateStrategy:  25% max unavailable, 25% max surge
Pod Template:
  Labels:  app=web
  Containers:
   web:
    Image:         nginx:1.25
    Port:          80/TCP
    Host Port:     0/TCP
    Environment:   <none>
    Mounts:        <none>
  Volumes:         <none>
  Node-Selectors:  <none>
  Tolerations:     <none>
Conditions:
  Type           Status  Reason
  ----           ------  ------
  Available      True    MinimumReplicasAvailable
  Progressing    True    NewReplicaSetAvailable
OldReplicaSets:  <none>
NewReplicaSet:   web-7d4b9c (3/3 replicas created)
Events:          <none>
`,
		},
		{
			name: "events can be hidden",
			kind: source.ConfigMap, obj: cm, related: Related{HideEvents: true},
			want: `
Name:         settings
Namespace:    default
Labels:       app=web
Annotations:  <none>
`,
		},
		{
			name: "other kinds get the common header and events",
			kind: source.ConfigMap, obj: cm, related: Related{Events: []corev1.Event{}},
			want: `
Name:         settings
Namespace:    default
Labels:       app=web
Annotations:  <none>
Events:       <none>
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Describe(&buf, tc.kind, tc.obj, tc.related, testNow); err != nil {
				t.Fatal(err)
			}
			checkOutput(t, buf.String(), golden(tc.want))
		})
	}
}

func TestDescribeNode(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: meta("", "lab-worker", 24*time.Hour, map[string]string{"kubernetes.io/hostname": "lab-worker"}),
		Spec:       corev1.NodeSpec{PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24"}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status",
				LastHeartbeatTime: ago(time.Minute), LastTransitionTime: ago(24 * time.Hour),
			}},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.18.0.3"}, {Type: corev1.NodeHostName, Address: "lab-worker"}},
			NodeInfo:  corev1.NodeSystemInfo{KernelVersion: "6.18.0", OSImage: "podnet lab", OperatingSystem: "linux", Architecture: "amd64", KubeletVersion: "v1.33.0"},
		},
	}
	pods := []*corev1.Pod{
		runningPod("default", "web-1", "10.244.1.5", "lab-worker", time.Hour, nil),
		runningPod("default", "elsewhere", "10.244.2.5", "lab-worker2", time.Hour, nil),
	}
	tests := []struct {
		name string
		want string
	}{
		{
			name: "a node shows conditions, addresses, system info, pod CIDRs and its pods",
			want: `
Name:               lab-worker
Roles:              <none>
Labels:             kubernetes.io/hostname=lab-worker
Annotations:        <none>
CreationTimestamp:  Thu, 01 Jan 2026 12:00:00 +0000
Taints:             <none>
Unschedulable:      false
Conditions:
  Type    Status  LastHeartbeatTime                 LastTransitionTime                Reason         Message
  ----    ------  -----------------                 ------------------                ------         -------
  Ready   True    Fri, 02 Jan 2026 11:59:00 +0000   Thu, 01 Jan 2026 12:00:00 +0000   KubeletReady   kubelet is posting ready status
Addresses:
  InternalIP:  172.18.0.3
  Hostname:    lab-worker
System Info:
  Machine ID:                 
  System UUID:                
  Boot ID:                    
  Kernel Version:             6.18.0
  OS Image:                   podnet lab
  Operating System:           linux
  Architecture:               amd64
  Container Runtime Version:  
  Kubelet Version:            v1.33.0
PodCIDR:                      10.244.1.0/24
PodCIDRs:                     10.244.1.0/24
Non-terminated Pods:          (1 in total)
  Namespace                   Name     Age
  ---------                   ----     ---
  default                     web-1    60m
Events:                       <none>
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Describe(&buf, source.Node, node, Related{Pods: pods}, testNow); err != nil {
				t.Fatal(err)
			}
			checkOutput(t, buf.String(), golden(tc.want))
		})
	}
}
