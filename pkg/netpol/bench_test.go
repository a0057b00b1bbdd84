package netpol

import (
	"testing"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/netpol/netpolgen"
)

// BenchmarkMatrix is the scale: 1,000 pods in 50 namespaces with
// 1,000 policies, every pod pair on the destination's two ports (2M
// verdicts), from objects to a finished Matrix.
func BenchmarkMatrix(b *testing.B) {
	objs := netpolgen.Cluster(netpolgen.Default)
	for _, o := range objs {
		manifest.Default(o)
	}
	b.ReportAllocs()
	for b.Loop() {
		e, err := New(FromObjects(objs))
		if err != nil {
			b.Fatal(err)
		}
		m := e.Matrix(nil)
		if m.Len() != 2*len(m.Pods)*len(m.Pods) {
			b.Fatalf("matrix has %d verdicts", m.Len())
		}
	}
}
