package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Offline, AdminNetworkPolicies in the input take part in matrix, explain
// and diff like any policy.
func TestPolicyAdminOffline(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.yaml"), mustRead(t, filepath.Join(policyData, "cluster.yaml")), 0o644)
	os.WriteFile(filepath.Join(dir, "anp.yaml"), []byte(`apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-z}
spec:
  priority: 3
  subject: {namespaces: {}}
  egress: [{name: no-z, action: Deny, to: [{namespaces: {matchLabels: {ns: z}}}]}]
`), 0o644)
	out, err := runPolicy(t, "policy", "explain", "x/a", "z/b", "--port", "80/TCP", "-f", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "DENIED") || !strings.Contains(out, `egress rule #1 "no-z" (Deny) of AdminNetworkPolicy deny-z (priority 3)`) {
		t.Errorf("explain:\n%s", out)
	}
	before := t.TempDir()
	os.WriteFile(filepath.Join(before, "c.yaml"), mustRead(t, filepath.Join(policyData, "cluster.yaml")), 0o644)
	out, err = runPolicy(t, "policy", "diff", "-f", before, "-f", dir, "--ports", "80/TCP")
	if err != nil {
		t.Fatal(err)
	}
	// Every pod loses the pods of z but itself: 6 × 3 + 3 × 2 lines and a header.
	if n := strings.Count(out, "\n"); n != 6*3+3*2+1 || strings.Contains(out, "+ ") {
		t.Errorf("diff should remove only connections into z (%d lines):\n%s", n, out)
	}
}
