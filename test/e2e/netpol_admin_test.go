package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// The admin tiers on a real lab, step by step on the e2e model
// (namespaces x, y, z; pods a, b, c serving TCP 80 and 81), probed with
// wget from the pods and checked pair by pair with `policy verify`:
//  1. an AdminNetworkPolicy Deny overrides a NetworkPolicy Allow;
//  2. an ANP Pass of higher precedence defers to NetworkPolicy, which then
//     allows some passed sources and denies others;
//  3. the BaselineAdminNetworkPolicy denies into pods no NetworkPolicy
//     isolates, and leaves alone those one does.
func TestAdminNetworkPolicyTiers(t *testing.T) {
	l := newLab(t)
	l.up()
	var docs []string
	for _, ns := range []string{"x", "y", "z"} {
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %q, labels: {ns: %q}}", ns, ns))
		for _, p := range []string{"a", "b", "c"} {
			docs = append(docs, fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %q, labels: {pod: %s}}
spec:
  containers:
  - name: serve
    image: busybox
    command: ["sh", "-c", "echo %s > index.html; httpd -p 81; exec httpd -f -p 80"]
    ports: [{name: serve-80-tcp, containerPort: 80}, {name: serve-81-tcp, containerPort: 81}]`, p, ns, p, p))
		}
	}
	dir := t.TempDir()
	writeFile(t, dir+"/model.yaml", strings.Join(docs, "\n---\n"))
	l.must("apply", "-f", dir+"/model.yaml")
	l.waitAll()
	ip := func(ns, pod string) string {
		return strings.TrimSpace(l.must("get", "pod", pod, "-n", ns, "-o", "jsonpath={.status.podIP}"))
	}
	url := func(ns, pod string) string { return "http://" + ip(ns, pod) + ":80/" }
	apply := func(name, doc string) {
		writeFile(t, dir+"/"+name+".yaml", doc)
		l.must("apply", "-f", dir+"/"+name+".yaml")
	}

	// 1. NetworkPolicy admits pod b of every namespace into x; the ANP
	// denies everything from y, b included.
	apply("np-x", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-b, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}]}]`)
	apply("anp-deny", `apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-y-to-x}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: no-y, action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`)
	l.expectReach("b", "y", url("x", "a"), false)
	l.expectReach("b", "z", url("x", "a"), true)
	l.expectReach("a", "z", url("x", "a"), false) // NetworkPolicy's own denial
	x := l.must("policy", "explain", "y/b", "x/a", "--port", "80/TCP")
	if !strings.Contains(x, "DENIED") || !strings.Contains(x, `"no-y" (Deny) of AdminNetworkPolicy deny-y-to-x (priority 10)`) {
		t.Errorf("explain y/b -> x/a should name the ANP rule:\n%s", x)
	}
	// The kernel holds the denial as elements of the admin deny set.
	set, err := exec.Command("ip", "netns", "exec", fmt.Sprintf("pn-%s-node0", l.name),
		"nft", "list", "set", "ip", "podnet-netpol", "admin-ingress-deny").CombinedOutput()
	if err != nil || !strings.Contains(string(set), "elements = {") || !strings.Contains(nftRules(t, l), "jump ingress-tiers") {
		t.Errorf("the node's table should hold the ANP's denial (%v):\n%s", err, set)
	}
	l.verifyClean("--ports", "80/TCP,81/TCP")

	// 2. A Pass of higher precedence (lower number) for y/b and y/c: it
	// skips the Deny, and NetworkPolicy admits b but not c.
	apply("anp-pass", `apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass-y-bc}
spec:
  priority: 5
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress:
  - name: to-netpol
    action: Pass
    from: [{pods: {namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchExpressions: [{key: pod, operator: In, values: [b, c]}]}}}]`)
	l.expectReach("b", "y", url("x", "a"), true)
	l.expectReach("c", "y", url("x", "a"), false)
	l.expectReach("a", "y", url("x", "a"), false)
	x = l.must("policy", "explain", "y/b", "x/a", "--port", "80/TCP")
	if !strings.Contains(x, "ALLOWED") || !strings.Contains(x, "(Pass) of AdminNetworkPolicy pass-y-bc (priority 5)") {
		t.Errorf("explain y/b -> x/a should say the Pass handed over to NetworkPolicy:\n%s", x)
	}
	out := l.must("get", "anp")
	if !strings.Contains(out, "PRIORITY") || !strings.Contains(out, "pass-y-bc") || !strings.Contains(out, "deny-y-to-x") {
		t.Errorf("get anp:\n%s", out)
	}
	l.verifyClean("--ports", "80/TCP,81/TCP")

	// 3. The baseline denies x into z; NetworkPolicy isolating z/a takes
	// z/a out of the baseline's hands.
	apply("banp", `apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {matchLabels: {ns: z}}}
  ingress: [{name: no-x, action: Deny, from: [{namespaces: {matchLabels: {ns: x}}}]}]`)
	apply("np-z", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all-a, namespace: z}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{}]`)
	l.expectReach("a", "x", url("z", "b"), false)
	l.expectReach("a", "x", url("z", "a"), true)
	l.expectReach("a", "y", url("z", "b"), true)
	if out := l.must("get", "banp"); !strings.Contains(out, "default") {
		t.Errorf("get banp:\n%s", out)
	}
	l.verifyClean("--ports", "80/TCP,81/TCP")

	// Deleting the ANPs hands x back to NetworkPolicy alone.
	l.must("delete", "-f", dir+"/anp-deny.yaml")
	l.must("delete", "-f", dir+"/anp-pass.yaml")
	l.expectReach("b", "y", url("x", "a"), true)
	l.expectReach("c", "y", url("x", "a"), false)
}
