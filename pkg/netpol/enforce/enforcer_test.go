package enforce

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/source"
)

// flakyTable is the knftables fake with a switch that makes transactions
// fail, as a kernel refusing an update would.
type flakyTable struct {
	*knftables.Fake
	fail atomic.Bool
	runs atomic.Int32
	ops  atomic.Int32 // operations of the last successful transaction
}

func (f *flakyTable) Run(ctx context.Context, tx *knftables.Transaction) error {
	f.runs.Add(1)
	if f.fail.Load() {
		return errors.New("injected failure")
	}
	f.ops.Store(int32(tx.NumOperations()))
	return f.Fake.Run(ctx, tx)
}

// kernelRuleset reads the sets back out of the fake table.
func kernelRuleset(f *flakyTable) *Ruleset {
	r := newRuleset()
	if f.Table == nil {
		return r
	}
	for name, s := range f.Table.Sets {
		for _, el := range s.Elements {
			r.add(name, el.Key...)
		}
	}
	return r
}

func objects(t *testing.T, docs string) []source.Object {
	t.Helper()
	objs, err := manifest.Decode(strings.NewReader(docs), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		manifest.Default(o)
	}
	return objs
}

const twoPods = `apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default, labels: {app: web}}
spec: {nodeName: n1, containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]}
status: {podIP: 10.244.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec: {nodeName: n1, containers: [{name: c, image: busybox}]}
status: {podIP: 10.244.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: elsewhere, namespace: default, labels: {app: client}}
spec: {nodeName: n2, containers: [{name: c, image: busybox}]}
status: {podIP: 10.244.1.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {access: "true"}}}], ports: [{port: 80}]}]
`

func startEnforcer(t *testing.T, src source.Source) (*Enforcer, *flakyTable) {
	t.Helper()
	return startEnforcerOn(t, src, "n1")
}

func startEnforcerOn(t *testing.T, src source.Source, node string) (*Enforcer, *flakyTable) {
	t.Helper()
	table := &flakyTable{Fake: knftables.NewFake(knftables.IPv4Family, Table)}
	e := NewWithTable(src, node, table, nil, clock.RealClock{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e, table
}

func waitApplied(t *testing.T, e *Enforcer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.WaitApplied(ctx); err != nil {
		t.Fatalf("enforcer did not apply: %v (last error: %v)", err, e.Err())
	}
}

func reaches(t *testing.T, table *flakyTable, from, to string, port int32) bool {
	return forward(t, kernelRuleset(table), netip.MustParseAddr(from), netip.MustParseAddr(to), corev1.ProtocolTCP, port)
}

func TestEnforcerFollowsLabelsAndPolicies(t *testing.T) {
	objs := objects(t, twoPods)
	src := source.NewStatic(objs...)
	e, table := startEnforcer(t, src)
	waitApplied(t, e)
	if reaches(t, table, "10.244.0.3", "10.244.0.2", 80) {
		t.Fatal("client without access=true reaches web")
	}
	if !reaches(t, table, "10.244.0.2", "10.244.0.3", 80) {
		t.Fatal("web (not isolated for egress) cannot reach client")
	}
	if got := kernelRuleset(table).Sets[setIngressIsolated]; len(got) != 1 {
		t.Errorf("only this node's isolated pod belongs in %s, got %v", setIngressIsolated, got)
	}

	// The tutorial's step: label the client, and it gets in, without
	// restarting anything.
	client := objs[2].(*corev1.Pod).DeepCopy()
	client.Labels["access"] = "true"
	src.Set(client)
	waitApplied(t, e)
	if !reaches(t, table, "10.244.0.3", "10.244.0.2", 80) || reaches(t, table, "10.244.0.3", "10.244.0.2", 81) {
		t.Fatal("after labelling, client should reach web on 80 only")
	}
	if ops := table.ops.Load(); ops > 2 {
		t.Errorf("a label change should be a small transaction, got %d operations", ops)
	}

	// Deleting the policy opens web again.
	src.Delete(objs[4])
	waitApplied(t, e)
	if !reaches(t, table, "10.244.1.2", "10.244.0.2", 81) {
		t.Error("without policies everything is allowed")
	}
	if n := kernelRuleset(table).Elements(); n != 0 {
		t.Errorf("no policy should leave no elements, got %d", n)
	}
}

// Fail closed: while the kernel refuses updates, the previous rules stay in
// force and the error is reported; once it accepts again, the enforcer
// catches up with a full write.
func TestEnforcerFailsClosed(t *testing.T) {
	objs := objects(t, twoPods)
	src := source.NewStatic(objs...)
	e, table := startEnforcer(t, src)
	waitApplied(t, e)

	table.fail.Store(true)
	runs := table.runs.Load()
	src.Delete(objs[4]) // would open web
	deadline := time.Now().Add(10 * time.Second)
	for e.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if e.Err() == nil || table.runs.Load() == runs {
		t.Fatal("the failed update was not attempted or not reported")
	}
	if reaches(t, table, "10.244.0.3", "10.244.0.2", 80) {
		t.Fatal("a failed update opened web")
	}
	table.fail.Store(false)
	waitApplied(t, e)
	if e.Err() != nil || !reaches(t, table, "10.244.0.3", "10.244.0.2", 80) {
		t.Fatalf("after the kernel recovers the policy deletion should be in force (err %v)", e.Err())
	}
}

// Restarting over a table left by a previous run converges to the wanted
// content without duplicates or leftovers.
func TestApplyOverLeftovers(t *testing.T) {
	objs := objects(t, twoPods)
	table := &flakyTable{Fake: knftables.NewFake(knftables.IPv4Family, Table)}
	ctx := context.Background()
	first := NewApplier(table)
	eng := engineFrom(t, objs)
	if _, err := first.Apply(ctx, Compile(eng, "n1")); err != nil {
		t.Fatal(err)
	}
	// The new run wants no policy at all.
	second := NewApplier(table)
	res, err := second.Apply(ctx, Compile(engineFrom(t, objs[:4]), "n1"))
	if err != nil || !res.Full {
		t.Fatalf("first apply of a new Applier must be full: %+v %v", res, err)
	}
	if n := kernelRuleset(table).Elements(); n != 0 {
		t.Errorf("leftover elements: %d\n%s", n, table.Dump())
	}
	if res, _ := second.Apply(ctx, Compile(engineFrom(t, objs[:4]), "n1")); res.Operations != 0 {
		t.Errorf("re-applying the same state should send nothing, sent %d operations", res.Operations)
	}
}

// Fail closed on the model too: a policy that cannot be compiled stops
// the update rather than dropping out (which would open what it
// isolates); once it is fixed, the enforcer catches up.
func TestEnforcerFailsClosedOnBadPolicy(t *testing.T) {
	objs := objects(t, twoPods)
	src := source.NewStatic(objs...)
	e, table := startEnforcer(t, src)
	waitApplied(t, e)

	bad := objs[4].(*networkingv1.NetworkPolicy).DeepCopy()
	bad.Spec.PodSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}
	src.Set(bad)
	deadline := time.Now().Add(10 * time.Second)
	for e.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if e.Err() == nil || !strings.Contains(e.Err().Error(), "default/web") {
		t.Fatalf("the bad policy was not reported by name: %v", e.Err())
	}
	if reaches(t, table, "10.244.0.3", "10.244.0.2", 80) {
		t.Fatal("a policy that failed to compile opened web")
	}
	client := objs[2].(*corev1.Pod).DeepCopy()
	client.Labels["access"] = "true"
	src.Set(client)
	src.Set(objs[4])
	waitApplied(t, e)
	if e.Err() != nil || !reaches(t, table, "10.244.0.3", "10.244.0.2", 80) {
		t.Fatalf("after the fix, the label change made while compiling failed should be in force (err %v)", e.Err())
	}
}
