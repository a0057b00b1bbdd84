package enforce

import (
	"context"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/netpol"
	"github.com/podnet/podnet/pkg/source"
)

// assertKernelIsFullCompile: the table holds exactly what a full compile of
// the source's current state wants, nothing stale and nothing missing.
func assertKernelIsFullCompile(t *testing.T, src source.Source, table *flakyTable, node string) {
	t.Helper()
	eng, err := netpol.New(netpol.FromSource(src))
	if err != nil {
		t.Fatal(err)
	}
	want, got := Compile(eng, node), kernelRuleset(table)
	for _, d := range setDefs {
		for k := range want.Sets[d.name] {
			if _, ok := got.Sets[d.name][k]; !ok {
				t.Errorf("%s lacks %s", d.name, k)
			}
		}
		for k := range got.Sets[d.name] {
			if _, ok := want.Sets[d.name][k]; !ok {
				t.Errorf("%s has stale %s", d.name, k)
			}
		}
	}
}

// The store publishes after the object is visible to List: a sync can see
// the change before its event.
func TestPodChangeSeenBeforeItsEvent(t *testing.T) {
	objs := objects(t, twoPods)
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok && p.Name == "client" {
			p.Labels = map[string]string{"app": "client", "access": "true"}
		}
	}
	src := source.NewStatic(objs...)
	table := &flakyTable{Fake: knftables.NewFake(knftables.IPv4Family, Table)}
	e := NewWithTable(src, "n1", table, nil, clock.RealClock{})
	ctx := context.Background()
	if err := e.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !reaches(t, table, "10.244.0.3", "10.244.0.2", 80) {
		t.Fatal("setup")
	}
	o, _ := src.Get(source.Pod, "default", "client")
	c := o.(*corev1.Pod).DeepCopy()
	c.Labels = maps.Clone(c.Labels)
	delete(c.Labels, "access")
	src.Set(c)                          // visible to List
	if err := e.sync(ctx); err != nil { // a sync for some other change, before the pod's event
		t.Fatal(err)
	}
	e.note(source.Event{Type: source.Modified, Kind: source.Pod, Object: c}) // the event arrives
	if err := e.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if reaches(t, table, "10.244.0.3", "10.244.0.2", 80) {
		t.Error("client without access=true still reaches web")
	}
	assertKernelIsFullCompile(t, src, table, "n1")
}

const anpNodes = `apiVersion: v1
kind: Node
metadata: {name: n2, labels: {role: worker}}
status: {addresses: [{type: InternalIP, address: 172.18.0.3}]}
---
` + anpDoc + `metadata: {name: deny-control}
spec:
  priority: 10
  subject: {namespaces: {}}
  egress:
  - name: no-control
    action: Deny
    to: [{nodes: {matchLabels: {role: control}}}]
`

// An AdminNetworkPolicy nodes peer puts node addresses into the sets: a
// node relabelled into its selector must reach them.
func TestNodeRelabelReachesANPNodesPeers(t *testing.T) {
	objs := append(objects(t, twoPods), objects(t, anpNodes)...)
	src := source.NewStatic(objs...)
	e, table := startEnforcerOn(t, src, "n1")
	waitApplied(t, e)
	o, _ := src.Get(source.Node, "", "n2")
	n := o.(*corev1.Node).DeepCopy()
	n.Labels = map[string]string{"role": "control"}
	src.Set(n)
	waitApplied(t, e)
	assertKernelIsFullCompile(t, src, table, "n1")
}
