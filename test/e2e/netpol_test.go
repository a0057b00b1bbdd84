package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const npData = "testdata/netpol/"

// reach runs the tutorials' probe, `wget --spider --timeout=1 URL`, in a
// pod and reports whether it connected.
func (l *lab) reach(pod, ns, url string) bool {
	l.t.Helper()
	r := l.run("exec", pod, "-n", ns, "--", "wget", "--spider", "--timeout=1", url)
	return r.code == 0
}

// expectReach waits (enforcement is asynchronous, like any CNI's) until
// the probe gives the expected answer, and fails if it never does.
func (l *lab) expectReach(pod, ns, url string, want bool) {
	l.t.Helper()
	word := map[bool]string{true: "reach", false: "be refused by"}[want]
	eventually(l.t, fmt.Sprintf("%s/%s should %s %s", ns, pod, word, url), 10*time.Second, func() error {
		if got := l.reach(pod, ns, url); got != want {
			return fmt.Errorf("wget from %s/%s to %s: connected=%v", ns, pod, url, got)
		}
		return nil
	})
}

// verifyClean runs `policy verify` and fails on any mismatch between the
// model and real probes.
func (l *lab) verifyClean(args ...string) {
	l.t.Helper()
	r := l.run(append([]string{"policy", "verify"}, args...)...)
	if r.code != 0 || !strings.Contains(r.err, " 0 mismatches") {
		l.t.Errorf("policy verify found mismatches:\n%s", r)
	}
}

// Seed 004: the access=true label lab, then namespaces, then lab 9.
func TestSeed004NetworkPolicies(t *testing.T) {
	l := newLab(t)
	l.up()
	l.must("apply", "-f", npData+"nwpolicy-complete-example.yaml")
	l.must("expose", "pod", "nginx", "--port=80")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	// "kubectl exec -it busybox -- wget --spider --timeout=1 nginx will fail"
	l.expectReach("busybox", "default", "nginx", false)
	l.must("label", "pod", "busybox", "access=true")
	// "... will work"
	l.expectReach("busybox", "default", "nginx", true)
	// Taking the label away closes it again, without restarting anything.
	l.must("label", "pod", "busybox", "access-")
	l.expectReach("busybox", "default", "nginx", false)

	// Namespaces: from nwp-namespace the Service's FQDN works until
	// nwp-lab9-2 admits only nwp-nginx's own namespace.
	l.must("create", "ns", "nwp-namespace")
	l.must("apply", "-f", npData+"nwp-lab9-1.yaml")
	l.must("expose", "pod", "nwp-nginx", "--port=80")
	l.waitAll()
	l.expectReach("nwp-busybox", "nwp-namespace", "nwp-nginx.default.svc.cluster.local", true)
	l.must("apply", "-f", npData+"nwp-lab9-2.yaml")
	l.expectReach("nwp-busybox", "nwp-namespace", "nwp-nginx.default.svc.cluster.local", false)
	l.must("create", "deployment", "busybox", "--image=busybox", "--", "sleep", "3600")
	l.must("wait", "--for=condition=Ready", "pod", "-l", "app=busybox", "--timeout=60s")
	bb := strings.TrimSpace(l.must("get", "pods", "-l", "app=busybox", "-o", "jsonpath={.items[0].metadata.name}"))
	l.expectReach(bb, "default", "nwp-nginx", true)

	// Lab 9: only sleepybox1 reaches lab9server.
	l.must("apply", "-f", npData+"lab9.yaml")
	l.must("expose", "pod", "lab9server", "-n", "restricted", "--port=80")
	l.waitAll()
	l.expectReach("sleepybox1", "default", "lab9server.restricted.svc.cluster.local", true)
	l.expectReach("sleepybox2", "default", "lab9server.restricted.svc.cluster.local", false)
	l.expectReach("nwp-busybox", "nwp-namespace", "lab9server.restricted.svc.cluster.local", false)

	// The model says the same, and real probes of every pair agree.
	x := l.must("policy", "explain", "sleepybox2", "restricted/lab9server", "--port", "80/TCP")
	if !strings.Contains(x, "DENIED") || !strings.Contains(x, "restricted/mynp") {
		t.Errorf("explain sleepybox2 -> lab9server:\n%s", x)
	}
	l.verifyClean("--ports", "80/TCP")
}

// Seed 000: allow-frontend-to-backend lets the frontend in and keeps
// otherpod out; deny-all then stops everything in the namespace.
func TestSeed000NetworkPolicies(t *testing.T) {
	l := newLab(t)
	l.up()
	ex := "../../examples/frontend-backend/"
	l.must("apply", "-f", ex)
	l.must("run", "otherpod", "--image=busybox", "--", "sleep", "3600")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	l.must("apply", "-f", npData+"network-policy.yaml")
	l.expectReach("otherpod", "default", "backend.default.svc.cluster.local", false)
	// "The frontend pod should still be able to access the backend service
	// via DNS": curl, as in the tutorial.
	eventually(t, "frontend curls the backend by name", 10*time.Second, func() error {
		r := l.run("exec", "frontend", "--", "curl", "-sS", "--max-time", "2", "backend.default.svc.cluster.local")
		if r.code != 0 || !strings.Contains(r.out, "Welcome to nginx!") {
			return fmt.Errorf("%s", r)
		}
		return nil
	})
	r := l.run("exec", "otherpod", "--", "nslookup", "backend.default.svc.cluster.local")
	if r.code != 0 {
		t.Errorf("otherpod is not isolated for egress, so its DNS works:\n%s", r)
	}
	l.verifyClean()

	// Example 1: deny-all. "No pod can talk to any other pod."
	l.must("apply", "-f", npData+"deny-all-policy.yaml")
	eventually(t, "frontend is cut off", 10*time.Second, func() error {
		r := l.run("exec", "frontend", "--", "curl", "-sS", "--max-time", "1", "backend.default.svc.cluster.local")
		if r.code == 0 {
			return fmt.Errorf("curl still works:\n%s", r)
		}
		return nil
	})
	x := l.must("policy", "explain", "frontend", "otherpod", "--port", "80/TCP")
	if !strings.Contains(x, "default/frontend is isolated for egress by default/deny-all") {
		t.Errorf("explain should name deny-all:\n%s", x)
	}
	l.verifyClean()
}

// Seed 002 as written: default-deny isolates egress too, so the frontend
// cannot reach the backend and DNS is cut; the tutorial's DNS policy
// selects nothing (lint says why); the fixed policies make the tiers work.
func TestSeed002DefaultDenyTiersAndDNS(t *testing.T) {
	l := newLab(t)
	l.up()
	l.must("apply", "-f", npData+"three-tier.yaml")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	l.expectReach("frontend", "default", "http://backend-api:8080/", true)

	l.must("apply", "-f", npData+"seed002-policies.yaml")
	l.expectReach("frontend", "default", "http://backend-api:8080/", false)
	x := l.must("policy", "explain", "frontend", "backend", "--port", "8080/TCP")
	if !strings.Contains(x, "default/frontend is isolated for egress by default/default-deny") ||
		!strings.Contains(x, "Ingress rule #1 of default/backend-allow-frontend allows from default/frontend on 8080/TCP") {
		t.Errorf("explain frontend -> backend:\n%s", x)
	}

	l.must("apply", "-f", npData+"seed002-allow-dns.yaml")
	if r := l.run("exec", "frontend", "--", "nslookup", "-timeout=1", "backend-api"); strings.Contains(r.out, "Name:") {
		t.Errorf("DNS through a namespaceSelector on name=kube-system should fail:\n%s", r)
	}
	lint := l.run("policy", "lint")
	if lint.code != 1 || !strings.Contains(lint.out, "kubernetes.io/metadata.name=kube-system, not name=kube-system") {
		t.Errorf("lint should explain the name label:\n%s", lint)
	}

	l.must("apply", "-f", npData+"seed002-fixed.yaml")
	eventually(t, "DNS works once allowed by the real namespace label", 10*time.Second, func() error {
		// busybox's nslookup exits 1 when any search domain is NXDOMAIN.
		if r := l.run("exec", "frontend", "--", "nslookup", "-timeout=1", "backend-api"); !strings.Contains(r.out, "backend-api.default.svc.cluster.local") {
			return fmt.Errorf("%s", r)
		}
		return nil
	})
	l.expectReach("frontend", "default", "http://backend-api:8080/", true)
	l.expectReach("backend", "default", "http://database:5432/", true)
	l.expectReach("frontend", "default", "http://database:5432/", false)
	l.expectReach("database", "default", "http://backend-api:8080/", false)
	l.verifyClean()
}

// The upstream e2e model (namespaces x, y, z; pods a, b, c serving TCP 80
// and 81) with policies in, the expected truth table out: the model's
// matrix must equal the expected one, and real probes must equal the model.
func TestTruthTables(t *testing.T) {
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
	model := t.TempDir() + "/model.yaml"
	writeFile(t, model, strings.Join(docs, "\n---\n"))
	l.must("apply", "-f", model)
	l.waitAll()

	cases := []struct {
		name, policy string
		// denied lists "from>to:port" cells; every other cell is allowed.
		denied []string
	}{
		{"deny ingress to x/a except from y/b on a named port", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: case, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: b}}}], ports: [{port: serve-81-tcp}]}]`,
			[]string{"x/b>x/a:80", "x/b>x/a:81", "x/c>x/a:80", "x/c>x/a:81", "y/a>x/a:80", "y/a>x/a:81", "y/b>x/a:80",
				"y/c>x/a:80", "y/c>x/a:81", "z/a>x/a:80", "z/a>x/a:81", "z/b>x/a:80", "z/b>x/a:81", "z/c>x/a:80", "z/c>x/a:81"}},
		{"egress of y/c only to an ipBlock with an exception", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: case, namespace: "y"}
spec:
  podSelector: {matchLabels: {pod: c}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.244.0.0/16, except: [XA/32]}}], ports: [{port: 80}]}]`,
			nil}, // filled in below: y/c reaches every pod on 80 except x/a, nothing on 81
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l.t = t
			policy := tc.policy
			denied := map[string]bool{}
			for _, d := range tc.denied {
				denied[d] = true
			}
			if strings.Contains(policy, "XA/32") {
				xa := strings.TrimSpace(l.must("get", "pod", "a", "-n", "x", "-o", "jsonpath={.status.podIP}"))
				policy = strings.ReplaceAll(policy, "XA", xa)
				for _, to := range []string{"x/a", "x/b", "x/c", "y/a", "y/b", "z/a", "z/b", "z/c"} {
					denied["y/c>"+to+":81"] = true
				}
				denied["y/c>x/a:80"] = true
			}
			file := t.TempDir() + "/policy.yaml"
			writeFile(t, file, policy)
			l.must("apply", "-f", file)
			var cells []struct {
				From, To string
				Port     int
				Allowed  bool
			}
			if err := json.Unmarshal([]byte(l.must("policy", "matrix", "-o", "json", "--ports", "80/TCP,81/TCP")), &cells); err != nil {
				t.Fatal(err)
			}
			for _, c := range cells {
				if strings.HasPrefix(c.From, "kube-system/") || strings.HasPrefix(c.To, "kube-system/") || c.From == c.To {
					continue
				}
				key := fmt.Sprintf("%s>%s:%d", c.From, c.To, c.Port)
				if c.Allowed == denied[key] {
					t.Errorf("model: %s allowed=%v, expected %v", key, c.Allowed, !denied[key])
				}
			}
			// Spot checks with the tutorials' tool, then every pair.
			xa := strings.TrimSpace(l.must("get", "pod", "a", "-n", "x", "-o", "jsonpath={.status.podIP}"))
			for _, port := range []string{"80", "81"} {
				l.expectReach("b", "y", "http://"+xa+":"+port+"/", !denied["y/b>x/a:"+port])
				l.expectReach("c", "y", "http://"+xa+":"+port+"/", !denied["y/c>x/a:"+port])
			}
			l.verifyClean("--ports", "80/TCP,81/TCP")
			l.must("delete", "-f", file)
		})
	}
	l.t = t
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitAll waits until every pod of every namespace is ready (wait has no -A).
func (l *lab) waitAll() {
	l.t.Helper()
	eventually(l.t, "every pod ready", 60*time.Second, func() error {
		out := l.must("get", "pods", "-A", "--no-headers")
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 || f[2] != "1/1" {
				return fmt.Errorf("not ready: %s", line)
			}
		}
		return nil
	})
}
