package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/podnet/podnet/pkg/dns"
	"github.com/podnet/podnet/pkg/source"
)

const cluster = `apiVersion: v1
kind: Service
metadata: {name: nginx}
spec:
  clusterIP: 10.96.0.50
  selector: {app: nginx}
  ports: [{name: http, port: 80, targetPort: web}]
---
apiVersion: v1
kind: Pod
metadata: {name: nginx-0, labels: {app: nginx}}
spec:
  hostname: nginx-0
  subdomain: nginx
  containers: [{name: c, image: nginx, ports: [{name: web, containerPort: 8080}]}]
status:
  phase: Running
  podIP: 10.244.0.7
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: Pod
metadata: {name: nginx-1, labels: {app: nginx}}
spec: {containers: [{name: c, image: nginx}]}
status:
  phase: Running
  podIP: 10.244.0.8
  conditions: [{type: Ready, status: "False"}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  ports: [{name: pg, port: 5432}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: db-manual
  labels: {kubernetes.io/service-name: db}
addressType: IPv4
ports: [{name: pg, port: 5432, protocol: TCP}]
endpoints:
- addresses: [10.244.9.9]
  hostname: primary
`

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTakesObjectsAsGiven(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "cluster.yaml", cluster)
	objs, err := Load([]string{dir}, false)
	if err != nil {
		t.Fatal(err)
	}
	z := dns.Compile(inputs(objs))
	cases := []struct {
		name, qname string
		qtype       uint16
		want        string
	}{
		{"a derived slice publishes the ready pod under its hostname", "nginx-0.nginx.default.svc.cluster.local.", mdns.TypeA,
			"nginx-0.nginx.default.svc.cluster.local. 30 IN A 10.244.0.7"},
		{"a pod whose Ready condition is False is not published", "10-244-0-8.nginx.default.svc.cluster.local.", mdns.TypeA, ""},
		{"the derived slice resolves a named targetPort through the container port", "nginx.default.svc.cluster.local.", mdns.TypeSRV,
			"nginx.default.svc.cluster.local. 30 IN SRV 0 100 80 nginx.default.svc.cluster.local."},
		{"a slice in the input is used as it is", "primary.db.default.svc.cluster.local.", mdns.TypeA,
			"primary.db.default.svc.cluster.local. 30 IN A 10.244.9.9"},
		{"a headless Service with a slice in the input answers from it", "_pg._tcp.db.default.svc.cluster.local.", mdns.TypeSRV,
			"_pg._tcp.db.default.svc.cluster.local. 30 IN SRV 0 100 5432 primary.db.default.svc.cluster.local."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := z.Lookup(tc.qname, tc.qtype)
			got := ""
			if len(r.Answer) > 0 {
				got = strings.Join(strings.Fields(r.Answer[0].String()), " ")
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	var derived int
	for _, o := range objs {
		if k, _ := source.KindOf(o); k == source.EndpointSlice {
			derived++
		}
	}
	if derived != 2 {
		t.Errorf("%d EndpointSlices, want the input's one plus one derived for nginx", derived)
	}
}

func TestLoadRejectsBadManifests(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"an invalid Service names the object and field", "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  ports: [{port: 70000}]\n",
			"The Service \"bad\" is invalid: \n* spec.ports[0].port: Invalid value: 70000"},
		{"YAML that does not parse names the file", "apiVersion: v1\nkind: [\n", "error parsing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "a.yaml", tc.text)
			_, err := Load([]string{dir}, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestReplaceSetsAndDeletes(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "cluster.yaml", cluster)
	objs, err := Load([]string{dir}, false)
	if err != nil {
		t.Fatal(err)
	}
	st := source.NewStatic(objs...)
	write(t, dir, "cluster.yaml", strings.SplitN(cluster, "---", 2)[0])
	objs, err = Load([]string{dir}, false)
	if err != nil {
		t.Fatal(err)
	}
	Replace(st, objs)
	if n := len(st.List(source.Pod)); n != 0 {
		t.Errorf("%d pods left after they left the manifests", n)
	}
	if _, ok := st.Get(source.Service, "default", "nginx"); !ok {
		t.Errorf("the Service that stayed is gone")
	}
}

func inputs(objs []source.Object) dns.Inputs {
	var in dns.Inputs
	for _, o := range objs {
		switch k, _ := source.KindOf(o); k {
		case source.Service:
			in.Services = append(in.Services, asService(o))
		case source.EndpointSlice:
			in.EndpointSlices = append(in.EndpointSlices, asSlice(o))
		}
	}
	return in
}
