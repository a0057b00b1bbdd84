package printers

import (
	"bytes"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podnet/podnet/pkg/source"
)

// golden trims the leading newline of a raw string literal so expected
// output can start on its own line.
func golden(s string) string { return strings.TrimPrefix(s, "\n") }

func checkOutput(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("output mismatch\n--- got:\n%s\n--- want:\n%s", got, want)
	}
}

func TestPrintTable(t *testing.T) {
	web := runningPod("default", "web-7d4b9c-abcde", "10.244.1.5", "lab-worker", 5*time.Minute, map[string]string{"app": "web"})
	dns := runningPod("kube-system", "coredns-5d78c-xyz12", "10.244.0.2", "lab-control-plane", 3*time.Hour, map[string]string{"k8s-app": "kube-dns"})
	pending := &corev1.Pod{
		ObjectMeta: meta("default", "api", 10*time.Second, nil),
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodPending},
	}

	lb := &corev1.Service{
		ObjectMeta: meta("default", "frontend", 2*time.Hour, nil),
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.0.50", ClusterIPs: []string{"10.96.0.50"},
			Ports: []corev1.ServicePort{
				{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP},
				{Port: 443, NodePort: 30443, Protocol: corev1.ProtocolTCP},
			},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "172.18.255.200"}}}},
	}
	pendingLB := lb.DeepCopy()
	pendingLB.Name = "pending"
	pendingLB.Status = corev1.ServiceStatus{}
	headless := clusterIPService("default", "db", "None", time.Hour, map[string]string{"app": "db"}, tcpPort("", 5432, 5432))
	external := &corev1.Service{
		ObjectMeta: meta("default", "search", 48*time.Hour, nil),
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "www.example.com"},
	}
	nodePort := &corev1.Service{
		ObjectMeta: meta("default", "np", 30*time.Second, nil),
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.7.7", ClusterIPs: []string{"10.96.7.7"},
			Ports:    []corev1.ServicePort{{Port: 8080, NodePort: 31000, Protocol: corev1.ProtocolUDP}},
			Selector: map[string]string{"app": "np", "tier": "be"},
		},
	}

	epManyReady := &corev1.Endpoints{
		ObjectMeta: meta("default", "web", time.Hour, nil),
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.244.1.5"}, {IP: "10.244.1.6"}, {IP: "10.244.2.3"}, {IP: "10.244.2.4"}, {IP: "10.244.2.5"}},
			Ports:     []corev1.EndpointPort{{Port: 80}},
		}},
	}
	epEmpty := &corev1.Endpoints{ObjectMeta: meta("default", "empty", time.Hour, nil)}

	sl := slice("default", "web-abcde", "web", []discoveryv1.EndpointPort{slicePort("http", 80), slicePort("https", 443)},
		endpoint("10.244.1.5", true), endpoint("10.244.1.6", true), endpoint("10.244.2.3", true), endpoint("10.244.2.4", false))
	emptySlice := slice("default", "empty-xyz", "empty", nil)

	node := &corev1.Node{
		ObjectMeta: meta("", "lab-control-plane", 24*time.Hour, map[string]string{"node-role.kubernetes.io/control-plane": ""}),
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.18.0.2"}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.33.0", OSImage: "podnet lab", KernelVersion: "6.18.0", ContainerRuntimeVersion: "podnet://0.1"},
		},
	}
	worker := &corev1.Node{
		ObjectMeta: meta("", "lab-worker", 24*time.Hour, nil),
		Spec:       corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.33.0"},
		},
	}

	rs := &appsv1.ReplicaSet{
		ObjectMeta: meta("default", "web-7d4b9c", 2*time.Hour, nil),
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "7d4b9c"}},
			Template: deployment("default", "web", 3, 3, 3, 3, 0).Spec.Template,
		},
		Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 2},
	}
	sts := &appsv1.StatefulSet{
		ObjectMeta: meta("default", "web", 90*time.Second, nil),
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr(int32(2)),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "nginx", Image: "nginx:1.25"}, {Name: "sidecar", Image: "busybox"},
			}}},
		},
		Status: appsv1.StatefulSetStatus{ReadyReplicas: 1},
	}

	denyAll := netpol("default", "default-deny", time.Hour, networkingv1.NetworkPolicySpec{})
	apiAllow := netpol("default", "api-allow", time.Hour, networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "bookstore", "role": "api"}},
	})

	ing := &networkingv1.Ingress{
		ObjectMeta: meta("default", "example", time.Hour, nil),
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr("nginx"),
			Rules:            []networkingv1.IngressRule{{Host: "foo.example.com"}, {Host: "bar.example.com"}},
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{"foo.example.com"}}},
		},
		Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "172.18.255.201"}}}},
	}
	ingNoHost := &networkingv1.Ingress{ObjectMeta: meta("default", "catch-all", time.Hour, nil)}

	cm := &corev1.ConfigMap{ObjectMeta: meta("default", "kube-root-ca.crt", 24*time.Hour, nil), Data: map[string]string{"ca.crt": "x"}}
	secret := &corev1.Secret{ObjectMeta: meta("default", "creds", time.Hour, nil), StringData: map[string]string{"user": "u", "pass": "p"}}
	tlsSecret := &corev1.Secret{ObjectMeta: meta("default", "tls", time.Hour, nil), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}}
	ns := &corev1.Namespace{ObjectMeta: meta("", "default", 24*time.Hour, nil), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	noAge := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}

	tests := []struct {
		name string
		kind source.Kind
		objs []source.Object
		opts Options
		want string
	}{
		{
			name: "pods are listed by namespace then name with READY STATUS RESTARTS AGE",
			kind: source.Pod, objs: []source.Object{dns, web, pending},
			want: `
NAME                  READY   STATUS    RESTARTS   AGE
api                   0/2     Pending   0          10s
web-7d4b9c-abcde      1/1     Running   0          5m
coredns-5d78c-xyz12   1/1     Running   0          3h
`,
		},
		{
			name: "wide pods add IP NODE NOMINATED NODE READINESS GATES with <none> for blanks",
			kind: source.Pod, objs: []source.Object{web, pending}, opts: Options{Wide: true},
			want: `
NAME               READY   STATUS    RESTARTS   AGE   IP           NODE         NOMINATED NODE   READINESS GATES
api                0/2     Pending   0          10s   <none>       <none>       <none>           <none>
web-7d4b9c-abcde   1/1     Running   0          5m    10.244.1.5   lab-worker   <none>           <none>
`,
		},
		{
			name: "all namespaces puts NAMESPACE first",
			kind: source.Pod, objs: []source.Object{dns, web}, opts: Options{WithNamespace: true},
			want: `
NAMESPACE     NAME                  READY   STATUS    RESTARTS   AGE
default       web-7d4b9c-abcde      1/1     Running   0          5m
kube-system   coredns-5d78c-xyz12   1/1     Running   0          3h
`,
		},
		{
			name: "show labels adds LABELS last and <none> for an unlabelled pod",
			kind: source.Pod, objs: []source.Object{web, pending}, opts: Options{ShowLabels: true},
			want: `
NAME               READY   STATUS    RESTARTS   AGE   LABELS
api                0/2     Pending   0          10s   <none>
web-7d4b9c-abcde   1/1     Running   0          5m    app=web
`,
		},
		{
			name: "services show ports, node ports, pending and assigned load balancers, headless and external names",
			kind: source.Service, objs: []source.Object{lb, pendingLB, headless, external, nodePort},
			want: `
NAME       TYPE           CLUSTER-IP   EXTERNAL-IP       PORT(S)                      AGE
db         ClusterIP      None         <none>            5432/TCP                     60m
frontend   LoadBalancer   10.96.0.50   172.18.255.200    80:30080/TCP,443:30443/TCP   120m
np         NodePort       10.96.7.7    <none>            8080:31000/UDP               30s
pending    LoadBalancer   10.96.0.50   <pending>         80:30080/TCP,443:30443/TCP   120m
search     ExternalName   <none>       www.example.com   <none>                       2d
`,
		},
		{
			name: "wide services add SELECTOR",
			kind: source.Service, objs: []source.Object{nodePort, external}, opts: Options{Wide: true},
			want: `
NAME     TYPE           CLUSTER-IP   EXTERNAL-IP       PORT(S)          AGE   SELECTOR
np       NodePort       10.96.7.7    <none>            8080:31000/UDP   30s   app=np,tier=be
search   ExternalName   <none>       www.example.com   <none>           2d    <none>
`,
		},
		{
			name: "endpoints list three addresses then a count, <none> when empty",
			kind: EndpointsKind, objs: []source.Object{epManyReady, epEmpty},
			want: `
NAME    ENDPOINTS                                               AGE
empty   <none>                                                  60m
web     10.244.1.5:80,10.244.1.6:80,10.244.2.3:80 + 2 more...   60m
`,
		},
		{
			name: "endpointslices show ports, first three addresses, and <unset> when empty",
			kind: source.EndpointSlice, objs: []source.Object{sl, emptySlice},
			want: `
NAME        ADDRESSTYPE   PORTS     ENDPOINTS                                      AGE
empty-xyz   IPv4          <unset>   <unset>                                        60m
web-abcde   IPv4          80,443    10.244.1.5,10.244.1.6,10.244.2.3 + 1 more...   60m
`,
		},
		{
			name: "namespaces show phase, and <unknown> age without a creation time",
			kind: source.Namespace, objs: []source.Object{ns, noAge},
			want: `
NAME      STATUS   AGE
default   Active   24h
fresh     Active   <unknown>
`,
		},
		{
			name: "nodes show readiness, roles and kubelet version",
			kind: source.Node, objs: []source.Object{worker, node},
			want: `
NAME                STATUS                        ROLES           AGE   VERSION
lab-control-plane   Ready                         control-plane   24h   v1.33.0
lab-worker          NotReady,SchedulingDisabled   <none>          24h   v1.33.0
`,
		},
		{
			name: "wide nodes add addresses and system info with <none> and <unknown> blanks",
			kind: source.Node, objs: []source.Object{node, worker}, opts: Options{Wide: true},
			want: `
NAME                STATUS                        ROLES           AGE   VERSION   INTERNAL-IP   EXTERNAL-IP   OS-IMAGE     KERNEL-VERSION   CONTAINER-RUNTIME
lab-control-plane   Ready                         control-plane   24h   v1.33.0   172.18.0.2    <none>        podnet lab   6.18.0           podnet://0.1
lab-worker          NotReady,SchedulingDisabled   <none>          24h   v1.33.0   <none>        <none>        <unknown>    <unknown>        <unknown>
`,
		},
		{
			name: "deployments show ready of desired, up-to-date and available",
			kind: source.Deployment, objs: []source.Object{deployment("default", "web", 3, 2, 3, 2, 2*time.Hour)},
			want: `
NAME   READY   UP-TO-DATE   AVAILABLE   AGE
web    2/3     3            2           120m
`,
		},
		{
			name: "wide deployments add containers, images and selector",
			kind: source.Deployment, objs: []source.Object{deployment("default", "web", 3, 2, 3, 2, 2*time.Hour)}, opts: Options{Wide: true},
			want: `
NAME   READY   UP-TO-DATE   AVAILABLE   AGE    CONTAINERS   IMAGES       SELECTOR
web    2/3     3            2           120m   web          nginx:1.25   app=web
`,
		},
		{
			name: "wide replicasets show desired current ready and the full selector",
			kind: source.ReplicaSet, objs: []source.Object{rs}, opts: Options{Wide: true},
			want: `
NAME         DESIRED   CURRENT   READY   AGE    CONTAINERS   IMAGES       SELECTOR
web-7d4b9c   3         3         2       120m   web          nginx:1.25   app=web,pod-template-hash=7d4b9c
`,
		},
		{
			name: "wide statefulsets join several containers with commas",
			kind: source.StatefulSet, objs: []source.Object{sts}, opts: Options{Wide: true},
			want: `
NAME   READY   AGE   CONTAINERS      IMAGES
web    1/2     90s   nginx,sidecar   nginx:1.25,busybox
`,
		},
		{
			name: "networkpolicies show the pod selector, <none> when it selects all pods",
			kind: source.NetworkPolicy, objs: []source.Object{denyAll, apiAllow},
			want: `
NAME           POD-SELECTOR             AGE
api-allow      app=bookstore,role=api   60m
default-deny   <none>                   60m
`,
		},
		{
			name: "ingresses show class, hosts, address and TLS ports, * without hosts",
			kind: source.Ingress, objs: []source.Object{ing, ingNoHost},
			want: `
NAME        CLASS    HOSTS                             ADDRESS          PORTS     AGE
catch-all   <none>   *                                                  80        60m
example     nginx    foo.example.com,bar.example.com   172.18.255.201   80, 443   60m
`,
		},
		{
			name: "configmaps count data keys",
			kind: source.ConfigMap, objs: []source.Object{cm},
			want: `
NAME               DATA   AGE
kube-root-ca.crt   1      24h
`,
		},
		{
			name: "secrets default to Opaque and count stringData keys",
			kind: source.Secret, objs: []source.Object{secret, tlsSecret},
			want: `
NAME    TYPE                DATA   AGE
creds   Opaque              2      60m
tls     kubernetes.io/tls   2      60m
`,
		},
		{
			name: "all namespaces adds no NAMESPACE column to cluster-scoped kinds",
			kind: source.Namespace, objs: []source.Object{ns}, opts: Options{WithNamespace: true},
			want: `
NAME      STATUS   AGE
default   Active   24h
`,
		},
		{
			name: "an empty list prints nothing",
			kind: source.Pod, objs: nil,
			want: "\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = testNow
			var buf bytes.Buffer
			if err := PrintTable(&buf, tc.kind, tc.objs, tc.opts); err != nil {
				t.Fatal(err)
			}
			checkOutput(t, buf.String(), golden(tc.want))
		})
	}
}

func TestPodStatusColumns(t *testing.T) {
	base := func() *corev1.Pod {
		return runningPod("default", "p", "10.244.0.9", "n", time.Hour, nil)
	}
	tests := []struct {
		name     string
		mutate   func(p *corev1.Pod)
		ready    string
		status   string
		restarts string
	}{
		{
			name:   "a running ready pod is Running 1/1",
			mutate: func(p *corev1.Pod) {}, ready: "1/1", status: "Running", restarts: "0",
		},
		{
			name: "a waiting container's reason replaces the phase",
			mutate: func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodPending
				p.Status.ContainerStatuses[0] = corev1.ContainerStatus{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
			},
			ready: "0/1", status: "ContainerCreating", restarts: "0",
		},
		{
			name: "a crash looping container shows its restarts and when it last died",
			mutate: func(p *corev1.Pod) {
				p.Status.ContainerStatuses[0] = corev1.ContainerStatus{
					Name: "app", RestartCount: 4,
					State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: ago(90 * time.Second)}},
				}
			},
			ready: "0/1", status: "CrashLoopBackOff", restarts: "4 (90s ago)",
		},
		{
			name: "a finished container shows Completed",
			mutate: func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodSucceeded
				p.Status.ContainerStatuses[0] = corev1.ContainerStatus{Name: "app", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}}
			},
			ready: "0/1", status: "Completed", restarts: "0",
		},
		{
			name: "a container killed without a reason shows its exit code",
			mutate: func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodFailed
				p.Status.ContainerStatuses[0] = corev1.ContainerStatus{Name: "app", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137}}}
			},
			ready: "0/1", status: "ExitCode:137", restarts: "0",
		},
		{
			name: "a pod being deleted is Terminating",
			mutate: func(p *corev1.Pod) {
				p.DeletionTimestamp = ptr(ago(time.Second))
			},
			ready: "1/1", status: "Terminating", restarts: "0",
		},
		{
			name: "a pod waiting on its init container shows Init:0/1",
			mutate: func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodPending
				p.Spec.InitContainers = []corev1.Container{{Name: "init"}}
				p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
				p.Status.ContainerStatuses[0] = corev1.ContainerStatus{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}
			},
			ready: "0/1", status: "Init:0/1", restarts: "0",
		},
		{
			name: "a failed init container shows Init:Error",
			mutate: func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodPending
				p.Spec.InitContainers = []corev1.Container{{Name: "init"}}
				p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", RestartCount: 2, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}}
			},
			// Main containers are not counted until the pod is initialized.
			ready: "0/1", status: "Init:Error", restarts: "2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			tc.mutate(p)
			cells, err := podRow(p, cellContext{now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			if cells[1] != tc.ready || cells[2] != tc.status || cells[3] != tc.restarts {
				t.Errorf("READY STATUS RESTARTS = %q %q %q, want %q %q %q", cells[1], cells[2], cells[3], tc.ready, tc.status, tc.restarts)
			}
		})
	}
}

func TestPrintAll(t *testing.T) {
	web := runningPod("default", "web-7d4b9c-abcde", "10.244.1.5", "lab-worker", 5*time.Minute, nil)
	kube := clusterIPService("default", "kubernetes", "10.96.0.1", 24*time.Hour, nil, tcpPort("https", 443, 6443))
	dep := deployment("default", "web", 1, 1, 1, 1, 5*time.Minute)
	tests := []struct {
		name   string
		groups []KindObjects
		opts   Options
		want   string
	}{
		{
			name: "get all prints one table per kind with kind-prefixed names and blank lines between",
			groups: []KindObjects{
				{source.Pod, []source.Object{web}},
				{source.Service, []source.Object{kube}},
				{source.Deployment, []source.Object{dep}},
				{source.ReplicaSet, nil},
			},
			opts: Options{WithKind: true},
			want: `
NAME                   READY   STATUS    RESTARTS   AGE
pod/web-7d4b9c-abcde   1/1     Running   0          5m

NAME                 TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE
service/kubernetes   ClusterIP   10.96.0.1    <none>        443/TCP   24h

NAME                  READY   UP-TO-DATE   AVAILABLE   AGE
deployment.apps/web   1/1     1            1           5m
`,
		},
		{
			name: "get all across namespaces keeps the NAMESPACE column in each table",
			groups: []KindObjects{
				{source.Pod, []source.Object{web}},
				{source.Service, []source.Object{kube}},
			},
			opts: Options{WithKind: true, WithNamespace: true},
			want: `
NAMESPACE   NAME                   READY   STATUS    RESTARTS   AGE
default     pod/web-7d4b9c-abcde   1/1     Running   0          5m

NAMESPACE   NAME                 TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE
default     service/kubernetes   ClusterIP   10.96.0.1    <none>        443/TCP   24h
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = testNow
			var buf bytes.Buffer
			if err := PrintAll(&buf, tc.groups, tc.opts); err != nil {
				t.Fatal(err)
			}
			checkOutput(t, buf.String(), golden(tc.want))
		})
	}
}

func TestNoResourcesMessage(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		all       bool
		want      string
	}{
		{"one namespace is named", "default", false, "No resources found in default namespace."},
		{"all namespaces names none", "default", true, "No resources found"},
		{"cluster-scoped kinds name none", "", false, "No resources found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := NoResourcesMessage(tc.namespace, tc.all); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
