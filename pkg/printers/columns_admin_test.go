package printers

import (
	"bytes"
	"testing"
	"time"

	policyv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/podnet/podnet/pkg/source"
)

func TestPrintAdminNetworkPolicies(t *testing.T) {
	anp := func(name string, prio int32) source.Object {
		return &policyv1alpha1.AdminNetworkPolicy{ObjectMeta: meta("", name, time.Hour, nil),
			Spec: policyv1alpha1.AdminNetworkPolicySpec{Priority: prio}}
	}
	banp := &policyv1alpha1.BaselineAdminNetworkPolicy{ObjectMeta: meta("", "default", 2*time.Hour, nil)}
	tests := []struct {
		name string
		kind source.Kind
		objs []source.Object
		opts Options
		want string
	}{
		{"adminnetworkpolicies show their priority, as the CRD's printer columns do",
			source.AdminNetworkPolicy, []source.Object{anp("deny-y", 10), anp("pass-monitoring", 5)}, Options{}, `
NAME              PRIORITY   AGE
deny-y            10         60m
pass-monitoring   5          60m
`},
		{"adminnetworkpolicies are cluster-scoped: no NAMESPACE column",
			source.AdminNetworkPolicy, []source.Object{anp("a", 0)}, Options{WithNamespace: true}, `
NAME   PRIORITY   AGE
a      0          60m
`},
		{"the baselineadminnetworkpolicy shows name and age",
			source.BaselineAdminNetworkPolicy, []source.Object{banp}, Options{}, `
NAME      AGE
default   120m
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = testNow
			var buf bytes.Buffer
			if err := PrintTable(&buf, tc.kind, tc.objs, tc.opts); err != nil {
				t.Fatal(err)
			}
			checkOutput(t, buf.String(), golden(tc.want))
		})
	}
	for arg, want := range map[string]source.Kind{
		"anp": source.AdminNetworkPolicy, "adminnetworkpolicies": source.AdminNetworkPolicy,
		"adminnetworkpolicies.policy.networking.k8s.io": source.AdminNetworkPolicy,
		"banp": source.BaselineAdminNetworkPolicy, "baselineadminnetworkpolicy": source.BaselineAdminNetworkPolicy,
	} {
		if got, err := ResolveKind(arg); err != nil || got != want {
			t.Errorf("ResolveKind(%q) = %q, %v; want %q", arg, got, err, want)
		}
	}
}
