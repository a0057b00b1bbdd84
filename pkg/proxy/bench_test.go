package proxy

import (
	"context"
	"fmt"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
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

// BenchmarkPartialCompile times what a partial sync computes before the
// kernel sees it: one Service among 10,000 recompiled and swapped into the
// applied Ruleset (fake table), and reports the operations sent.
func BenchmarkPartialCompile(b *testing.B) {
	ctx := context.Background()
	in := manyServices(10000, 10)
	in.Slots = NewSlots()
	a := NewApplier(&countingNFT{}, nil)
	if err := a.Apply(ctx, Compile(in)); err != nil {
		b.Fatal(err)
	}
	keys := map[string]bool{"bench/svc-5000": true}
	variants := []*discoveryv1.EndpointSlice{in.EndpointSlices[5000],
		endpointSlice("bench", "svc-5000", "a", []slicePortSpec{sliceTCP("http", 8080)}, ready("10.200.0.1"))}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		in.EndpointSlices[5000] = variants[i%2]
		if err := a.ApplyServices(ctx, CompileServices(in, keys)); err != nil {
			b.Fatal(err)
		}
	}
}

// countingNFT accepts every transaction without keeping anything: the
// benchmark measures our side only.
type countingNFT struct{ knftables.Interface }

func (c *countingNFT) NewTransaction() *knftables.Transaction {
	return knftables.NewFake(knftables.IPv4Family, testTable).NewTransaction()
}
func (c *countingNFT) Run(context.Context, *knftables.Transaction) error { return nil }
func (c *countingNFT) ListAll(context.Context) (map[string][]string, error) {
	return nil, nil
}
