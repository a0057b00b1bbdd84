package controller

import (
	"math/rand/v2"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/podnet/podnet/pkg/apiserver"
	"github.com/podnet/podnet/pkg/source"
	"github.com/podnet/podnet/pkg/store"
)

// TestThroughAPIServer writes through the lab's API layer, as the lab
// wires it, so defaulting and validation see what the controllers create.
func TestThroughAPIServer(t *testing.T) {
	cases := []struct {
		name    string
		objects []source.Object
		check   func(t *testing.T, e *env)
	}{
		{
			name:    "a defaulted deployment settles with one ReplicaSet, its pods and a slice for its service",
			objects: []source.Object{deployment("backend", 2), service("backend", map[string]string{"app": "backend"}, svcPort("http", 80, intstr.FromInt32(8080)))},
			check: func(t *testing.T, e *env) {
				if n := len(e.replicaSets()); n != 1 {
					t.Errorf("%d ReplicaSets, want 1", n)
				}
				if n := len(e.pods(labels.SelectorFromSet(map[string]string{"app": "backend"}))); n != 2 {
					t.Errorf("%d pods, want 2", n)
				}
				ss := e.slices("backend")
				if len(ss) != 1 || len(ss[0].Endpoints) != 2 {
					t.Errorf("slices %q", describeSlices(ss))
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
			st, err := store.New("", clk)
			if err != nil {
				t.Fatal(err)
			}
			api, err := apiserver.New(st, apiserver.Config{Rand: rand.New(rand.NewPCG(5, 6))})
			if err != nil {
				t.Fatal(err)
			}
			e := &env{t: t, st: st, clk: clk, nextIP: 10}
			e.m = NewManager(st, api, Config{Clock: clk, Rand: rand.New(rand.NewPCG(1, 2))})
			if _, err := api.Apply(append([]source.Object{node("node-1", nil)}, tc.objects...), false); err != nil {
				t.Fatal(err)
			}
			e.settle()
			tc.check(t, e)
			// Settled means a further pass writes nothing.
			before := e.m.writes.Load()
			e.sync()
			if after := e.m.writes.Load(); after != before {
				t.Errorf("a pass after settling wrote %d times", after-before)
			}
		})
	}
}
