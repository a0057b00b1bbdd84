package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podnet/podnet/pkg/source"
)

// describeSlice renders a slice as one line a reader can check at a
// glance: "IPv4 [http/TCP/8080] 10.244.0.1(ready,serving node=node-1)".
func describeSlice(es *discoveryv1.EndpointSlice) string {
	var ports []string
	for _, p := range es.Ports {
		ports = append(ports, fmt.Sprintf("%s/%s/%d", deref(p.Name), deref(p.Protocol), deref(p.Port)))
	}
	var eps []string
	for _, ep := range es.Endpoints {
		var flags []string
		if deref(ep.Conditions.Ready) {
			flags = append(flags, "ready")
		}
		if deref(ep.Conditions.Serving) {
			flags = append(flags, "serving")
		}
		if deref(ep.Conditions.Terminating) {
			flags = append(flags, "terminating")
		}
		if ep.Hostname != nil {
			flags = append(flags, "host="+*ep.Hostname)
		}
		if ep.NodeName != nil {
			flags = append(flags, "node="+*ep.NodeName)
		}
		if ep.TargetRef != nil {
			flags = append(flags, "pod="+ep.TargetRef.Name)
		}
		eps = append(eps, fmt.Sprintf("%s(%s)", strings.Join(ep.Addresses, ","), strings.Join(flags, ",")))
	}
	slices.Sort(eps)
	return fmt.Sprintf("%s [%s] %s", es.AddressType, strings.Join(ports, " "), strings.Join(eps, " "))
}

func describeSlices(ss []*discoveryv1.EndpointSlice) []string {
	var out []string
	for _, es := range ss {
		out = append(out, describeSlice(es))
	}
	slices.Sort(out)
	return out
}

func TestEndpointSlices(t *testing.T) {
	app := map[string]string{"app": "web"}
	http := svcPort("http", 80, intstr.FromInt32(8080))
	named := svcPort("http", 80, intstr.FromString("http"))
	cport := func(name string, n int32) corev1.ContainerPort {
		return corev1.ContainerPort{Name: name, ContainerPort: n, Protocol: corev1.ProtocolTCP}
	}
	cases := []struct {
		name    string
		objects []source.Object
		want    []string
	}{
		{
			name:    "ready and not-ready pods are both published with their readiness",
			objects: []source.Object{service("web", app, http), pod("a", app, "10.244.0.1", true), pod("b", app, "10.244.0.2", false)},
			want:    []string{"IPv4 [http/TCP/8080] 10.244.0.1(ready,serving,node=node-1,pod=a) 10.244.0.2(node=node-1,pod=b)"},
		},
		{
			name: "publishNotReadyAddresses makes every endpoint ready while serving follows the pod",
			objects: []source.Object{func() source.Object {
				s := service("web", app, http)
				s.Spec.PublishNotReadyAddresses = true
				return s
			}(), pod("b", app, "10.244.0.2", false)},
			want: []string{"IPv4 [http/TCP/8080] 10.244.0.2(ready,node=node-1,pod=b)"},
		},
		{
			name: "a named targetPort resolves per pod, so pods with different numbers land in different slices",
			objects: []source.Object{service("web", app, named),
				pod("a", app, "10.244.0.1", true, cport("http", 8080)), pod("b", app, "10.244.0.2", true, cport("http", 9090))},
			want: []string{
				"IPv4 [http/TCP/8080] 10.244.0.1(ready,serving,node=node-1,pod=a)",
				"IPv4 [http/TCP/9090] 10.244.0.2(ready,serving,node=node-1,pod=b)",
			},
		},
		{
			name: "a pod that lacks the named port is published in a slice without that port",
			objects: []source.Object{service("web", app, named, svcPort("metrics", 9100, intstr.FromInt32(9100))),
				pod("a", app, "10.244.0.1", true, cport("http", 8080)), pod("b", app, "10.244.0.2", true)},
			want: []string{
				"IPv4 [http/TCP/8080 metrics/TCP/9100] 10.244.0.1(ready,serving,node=node-1,pod=a)",
				"IPv4 [metrics/TCP/9100] 10.244.0.2(ready,serving,node=node-1,pod=b)",
			},
		},
		{
			name: "a named port matches only a container port of the same protocol",
			objects: []source.Object{service("web", app, named),
				pod("a", app, "10.244.0.1", true, corev1.ContainerPort{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolUDP})},
			want: []string{"IPv4 [] 10.244.0.1(ready,serving,node=node-1,pod=a)"},
		},
		{
			name: "the hostname is published only for pods whose subdomain is the service",
			objects: []source.Object{service("web", app, http),
				func() source.Object {
					p := pod("a", app, "10.244.0.1", true)
					p.Spec.Hostname, p.Spec.Subdomain = "a", "web"
					return p
				}(),
				func() source.Object {
					p := pod("b", app, "10.244.0.2", true)
					p.Spec.Hostname, p.Spec.Subdomain = "b", "other"
					return p
				}()},
			want: []string{"IPv4 [http/TCP/8080] 10.244.0.1(ready,serving,host=a,node=node-1,pod=a) 10.244.0.2(ready,serving,node=node-1,pod=b)"},
		},
		{
			name: "finished pods, pods without an IP and pods of other apps are left out",
			objects: []source.Object{service("web", app, http),
				func() source.Object {
					p := pod("done", app, "10.244.0.1", false)
					p.Status.Phase = corev1.PodSucceeded
					return p
				}(),
				func() source.Object {
					p := pod("failed", app, "10.244.0.2", false)
					p.Status.Phase = corev1.PodFailed
					return p
				}(),
				func() source.Object {
					p := pod("new", app, "", false)
					p.Status.PodIPs = nil
					return p
				}(),
				pod("other", map[string]string{"app": "other"}, "10.244.0.3", true),
				pod("ok", app, "10.244.0.4", true)},
			want: []string{"IPv4 [http/TCP/8080] 10.244.0.4(ready,serving,node=node-1,pod=ok)"},
		},
		{
			name: "a terminating pod is published as terminating",
			objects: []source.Object{service("web", app, http), func() source.Object {
				p := pod("a", app, "10.244.0.1", true)
				now := metav1.Now()
				p.DeletionTimestamp = &now
				return p
			}()},
			want: []string{"IPv4 [http/TCP/8080] 10.244.0.1(ready,serving,terminating,node=node-1,pod=a)"},
		},
		{
			name:    "a service matching no pods gets one empty placeholder slice",
			objects: []source.Object{service("web", app, http)},
			want:    []string{"IPv4 [] "},
		},
		{
			name: "an IPv6 pod of an IPv6 service gets an IPv6 slice",
			objects: []source.Object{func() source.Object {
				s := service("web", app, http)
				s.Spec.ClusterIP, s.Spec.IPFamilies = "fd00::10", []corev1.IPFamily{corev1.IPv6Protocol}
				return s
			}(), pod("a", app, "fd00:10:244::5", true)},
			want: []string{"IPv6 [http/TCP/8080] fd00:10:244::5(ready,serving,node=node-1,pod=a)"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.create(node("node-1", nil))
			for _, o := range tc.objects {
				e.create(o)
			}
			e.sync()
			if got := describeSlices(e.slices("web")); !slices.Equal(got, tc.want) {
				t.Errorf("slices:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestEndpointSliceLifecycle(t *testing.T) {
	app := map[string]string{"app": "web"}
	http := svcPort("http", 80, intstr.FromInt32(8080))
	cases := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{
			name: "slices carry the service's labels, the controller's labels and an owner reference to the service",
			run: func(t *testing.T, e *env) {
				s := service("web", app, http)
				s.Labels = map[string]string{"tier": "front", discoveryv1.LabelManagedBy: "someone"}
				s.Spec.ClusterIP = corev1.ClusterIPNone
				svc := e.create(s)
				e.create(pod("a", app, "10.244.0.1", true))
				e.sync()
				ss := e.slices("web")
				if len(ss) != 1 {
					t.Fatalf("got %d slices", len(ss))
				}
				want := map[string]string{"tier": "front", discoveryv1.LabelServiceName: "web",
					discoveryv1.LabelManagedBy: endpointSliceControllerName, corev1.IsHeadlessService: ""}
				if !mapsEqual(ss[0].Labels, want) {
					t.Errorf("labels %v, want %v", ss[0].Labels, want)
				}
				if !strings.HasPrefix(ss[0].Name, "web-") || len(ss[0].Name) != len("web-")+5 {
					t.Errorf("name %q, want web- and 5 random characters", ss[0].Name)
				}
				checkControllerRef(t, ss[0], svc.GetUID(), "Service", "v1")
			},
		},
		{
			name: "a pod IP change updates the slice in place",
			run: func(t *testing.T, e *env) {
				e.create(service("web", app, http))
				p := e.create(pod("a", app, "10.244.0.1", true)).(*corev1.Pod)
				e.sync()
				before := e.slices("web")
				p = p.DeepCopy()
				p.Status.PodIP, p.Status.PodIPs = "10.244.0.9", []corev1.PodIP{{IP: "10.244.0.9"}}
				e.update(p)
				e.sync()
				after := e.slices("web")
				if len(after) != 1 || after[0].Name != before[0].Name {
					t.Fatalf("slices %v after IP change, want the same single slice %s", describeSlices(after), before[0].Name)
				}
				if got := after[0].Endpoints[0].Addresses; !slices.Equal(got, []string{"10.244.0.9"}) {
					t.Errorf("addresses %v", got)
				}
			},
		},
		{
			name: "a pod becoming ready flips its endpoint without renaming the slice",
			run: func(t *testing.T, e *env) {
				e.create(service("web", app, http))
				p := e.create(pod("a", app, "10.244.0.1", false)).(*corev1.Pod)
				e.sync()
				before := e.slices("web")[0].Name
				e.setRunning(p, true)
				e.sync()
				ss := e.slices("web")
				if len(ss) != 1 || ss[0].Name != before || !deref(ss[0].Endpoints[0].Conditions.Ready) {
					t.Errorf("slices %v", describeSlices(ss))
				}
			},
		},
		{
			name: "a selectorless service's own slice is left alone and gets no managed slice",
			run: func(t *testing.T, e *env) {
				e.create(service("web", nil, http))
				addr := "192.0.2.10"
				ready := true
				user := e.create(&discoveryv1.EndpointSlice{
					ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
					AddressType: discoveryv1.AddressTypeIPv4,
					Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
				})
				e.sync()
				ss := e.slices("web")
				if len(ss) != 1 || ss[0].Name != "web-1" || ss[0].ResourceVersion != user.GetResourceVersion() {
					t.Errorf("slices %v, want only the untouched user slice", describeSlices(ss))
				}
			},
		},
		{
			name: "deleting the service deletes its slices",
			run: func(t *testing.T, e *env) {
				e.create(service("web", app, http))
				e.create(pod("a", app, "10.244.0.1", true))
				e.sync()
				if err := e.st.Delete(source.Service, "default", "web"); err != nil {
					t.Fatal(err)
				}
				e.sync()
				if ss := e.slices("web"); len(ss) != 0 {
					t.Errorf("slices %v remain", describeSlices(ss))
				}
			},
		},
		{
			name: "more than 100 endpoints are spread over several slices",
			run: func(t *testing.T, e *env) {
				e.create(service("web", app, http))
				for i := range 150 {
					e.create(pod(fmt.Sprintf("p%03d", i), app, fmt.Sprintf("10.244.%d.%d", i/200, i%200+1), true))
				}
				e.sync()
				ss := e.slices("web")
				if len(ss) != 2 || len(ss[0].Endpoints)+len(ss[1].Endpoints) != 150 ||
					len(ss[0].Endpoints) > maxEndpointsPerSlice || len(ss[1].Endpoints) > maxEndpointsPerSlice {
					t.Errorf("got %d slices", len(ss))
				}
			},
		},
		{
			name: "pods losing the named port move to a new slice and the old one goes",
			run: func(t *testing.T, e *env) {
				e.create(service("web", app, svcPort("http", 80, intstr.FromString("http"))))
				e.create(pod("a", app, "10.244.0.1", true, corev1.ContainerPort{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}))
				e.sync()
				s := e.get(source.Service, "default", "web").(*corev1.Service).DeepCopy()
				s.Spec.Ports[0].TargetPort = intstr.FromInt32(9000)
				e.update(s)
				e.sync()
				if got := describeSlices(e.slices("web")); !slices.Equal(got, []string{"IPv4 [http/TCP/9000] 10.244.0.1(ready,serving,node=node-1,pod=a)"}) {
					t.Errorf("slices %q", got)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.create(node("node-1", nil))
			tc.run(t, e)
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
