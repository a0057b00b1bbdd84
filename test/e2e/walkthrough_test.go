package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Seed 000, first half: a frontend pod reaches the backend Deployment through
// its Service by DNS name.
func TestSeed000FrontendReachesBackendByName(t *testing.T) {
	l := newLab(t)
	l.up()
	ex := "../../examples/frontend-backend/"
	out := l.must("apply", "-f", ex+"backend-deployment.yaml", "-f", ex+"backend-service.yaml", "-f", ex+"frontend-pod.yaml")
	for _, want := range []string{"deployment.apps/backend created", "service/backend created", "pod/frontend created"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	ip := strings.TrimSpace(l.must("get", "svc", "backend", "-o", "jsonpath={.spec.clusterIP}"))
	if !regexp.MustCompile(`^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$`).MatchString(ip) {
		t.Fatalf("backend clusterIP %q is not in 10.96.0.0/12", ip)
	}

	ns := l.must("exec", "-it", "frontend", "--", "nslookup", "backend.default.svc.cluster.local")
	if !strings.Contains(ns, "backend.default.svc.cluster.local") || !strings.Contains(ns, ip) {
		t.Errorf("nslookup did not resolve the Service to %s:\n%s", ip, ns)
	}
	page := l.must("exec", "-it", "frontend", "--", "curl", "-sS", "--max-time", "5", "backend.default.svc.cluster.local")
	if !strings.Contains(page, "Welcome to nginx!") || !strings.Contains(page, "Server name: backend-") {
		t.Errorf("curl through the Service did not reach a backend pod:\n%s", page)
	}

	// Applying the same files again changes nothing.
	again := l.must("apply", "-f", ex)
	if strings.Count(again, "unchanged") != 3 {
		t.Errorf("re-apply should leave all three objects unchanged:\n%s", again)
	}
}

// Seed 004, namespaces: a short name resolves only in the pod's own
// namespace; the FQDN works from anywhere.
func TestSeed004ShortNamesStayInTheirNamespace(t *testing.T) {
	l := newLab(t)
	l.up()
	if out := l.must("create", "ns", "remote"); !strings.Contains(out, "namespace/remote created") {
		t.Errorf("create ns: %s", out)
	}
	l.must("run", "interginx", "--image=nginx")
	l.must("run", "remotebox", "--image=busybox", "-n", "remote", "--", "sleep", "3600")
	if out := l.must("expose", "pod", "interginx", "--port=80"); !strings.Contains(out, "service/interginx exposed") {
		t.Errorf("expose: %s", out)
	}
	l.must("wait", "--for=condition=Ready", "pod/remotebox", "-n", "remote", "--timeout=60s")
	l.must("wait", "--for=condition=Ready", "pod/interginx", "--timeout=60s")

	resolv := l.must("exec", "-it", "remotebox", "-n", "remote", "--", "cat", "/etc/resolv.conf")
	for _, want := range []string{"search remote.svc.cluster.local svc.cluster.local cluster.local", "nameserver 10.96.0.10", "options ndots:5"} {
		if !strings.Contains(resolv, want) {
			t.Errorf("resolv.conf lacks %q:\n%s", want, resolv)
		}
	}
	short := l.run("exec", "-it", "remotebox", "-n", "remote", "--", "nslookup", "interginx")
	if short.code == 0 || !strings.Contains(short.out+short.err, "NXDOMAIN") {
		t.Errorf("nslookup interginx from namespace remote should fail with NXDOMAIN, as in the tutorial:\n%s", short)
	}
	svcIP := strings.TrimSpace(l.must("get", "svc", "interginx", "-o", "jsonpath={.spec.clusterIP}"))
	fqdn := l.must("exec", "-it", "remotebox", "-n", "remote", "--", "nslookup", "interginx.default.svc.cluster.local")
	if !strings.Contains(fqdn, svcIP) {
		t.Errorf("nslookup of the FQDN should answer %s:\n%s", svcIP, fqdn)
	}
	page := l.must("exec", "remotebox", "-n", "remote", "--", "wget", "-qO-", "-T", "5", "interginx.default.svc.cluster.local")
	if !strings.Contains(page, "Server name: interginx") {
		t.Errorf("wget through the Service from another namespace:\n%s", page)
	}
	// A name outside the cluster gets a clear failure, not a hang.
	ext := l.run("exec", "remotebox", "-n", "remote", "--", "nslookup", "example.com.")
	if ext.code == 0 {
		t.Errorf("an external name resolved with no upstream configured:\n%s", ext)
	}
}

// Seed 004: a deployment made with a command, its pod's name completed by
// the shell (kubectl exec -it busybox[Tab]).
func TestCompletionOfPodNames(t *testing.T) {
	l := newLab(t)
	l.up()
	l.must("create", "deployment", "busybox", "--image=busybox", "--", "sleep", "3600")
	l.must("wait", "--for=condition=Ready", "pod", "-l", "app=busybox", "--timeout=60s")
	out := l.must("__complete", "exec", "busybox")
	if !regexp.MustCompile(`(?m)^busybox-[a-z0-9]+-[a-z0-9]{5}$`).MatchString(out) {
		t.Errorf("completing a pod name for exec offered:\n%s", out)
	}
	if out := l.must("__complete", "get", "svc", ""); !strings.Contains(out, "kubernetes\n") {
		t.Errorf("completing a Service name for get offered:\n%s", out)
	}
	if out := l.must("__complete", "-n", ""); !strings.Contains(out, "kube-system\n") {
		t.Errorf("completing -n offered:\n%s", out)
	}
}

// Services: no endpoints refuse at once; a pod reaches itself through its
// own Service (hairpin); the kubectl error texts.
func TestServiceEdges(t *testing.T) {
	l := newLab(t)
	l.up()
	l.must("run", "web", "--image=nginx", "--port=80", "--expose")
	l.must("run", "client", "--image=busybox", "--", "sleep", "3600")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")

	// A selector that matches nothing: connections are refused, not hung
	// (a dropped SYN would end in wget's "download timed out" instead).
	l.must("expose", "pod", "web", "--port=80", "--name=empty", "--selector=app=nothing")
	r := l.run("exec", "client", "--", "wget", "-qO-", "-T", "10", "empty")
	if r.code == 0 || !strings.Contains(r.err+r.out, "refused") || strings.Contains(r.err+r.out, "timed out") {
		t.Errorf("a Service without endpoints should refuse the connection:\n%s", r)
	}

	// Hairpin: nginx's pod fetches its own page through its Service.
	page := l.must("exec", "web", "--", "curl", "-sS", "--max-time", "5", "http://web.default.svc.cluster.local")
	if !strings.Contains(page, "Server name: web") {
		t.Errorf("a pod reaching itself through its Service:\n%s", page)
	}

	nf := l.run("get", "pod", "nope")
	if nf.code != 1 || strings.TrimSpace(nf.err) != `Error from server (NotFound): pods "nope" not found` {
		t.Errorf("get of a missing pod:\n%s", nf)
	}
	bad := l.run("create", "deployment", "x", "--image=redis")
	if bad.code != 0 {
		t.Errorf("create deployment should succeed even for an image podnet cannot run:\n%s", bad)
	}
	eventually(t, "the pod of an unrunnable image reports why", 20*time.Second, func() error {
		out := l.must("get", "pods", "-l", "app=x")
		if !strings.Contains(out, "ErrImagePull") {
			return fmt.Errorf("no ErrImagePull in\n%s", out)
		}
		return nil
	})
}

// The daemon can die and come back: it adopts the pods, sandboxes and rules
// it had, and a second `up` while one runs says so.
func TestDaemonRestartAdoptsTheLab(t *testing.T) {
	l := newLab(t)
	l.up()
	again := l.run("up")
	if again.code == 0 || !strings.Contains(again.err, "already running") {
		t.Errorf("a second up should refuse:\n%s", again)
	}
	l.must("create", "deployment", "web", "--image=nginx", "--replicas=2")
	l.must("expose", "deployment", "web", "--port=80")
	l.must("run", "client", "--image=busybox", "--", "sleep", "3600")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	before := l.must("get", "pods", "-o", "wide")
	ipsBefore := l.must("get", "pods", "-o", "jsonpath={.items[*].status.podIP}")
	rulesBefore := nftRules(t, l)

	killDaemon(t, l)
	l.up()
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	if ips := l.must("get", "pods", "-o", "jsonpath={.items[*].status.podIP}"); ips != ipsBefore {
		t.Errorf("pod IPs changed across a daemon restart:\nbefore %s\nafter  %s\n%s", ipsBefore, ips, before)
	}
	if rules := nftRules(t, l); rules != rulesBefore {
		t.Errorf("the proxy's rules changed across a restart (duplicates?):\nbefore:\n%s\nafter:\n%s", rulesBefore, rules)
	}
	page := l.must("exec", "client", "--", "wget", "-qO-", "-T", "5", "web")
	if !strings.Contains(page, "Welcome to nginx!") {
		t.Errorf("the Service stopped working after a restart:\n%s", page)
	}
}

// Events: what the scheduler, kubelet and controllers did, as describe and
// get events show it.
func TestEventsTellWhatHappened(t *testing.T) {
	l := newLab(t)
	l.up()
	l.must("create", "deployment", "web", "--image=nginx", "--replicas=2")
	l.must("run", "bad", "--image=postgres")
	l.must("run", "crash", "--image=busybox", "--", "sh", "-c", "exit 2")
	l.mustStdin("apiVersion: v1\nkind: Service\nmetadata: {name: lb}\nspec:\n  type: LoadBalancer\n  loadBalancerIP: 192.0.2.1\n  ports: [{port: 80}]\n", "apply", "-f", "-")
	l.must("wait", "--for=condition=Ready", "pod", "-l", "app=web", "--timeout=60s")

	for _, tc := range []struct{ args, want []string }{
		{[]string{"describe", "pod", "bad"}, []string{"Scheduled", "default-scheduler", `Failed to pull image "postgres"`}},
		{[]string{"describe", "deployment", "web"}, []string{"ScalingReplicaSet", "Scaled up replica set web-"}},
		{[]string{"describe", "service", "lb"}, []string{"SyncLoadBalancerFailed", "192.0.2.1"}},
		{[]string{"get", "events"}, []string{"LAST SEEN", "SuccessfulCreate", "replicaset/web-", "Started container nginx"}},
	} {
		eventually(t, strings.Join(tc.args, " "), 20*time.Second, func() error {
			out := l.must(tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					return fmt.Errorf("lacks %q:\n%s", w, out)
				}
			}
			return nil
		})
	}
	// A crashing container's back-off is reported, its repeats counted.
	eventually(t, "BackOff for the crashing container", 30*time.Second, func() error {
		out := l.must("get", "events", "--field-selector", "involvedObject.name=crash")
		if !regexp.MustCompile(`Warning\s+BackOff\s+pod/crash`).MatchString(out) {
			return fmt.Errorf("no BackOff yet:\n%s", out)
		}
		return nil
	})
}
