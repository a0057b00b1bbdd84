package proxy

import (
	"context"
	"fmt"
	"testing"

	"sigs.k8s.io/knftables"
)

func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		in := manyServices(n, 10)
		b.Run(fmt.Sprintf("%d services x 10 endpoints", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Compile(in)
			}
		})
	}
}

// BenchmarkPartialSync times compiling and diffing after one service of 1000
// changed, and reports the transaction's size.
func BenchmarkPartialSync(b *testing.B) {
	ctx := context.Background()
	in := manyServices(1000, 10)
	in.Slots = NewSlots()
	fake := knftables.NewFake(knftables.IPv4Family, testTable)
	a := NewApplier(fake, nil)
	if err := a.Apply(ctx, Compile(in)); err != nil {
		b.Fatal(err)
	}
	variants := []*Ruleset{Compile(in), nil}
	in.EndpointSlices[500] = endpointSlice("bench", "svc-500", "a", []slicePortSpec{sliceTCP("http", 8080)}, ready("10.200.0.1"))
	variants[1] = Compile(in)
	ops := 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := a.Apply(ctx, variants[i%2]); err != nil {
			b.Fatal(err)
		}
		ops = fake.LastTransaction.NumOperations()
	}
	b.ReportMetric(float64(ops), "ops/tx")
}
