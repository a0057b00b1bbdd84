package enforce

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/netpol"
	"github.com/podnet/podnet/pkg/netpol/netpolgen"
	"github.com/podnet/podnet/pkg/source"
)

// The enforcer recompiles only the pods a change can affect; after every
// change of a random sequence (pod labels, IPs, nodes and ports, pods
// coming and going, policies added, changed and deleted, namespace
// labels) the kernel must hold exactly what a full compile of the new
// state gives. The seed is fixed so a failure reproduces.
func TestIncrementalEqualsFullCompile(t *testing.T) {
	objs := netpolgen.Cluster(netpolgen.Config{Namespaces: 6, Pods: 60, Policies: 60, Nodes: 2, Seed: 3})
	for _, o := range objs {
		manifest.Default(o)
	}
	src := source.NewStatic(objs...)
	e, table := startEnforcerOn(t, src, "node-0")
	waitApplied(t, e)
	rng := rand.New(rand.NewPCG(9, 9))
	list := func(k source.Kind) []source.Object {
		out := src.List(k)
		if len(out) == 0 {
			t.Fatalf("no %s left", k)
		}
		return out
	}
	for step := range 150 {
		var what string
		switch rng.IntN(8) {
		case 0, 1:
			p := list(source.Pod)[rng.IntN(len(list(source.Pod)))].(*corev1.Pod).DeepCopy()
			p.Labels = maps.Clone(p.Labels)
			p.Labels["app"] = []string{"frontend", "api", "db", "cache"}[rng.IntN(4)]
			if rng.IntN(2) == 0 {
				p.Labels["version"] = "v2"
			}
			what = "relabel pod " + source.Key(p)
			src.Set(p)
		case 2:
			p := list(source.Pod)[rng.IntN(len(list(source.Pod)))].(*corev1.Pod).DeepCopy()
			p.Status.PodIP = fmt.Sprintf("10.244.%d.%d", rng.IntN(8), 2+rng.IntN(250))
			p.Spec.NodeName = fmt.Sprintf("node-%d", rng.IntN(2))
			what = "move pod " + source.Key(p)
			src.Set(p)
		case 3:
			p := list(source.Pod)[rng.IntN(len(list(source.Pod)))].(*corev1.Pod)
			what = "delete pod " + source.Key(p)
			src.Delete(p)
			if rng.IntN(2) == 0 {
				q := p.DeepCopy()
				q.Name += "-new"
				q.Spec.Containers[0].Ports[0].Name = "http"
				src.Set(q)
			}
		case 4:
			np := list(source.NetworkPolicy)[rng.IntN(len(list(source.NetworkPolicy)))].(*networkingv1.NetworkPolicy)
			what = "delete policy " + source.Key(np)
			src.Delete(np)
		case 5, 6:
			np := list(source.NetworkPolicy)[rng.IntN(len(list(source.NetworkPolicy)))].(*networkingv1.NetworkPolicy).DeepCopy()
			np.Name = fmt.Sprintf("changed-%d", step%7)
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromString("metrics"))}},
			})
			what = "add or change policy " + source.Key(np)
			src.Set(np)
		case 7:
			ns := list(source.Namespace)[rng.IntN(len(list(source.Namespace)))].(*corev1.Namespace).DeepCopy()
			ns.Labels = maps.Clone(ns.Labels)
			ns.Labels["env"] = []string{"prod", "staging", "dev"}[rng.IntN(3)]
			what = "relabel namespace " + ns.Name
			src.Set(ns)
		}
		waitApplied(t, e)
		eng, err := netpol.New(netpol.FromSource(src))
		if err != nil {
			t.Fatal(err)
		}
		want, got := Compile(eng, "node-0"), kernelRuleset(table)
		for _, d := range setDefs {
			for k := range want.Sets[d.name] {
				if _, ok := got.Sets[d.name][k]; !ok {
					t.Fatalf("step %d (%s): %s lacks %s", step, what, d.name, k)
				}
			}
			for k := range got.Sets[d.name] {
				if _, ok := want.Sets[d.name][k]; !ok {
					t.Fatalf("step %d (%s): %s has stale %s", step, what, d.name, k)
				}
			}
		}
	}
}
