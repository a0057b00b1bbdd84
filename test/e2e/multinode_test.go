package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Seed 002 on a 3-node lab: a Deployment spread over the nodes, reached by
// every name form, load-balanced, and from outside through NodePort,
// LoadBalancer and port-forward.
func TestMultiNodeServices(t *testing.T) {
	l := newLab(t)
	out := l.must("up", "--nodes", "3")
	for _, want := range []string{"172.18.0.2", "172.18.0.3", "172.18.0.4", "External host 172.18.0.100"} {
		if !strings.Contains(out, want) {
			t.Errorf("up --nodes 3 output lacks %q:\n%s", want, out)
		}
	}
	nodes := l.must("get", "nodes", "-o", "wide")
	for _, ip := range []string{"172.18.0.2", "172.18.0.3", "172.18.0.4"} {
		if !strings.Contains(nodes, ip) {
			t.Errorf("get nodes -o wide lacks INTERNAL-IP %s:\n%s", ip, nodes)
		}
	}

	l.must("create", "deployment", "test-app", "--image=nginx", "--replicas=3")
	l.must("expose", "deployment", "test-app", "--port=80")
	l.must("run", "test-client", "--image=busybox", "--", "sleep", "3600")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")

	// One replica per node (the scheduler picks the least-loaded node).
	podNodes := map[string]string{}
	for _, line := range strings.Split(l.must("get", "pods", "-l", "app=test-app", "-o", "wide", "--no-headers"), "\n") {
		if f := strings.Fields(line); len(f) >= 7 {
			podNodes[f[0]] = f[6]
		}
	}
	distinct := map[string]bool{}
	for _, n := range podNodes {
		distinct[n] = true
	}
	if len(podNodes) != 3 || len(distinct) != 3 {
		t.Errorf("3 replicas should sit on 3 nodes: %v", podNodes)
	}

	for _, name := range []string{"test-app", "test-app.default", "test-app.default.svc.cluster.local"} {
		page := l.must("exec", "test-client", "--", "wget", "-qO-", "-T", "5", name)
		if !strings.Contains(page, "Server name: test-app-") {
			t.Errorf("wget %s did not reach a test-app pod:\n%s", name, page)
		}
	}

	// Spread: 30 requests over 3 endpoints. Each endpoint missing entirely
	// has probability 3·(2/3)^30 ≈ 2e-5, so a miss means no spreading.
	seen := map[string]int{}
	server := regexp.MustCompile(`Server name: (\S+)</p>`)
	for range 30 {
		page := l.must("exec", "test-client", "--", "wget", "-qO-", "-T", "5", "test-app")
		if m := server.FindStringSubmatch(page); m != nil {
			seen[m[1]]++
		}
	}
	for pod := range podNodes {
		if seen[pod] == 0 {
			t.Errorf("pod %s never answered in 30 requests: %v", pod, seen)
		}
	}

	eps := l.must("get", "endpoints", "test-app")
	if n := len(regexp.MustCompile(`10\.244\.\d+\.\d+:80`).FindAllString(eps, -1)); n != 3 {
		t.Errorf("get endpoints test-app shows %d addresses, want 3:\n%s", n, eps)
	}
	slices := l.must("get", "endpointslices", "-l", "kubernetes.io/service-name=test-app")
	if !strings.Contains(slices, "IPv4") || !strings.Contains(slices, "80") {
		t.Errorf("get endpointslices -l: %s", slices)
	}

	// Pod to pod across nodes keeps the client's address (no NAT).
	clientIP := strings.TrimSpace(l.must("get", "pod", "test-client", "-o", "jsonpath={.status.podIP}"))
	clientNode := strings.TrimSpace(l.must("get", "pod", "test-client", "-o", "jsonpath={.spec.nodeName}"))
	for pod, node := range podNodes {
		if node == clientNode {
			continue
		}
		ip := strings.TrimSpace(l.must("get", "pod", pod, "-o", "jsonpath={.status.podIP}"))
		l.must("exec", "test-client", "--", "wget", "-qO-", "-T", "5", "http://"+ip+"/cross-node")
		if logs := l.must("logs", pod); !strings.Contains(logs, clientIP+" - - ") || !strings.Contains(logs, "/cross-node") {
			t.Errorf("pod %s on %s should log the client's own address %s:\n%s", pod, node, clientIP, logs)
		}
		break
	}

	// NodePort from the external host, on every node.
	l.must("expose", "deployment", "test-app", "--name=test-np", "--type=NodePort", "--port=80")
	np := strings.TrimSpace(l.must("get", "svc", "test-np", "-o", "jsonpath={.spec.ports[0].nodePort}"))
	for _, ip := range []string{"172.18.0.2", "172.18.0.3", "172.18.0.4"} {
		page := l.must("exec", "--external", "--", "curl", "-sS", "-m", "5", "http://"+ip+":"+np)
		if !strings.Contains(page, "Server name: test-app-") {
			t.Errorf("NodePort %s:%s from the external host:\n%s", ip, np, page)
		}
	}
	// Each node's proxy reports health and metrics on the node IP, as
	// kube-proxy does (:10256/healthz, :10249/metrics).
	eventually(t, "proxy health on a worker", 10*time.Second, func() error {
		r := l.run("exec", "--external", "--", "curl", "-sS", "-m", "2", "http://172.18.0.3:10256/healthz")
		if r.code != 0 {
			return fmt.Errorf("%s", r)
		}
		return nil
	})
	metrics := l.must("exec", "--external", "--", "curl", "-sS", "-m", "5", "http://172.18.0.4:10249/metrics")
	if !strings.Contains(metrics, "kubeproxy_sync_proxy_rules_duration_seconds_count") {
		t.Errorf("node metrics lack kubeproxy_sync_proxy_rules_duration_seconds:\n%.500s", metrics)
	}

	// The external host is outside the cluster: no route to Services or pods.
	svcIP := strings.TrimSpace(l.must("get", "svc", "test-app", "-o", "jsonpath={.spec.clusterIP}"))
	for _, addr := range []string{svcIP, clientIP} {
		if r := l.run("exec", "--external", "--", "curl", "-sS", "-m", "2", "http://"+addr); r.code == 0 {
			t.Errorf("the external host reached %s, which is inside the cluster:\n%s", addr, r)
		}
	}

	// port-forward from this machine's loopback into the lab.
	cmd := exec.Command(podnetBin, "--lab", l.name, "--state-root", l.state, "port-forward", "service/test-app", "0:80", "--address", "127.0.0.1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	first, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("port-forward printed nothing: %v", err)
	}
	m := regexp.MustCompile(`^Forwarding from (127\.0\.0\.1:\d+) -> 80`).FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("port-forward said %q", first)
	}
	go io.Copy(io.Discard, stdout)
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + m[1] + "/")
	if err != nil {
		t.Fatalf("GET through port-forward: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Server name: test-app-") {
		t.Errorf("port-forward answered:\n%s", body)
	}

	// nodeSelector and nodeName are honoured.
	pinned := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: pinned}
spec:
  nodeSelector: {kubernetes.io/hostname: %[1]s-worker2}
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: named}
spec:
  nodeName: %[1]s-worker
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
`, l.name)
	l.mustStdin(pinned, "apply", "-f", "-")
	l.must("wait", "--for=condition=Ready", "pod/pinned", "pod/named", "--timeout=60s")
	for pod, node := range map[string]string{"pinned": l.name + "-worker2", "named": l.name + "-worker"} {
		if got := strings.TrimSpace(l.must("get", "pod", pod, "-o", "jsonpath={.spec.nodeName}")); got != node {
			t.Errorf("pod %s on %q, want %q", pod, got, node)
		}
	}

	// A restarted daemon adopts every node: same rules in each node's
	// table, same pods, and Services still answer.
	before := []string{nodeRules(t, l, 0), nodeRules(t, l, 1), nodeRules(t, l, 2)}
	killDaemon(t, l)
	l.must("up")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	for i := range before {
		eventually(t, fmt.Sprintf("node %d's rules after the restart", i), 10*time.Second, func() error {
			if after := nodeRules(t, l, i); after != before[i] {
				return fmt.Errorf("rules differ:\nbefore:\n%s\nafter:\n%s", before[i], after)
			}
			return nil
		})
	}
	page := l.must("exec", "--external", "--", "curl", "-sS", "-m", "5", "http://172.18.0.4:"+np)
	if !strings.Contains(page, "Server name: test-app-") {
		t.Errorf("NodePort after the daemon restart:\n%s", page)
	}
}

// Seed 002's practice problem: frontend LoadBalancer with an EXTERNAL-IP the
// external host reaches, backend ClusterIP, database headless.
func TestThreeTierServices(t *testing.T) {
	l := newLab(t)
	l.must("up", "--nodes", "3")
	l.must("apply", "-f", "../../examples/three-tier/")
	l.must("run", "probe", "--image=busybox", "--", "sleep", "3600")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")

	var lb string
	eventually(t, "frontend gets an EXTERNAL-IP", 10*time.Second, func() error {
		out := l.must("get", "svc", "frontend")
		m := regexp.MustCompile(`LoadBalancer\s+\S+\s+(172\.18\.255\.\d+)\s+80:3\d{4}/TCP`).FindStringSubmatch(out)
		if m == nil {
			return fmt.Errorf("no EXTERNAL-IP from the lab pool yet:\n%s", out)
		}
		lb = m[1]
		return nil
	})
	for range 3 {
		page := l.must("exec", "--external", "--", "curl", "-sS", "-m", "5", "http://"+lb)
		if !strings.Contains(page, "Server name: frontend-") || !strings.Contains(page, ":3000") {
			t.Errorf("LoadBalancer %s from the external host:\n%s", lb, page)
		}
	}
	page := l.must("exec", "probe", "--", "wget", "-qO-", "-T", "5", "backend-api:8080")
	if !strings.Contains(page, "Server name: backend-api-") {
		t.Errorf("backend-api:8080 from a pod:\n%s", page)
	}
	// Headless: the name resolves to the database pods themselves, and
	// each pod has its own name under the Service. (Busybox's nslookup also
	// reports the search-list names that do not exist and exits 1, as it
	// does against CoreDNS; the answer is what matters here.)
	ns := l.run("exec", "probe", "--", "nslookup", "database").out
	if n := len(regexp.MustCompile(`Name:\s+database\.default\.svc\.cluster\.local\s+Address: 10\.244\.\d+\.\d+`).FindAllString(ns, -1)); n != 2 {
		t.Errorf("nslookup database should list the 2 database pods:\n%s", ns)
	}
	page = l.must("exec", "probe", "--", "wget", "-qO-", "-T", "5", "database-0.database:5432")
	if !strings.Contains(page, "Server name: database-0") {
		t.Errorf("database-0.database:5432:\n%s", page)
	}
}

// The agnhost test image: netexec behind a Service, over TCP and UDP,
// across nodes; /clientip shows that pod-to-ClusterIP traffic keeps the
// client's own address.
func TestAgnhostAcrossNodes(t *testing.T) {
	l := newLab(t)
	l.must("up", "--nodes", "3")
	l.mustStdin(`apiVersion: apps/v1
kind: Deployment
metadata: {name: netexec}
spec:
  replicas: 3
  selector: {matchLabels: {app: netexec}}
  template:
    metadata: {labels: {app: netexec}}
    spec:
      containers:
      - name: agnhost
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080, --udp-port=8081]
        ports: [{name: http, containerPort: 8080}, {name: udp, containerPort: 8081, protocol: UDP}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}}
---
apiVersion: v1
kind: Service
metadata: {name: netexec}
spec:
  selector: {app: netexec}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: udp, port: 90, targetPort: udp, protocol: UDP}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - {name: agnhost, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}
`, "apply", "-f", "-")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")

	clientIP := strings.TrimSpace(l.must("get", "pod", "client", "-o", "jsonpath={.status.podIP}"))
	seen := l.must("exec", "client", "--", "curl", "-sS", "-m", "5", "http://netexec/clientip")
	if host, _, _ := strings.Cut(seen, ":"); host != clientIP {
		t.Errorf("netexec saw the client as %q, want its pod IP %s", seen, clientIP)
	}
	hosts := map[string]bool{}
	for range 20 {
		hosts[strings.TrimSpace(l.must("exec", "client", "--", "curl", "-sS", "-m", "5", "http://netexec/hostname"))] = true
	}
	if len(hosts) < 2 {
		t.Errorf("20 requests reached only %v", hosts)
	}
	// UDP through the Service, dialled by agnhost's own /dial from a
	// netexec pod.
	out := l.must("exec", "client", "--", "curl", "-sS", "-m", "10",
		"http://netexec/dial?protocol=udp&host=netexec&port=90&request=hostname&tries=3")
	if !strings.Contains(out, `"responses":["netexec-`) {
		t.Errorf("UDP through the Service: %s", out)
	}
	if r := l.run("exec", "client", "--", "/agnhost", "connect", "--timeout=2s", "netexec:81"); r.code == 0 || !strings.Contains(r.err, "REFUSED") {
		t.Errorf("connect to an undefined Service port should be refused at once: %s", r)
	}
	// An address of the service range that no Service holds is dropped, as
	// kube-proxy does: the client times out instead of being refused.
	if r := l.run("exec", "client", "--", "/agnhost", "connect", "--timeout=1s", "10.111.255.254:80"); r.code == 0 || !strings.Contains(r.err, "TIMEOUT") {
		t.Errorf("connect to an unallocated ClusterIP should time out (dropped): %s", r)
	}
}

// kube-proxy's traffic policies and LoadBalancer source ranges on a 3-node
// lab, observed from the external host with agnhost's /clientip.
func TestTrafficPoliciesAcrossNodes(t *testing.T) {
	l := newLab(t)
	l.must("up", "--nodes", "3")
	// One netexec pod, pinned to the first worker.
	l.mustStdin(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: echo, labels: {app: echo}}
spec:
  nodeName: %[1]s-worker
  containers:
  - {name: agnhost, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [netexec, --http-port=8080, --udp-port=-1]}
---
apiVersion: v1
kind: Service
metadata: {name: local}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: cluster}
spec:
  type: NodePort
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: allowed}
spec:
  type: LoadBalancer
  loadBalancerSourceRanges: [172.18.0.100/32]
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: denied}
spec:
  type: LoadBalancer
  loadBalancerSourceRanges: [10.0.0.0/8]
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: internal}
spec:
  internalTrafficPolicy: Local
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: far}
spec:
  nodeName: %[1]s-worker2
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: near}
spec:
  nodeName: %[1]s-worker
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
`, l.name), "apply", "-f", "-")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	jp := func(svc, path string) string {
		return strings.TrimSpace(l.must("get", "svc", svc, "-o", "jsonpath="+path))
	}
	var lb map[string]string
	eventually(t, "LoadBalancer addresses", 10*time.Second, func() error {
		lb = map[string]string{}
		for _, s := range []string{"local", "allowed", "denied"} {
			if lb[s] = jp(s, "{.status.loadBalancer.ingress[0].ip}"); lb[s] == "" {
				return fmt.Errorf("%s has no EXTERNAL-IP yet", s)
			}
		}
		return nil
	})
	external := func(url string) result {
		return l.run("exec", "--external", "--", "curl", "-sS", "-m", "2", url)
	}
	host := func(clientip string) string { h, _, _ := strings.Cut(strings.TrimSpace(clientip), ":"); return h }

	// eTP Local: the node with the endpoint serves and sees the external
	// host's own address; a node without one drops (the client times out).
	localNP := jp("local", "{.spec.ports[0].nodePort}")
	if r := external("http://172.18.0.3:" + localNP + "/clientip"); r.code != 0 || host(r.out) != "172.18.0.100" {
		t.Errorf("eTP Local on the endpoint's node should keep the client address 172.18.0.100: %s", r)
	}
	if r := external("http://172.18.0.4:" + localNP + "/clientip"); r.code == 0 || !strings.Contains(r.err, "timed out") {
		t.Errorf("eTP Local on a node without an endpoint should drop: %s", r)
	}
	// kube-proxy's health check on healthCheckNodePort: 200 with one local
	// endpoint on the endpoint's node, 503 with none elsewhere.
	hc := jp("local", "{.spec.healthCheckNodePort}")
	if n, err := strconv.Atoi(hc); err != nil || n < 30000 || n > 32767 {
		t.Fatalf("healthCheckNodePort %q is not a NodePort-range port", hc)
	}
	for _, c := range []struct{ node, code, local string }{{"172.18.0.3", "200", `"localEndpoints": 1`}, {"172.18.0.4", "503", `"localEndpoints": 0`}} {
		r := l.run("exec", "--external", "--", "curl", "-sS", "-m", "2", "-w", "\n%{http_code}", "http://"+c.node+":"+hc+"/healthz")
		if r.code != 0 || !strings.HasSuffix(strings.TrimSpace(r.out), c.code) || !strings.Contains(r.out, c.local) ||
			!strings.Contains(r.out, `"name": "local"`) {
			t.Errorf("health check on %s: want %s with %s: %s", c.node, c.code, c.local, r)
		}
	}
	// Through the LoadBalancer address, the lab's load balancer sends Local
	// traffic only to nodes with an endpoint (as health checks on
	// healthCheckNodePort do), so every request is served, client kept.
	for i := range 6 {
		if r := external("http://" + lb["local"] + "/clientip"); r.code != 0 || host(r.out) != "172.18.0.100" {
			t.Errorf("request %d to the eTP Local LoadBalancer: %s", i, r)
		}
	}
	// eTP Cluster: every node serves, the client is masqueraded to a node
	// address when the endpoint is elsewhere.
	clusterNP := jp("cluster", "{.spec.ports[0].nodePort}")
	if r := external("http://172.18.0.4:" + clusterNP + "/clientip"); r.code != 0 || host(r.out) != "172.18.0.4" {
		t.Errorf("eTP Cluster through another node should be masqueraded to that node (172.18.0.4): %s", r)
	}
	// Source ranges on the LoadBalancer address.
	if r := external("http://" + lb["allowed"] + "/hostname"); r.code != 0 || strings.TrimSpace(r.out) != "echo" {
		t.Errorf("a client inside loadBalancerSourceRanges should be served: %s", r)
	}
	if r := external("http://" + lb["denied"] + "/hostname"); r.code == 0 {
		t.Errorf("a client outside loadBalancerSourceRanges should be dropped: %s", r)
	}
	// iTP Local: a pod on the endpoint's node is served, one elsewhere is not.
	if r := l.run("exec", "near", "--", "wget", "-qO-", "-T", "2", "internal/hostname"); r.code != 0 || strings.TrimSpace(r.out) != "echo" {
		t.Errorf("iTP Local from the endpoint's node: %s", r)
	}
	if r := l.run("exec", "far", "--", "wget", "-qO-", "-T", "2", "internal/hostname"); r.code == 0 {
		t.Errorf("iTP Local from a node without an endpoint should get nothing: %s", r)
	}
}

// UDP has no connection to reset: without conntrack cleanup a client that
// keeps its source port (as resolvers do) would keep being sent to a deleted
// endpoint. After the endpoint is replaced, the same flow reaches the new
// pod.
func TestUDPAfterEndpointReplacement(t *testing.T) {
	l := newLab(t)
	l.up()
	l.must("create", "deployment", "udp", "--image=registry.k8s.io/e2e-test-images/agnhost:2.53", "--", "/agnhost", "netexec", "--udp-port=8081")
	l.must("expose", "deployment", "udp", "--port=90", "--target-port=8081", "--protocol=UDP")
	l.must("run", "client", "--image=tutum/dnsutils", "--", "sleep", "3600")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	ask := func() string {
		// A fixed source port: every datagram belongs to one conntrack flow.
		return strings.TrimSpace(l.run("exec", "client", "--", "sh", "-c", "echo hostname | nc -u -w1 -p 5555 udp 90").out)
	}
	first := ask()
	if !strings.HasPrefix(first, "udp-") {
		t.Fatalf("UDP through the Service answered %q", first)
	}
	l.must("delete", "pod", first)
	var second string
	eventually(t, "the same UDP flow reaches the replacement pod", 20*time.Second, func() error {
		if second = ask(); !strings.HasPrefix(second, "udp-") || second == first {
			return fmt.Errorf("answer %q (first pod %s)", second, first)
		}
		return nil
	})
}

// sessionAffinity ClientIP: one client sticks to one endpoint; the affinity
// expires after timeoutSeconds without new connections.
func TestSessionAffinityStickinessAndExpiry(t *testing.T) {
	l := newLab(t)
	l.up()
	l.mustStdin(`apiVersion: apps/v1
kind: Deployment
metadata: {name: sticky}
spec:
  replicas: 3
  selector: {matchLabels: {app: sticky}}
  template:
    metadata: {labels: {app: sticky}}
    spec:
      containers:
      - {name: agnhost, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [netexec, --http-port=8080, --udp-port=-1]}
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: sticky}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 2}}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
`, "apply", "-f", "-")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	clientIP := strings.TrimSpace(l.must("get", "pod", "client", "-o", "jsonpath={.status.podIP}"))
	seen := map[string]int{}
	for range 12 {
		seen[strings.TrimSpace(l.must("exec", "client", "--", "wget", "-qO-", "-T", "5", "sticky/hostname"))]++
	}
	if len(seen) != 1 {
		t.Errorf("12 requests from one client went to %v, want one endpoint", seen)
	}
	affinity := func() string {
		out, _ := exec.Command("ip", "netns", "exec", "pn-"+l.name+"-node0", "nft", "list", "table", "ip", "podnet-proxy").CombinedOutput()
		var lines []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, clientIP+" expires") {
				lines = append(lines, strings.TrimSpace(line))
			}
		}
		return strings.Join(lines, "\n")
	}
	if affinity() == "" {
		t.Fatalf("no affinity entry for %s in the node's table", clientIP)
	}
	eventually(t, "the affinity entry expires after 2s without connections", 10*time.Second, func() error {
		if a := affinity(); a != "" {
			return fmt.Errorf("still there: %s", a)
		}
		return nil
	})
}

// NetworkPolicy across nodes: ingress is enforced on the destination's
// node, egress on the source's, for pods on different nodes.
func TestNetworkPolicyAcrossNodes(t *testing.T) {
	l := newLab(t)
	l.must("up", "--nodes", "3")
	l.mustStdin(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: %[1]s-worker
  containers: [{name: nginx, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: friend, labels: {role: ok}}
spec:
  nodeName: %[1]s-worker2
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: stranger}
spec:
  nodeName: %[1]s-control-plane
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: muted, labels: {role: ok, egress: none}}
spec:
  nodeName: %[1]s-control-plane
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-friends}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {role: ok}}}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: no-egress}
spec:
  podSelector: {matchLabels: {egress: none}}
  policyTypes: [Egress]
`, l.name), "apply", "-f", "-")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	ip := strings.TrimSpace(l.must("get", "pod", "web", "-o", "jsonpath={.status.podIP}"))
	for _, tc := range []struct {
		from  string
		allow bool
	}{
		{"friend", true},    // allowed by the ingress rule, from another node
		{"stranger", false}, // not selected by the ingress rule
		{"muted", false},    // allowed by ingress, but its own egress is isolated
	} {
		eventually(t, tc.from+" to web", 15*time.Second, func() error {
			r := l.run("exec", tc.from, "--", "wget", "--spider", "-q", "-T", "1", "http://"+ip)
			if (r.code == 0) != tc.allow {
				return fmt.Errorf("allowed=%v, want %v: %s", r.code == 0, tc.allow, r)
			}
			return nil
		})
	}
	if out := l.must("policy", "verify"); !strings.Contains(out, "No mismatches.") {
		t.Errorf("policy verify on a 3-node lab:\n%s", out)
	}
}
