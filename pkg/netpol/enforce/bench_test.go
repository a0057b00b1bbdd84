package enforce

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/netpol"
	"github.com/podnet/podnet/pkg/netpol/netpolgen"
	"github.com/podnet/podnet/pkg/source"
)

// BenchmarkCompile is a full compile of one node's table at the issue's
// scale (1,000 pods, 250 on this node, 1,000 policies), from the source's
// state.
func BenchmarkCompile(b *testing.B) {
	objs := netpolgen.Cluster(netpolgen.Default)
	for _, o := range objs {
		manifest.Default(o)
	}
	src := source.NewStatic(objs...)
	b.ReportAllocs()
	var rs *Ruleset
	for b.Loop() {
		eng, err := netpol.New(netpol.FromSource(src))
		if err != nil {
			b.Fatal(err)
		}
		rs = Compile(eng, "node-0")
	}
	b.ReportMetric(float64(rs.Elements()), "elements")
}

// BenchmarkPolicyChange is one policy applied to a node already
// enforcing the scale, to the transaction done (fake kernel): the
// enforcer's share of the enforcement latency.
func BenchmarkPolicyChange(b *testing.B) {
	objs := netpolgen.Cluster(netpolgen.Default)
	for _, o := range objs {
		manifest.Default(o)
	}
	src := source.NewStatic(objs...)
	table := &countingTable{Interface: knftables.NewFake(knftables.IPv4Family, Table)}
	e := NewWithTable(src, "node-0", table, nil, clock.RealClock{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	if err := e.WaitApplied(ctx); err != nil {
		b.Fatal(err)
	}
	ops := 0
	for i := 0; b.Loop(); i++ {
		// A policy for the pods of one namespace, five of them on this
		// node, its port changing each time.
		np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: "ns-00"}}
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(int32(7000 + i%2)))}},
		}}
		table.ops = 0
		src.Set(np)
		if err := e.WaitApplied(ctx); err != nil {
			b.Fatal(err)
		}
		ops += table.ops
	}
	b.ReportMetric(float64(ops)/float64(b.N), "ops/change")
}

// countingTable counts the operations of each transaction and drops them:
// knftables' fake looks elements up one by one, too slow for a table of
// 200,000 elements.
type countingTable struct {
	knftables.Interface
	ops int
}

func (c *countingTable) Run(_ context.Context, tx *knftables.Transaction) error {
	c.ops = tx.NumOperations()
	return nil
}
