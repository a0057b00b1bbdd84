package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The upstream NetworkPolicy e2e suite (kubernetes test/e2e/network/netpol)
// as data: its model applied once, each of its It() scenarios as policies
// and label changes in, the expected reachability out. Every check is made
// three ways: the model's matrix must equal the expected table, real probes
// of every pair (`policy verify`) must equal the model, and a few cells per
// check are probed the way upstream does, with agnhost connect from the
// source pod to the destination's Service IP.

const upstreamData = "testdata/netpol/upstream/"

var (
	modelNamespaces = []string{"x", "y", "z"}
	modelPodNames   = []string{"a", "b", "c"}
)

// npScenario is one document of the corpus (see the corpus README).
type npScenario struct {
	Name    string   `json:"name"`
	Context string   `json:"context"`
	Source  string   `json:"source"`
	Note    string   `json:"note"`
	Known   string   `json:"known"`
	Steps   []npStep `json:"steps"`
	file    string
}

type npStep struct {
	DeleteAll bool             `json:"deleteAll"`
	Apply     []map[string]any `json:"apply"`
	Label     []npLabel        `json:"label"`
	Expect    []npExpect       `json:"expect"`
	Probes    []npProbe        `json:"probes"`
}

type npLabel struct {
	Pod       string            `json:"pod"`
	Namespace string            `json:"namespace"`
	Set       map[string]string `json:"set"`
}

type npExpect struct {
	Ports []string `json:"ports"`
	Reach []string `json:"reach"`
}

type npProbe struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Protocol string `json:"protocol"`
	Want     string `json:"want"` // ok, or the error prefix agnhost prints: DNS, TIMEOUT, REFUSED
}

// reachRule is one parsed "FROM -> TO allow|deny" line.
type reachRule struct {
	from, to string
	allow    bool
}

func parseReach(line string) (reachRule, error) {
	f := strings.Fields(line)
	if len(f) != 4 || f[1] != "->" || (f[3] != "allow" && f[3] != "deny") {
		return reachRule{}, fmt.Errorf("reach line %q: want \"FROM -> TO allow|deny\"", line)
	}
	for _, p := range []string{f[0], f[2]} {
		ns, pod, _ := strings.Cut(p, "/")
		if (ns != "*" && !slices.Contains(modelNamespaces, ns)) || (pod != "" && pod != "*" && !slices.Contains(modelPodNames, pod)) {
			return reachRule{}, fmt.Errorf("reach line %q: peer %q is not *, NS, NS/POD or */POD of the model", line, p)
		}
	}
	return reachRule{from: f[0], to: f[2], allow: f[3] == "allow"}, nil
}

// matchPeer is upstream's Peer matching: "*" any pod, "x" every pod of x,
// "x/a" one pod, "*/a" pod a of every namespace.
func matchPeer(pattern, pod string) bool {
	pns, ppod, _ := strings.Cut(pattern, "/")
	ns, name, _ := strings.Cut(pod, "/")
	return (pns == "*" || pns == ns) && (ppod == "" || ppod == "*" || ppod == name)
}

// expected is upstream's reachability: everything allowed, then each rule
// in order; the last matching rule decides.
func expected(rules []reachRule, from, to string) (allow bool, rule int) {
	allow, rule = true, -1
	for i, r := range rules {
		if matchPeer(r.from, from) && matchPeer(r.to, to) {
			allow, rule = r.allow, i
		}
	}
	return allow, rule
}

func loadUpstreamCorpus(t *testing.T) []npScenario {
	t.Helper()
	var out []npScenario
	for _, f := range []string{"tcp.yaml", "udp.yaml", "sctp.yaml", "podnet.yaml"} {
		data, err := os.ReadFile(upstreamData + f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			var sc npScenario
			if err := yaml.UnmarshalStrict([]byte(doc), &sc); err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
			sc.file = f
			if sc.Name == "" || sc.Context == "" || len(sc.Steps) == 0 || (sc.Source != "upstream" && sc.Source != "podnet") {
				t.Fatalf("%s document %d: name, context, source (upstream|podnet) and steps are required", f, i+1)
			}
			for _, st := range sc.Steps {
				for _, e := range st.Expect {
					if len(e.Ports) == 0 {
						t.Fatalf("%s: %q: an expectation without ports", f, sc.Name)
					}
					for _, line := range e.Reach {
						if _, err := parseReach(line); err != nil {
							t.Fatalf("%s: %q: %v", f, sc.Name, err)
						}
					}
				}
			}
			out = append(out, sc)
		}
	}
	return out
}

// TestUpstreamCorpusParses needs no lab: the corpus is well formed.
func TestUpstreamCorpusParses(t *testing.T) {
	scs := loadUpstreamCorpus(t)
	seen := map[string]bool{}
	for _, sc := range scs {
		if k := sc.Context + "/" + sc.Name; seen[k] {
			t.Errorf("scenario %q appears twice in %q", sc.Name, sc.Context)
		} else {
			seen[k] = true
		}
	}
	if len(scs) < 25 {
		t.Errorf("corpus has %d scenarios, want at least 25", len(scs))
	}
}

// conformance holds the running model: pod and Service IPs by "ns/pod".
type conformance struct {
	l       *lab
	podIP   map[string]string
	svcIP   map[string]string
	sctp    bool
	allPods []string
}

func TestUpstreamNetworkPolicySuite(t *testing.T) {
	scenarios := loadUpstreamCorpus(t)
	l := newLab(t)
	// Two nodes, as upstream's suite runs on a multi-node cluster: pairs on
	// one node and across nodes both occur.
	l.must("up", "--nodes", "2")
	l.must("apply", "-f", upstreamData+"model.yaml")
	l.must("wait", "--for=condition=Ready", "pod", "--all", "-A", "--timeout=90s")
	t.Logf("model placement:\n%s", l.must("get", "pods", "-A", "-o", "wide", "--no-headers"))
	before := podIdentities(t, l)
	c := &conformance{l: l, podIP: map[string]string{}, svcIP: map[string]string{}, sctp: sctpSockets()}
	for _, ns := range modelNamespaces {
		for _, p := range modelPodNames {
			key := ns + "/" + p
			c.allPods = append(c.allPods, key)
			c.podIP[key] = strings.TrimSpace(l.must("get", "pod", p, "-n", ns, "-o", "jsonpath={.status.podIP}"))
			c.svcIP[key] = strings.TrimSpace(l.must("get", "svc", "s-"+ns+"-"+p, "-n", ns, "-o", "jsonpath={.spec.clusterIP}"))
			if _, err := netip.ParseAddr(c.podIP[key]); err != nil {
				t.Fatalf("pod %s has no IP: %q", key, c.podIP[key])
			}
		}
	}
	// Before any policy, everything reaches everything.
	c.verify(t, []string{"80/TCP", "81/TCP", "80/UDP", "81/UDP"})

	var contexts []string
	byContext := map[string][]npScenario{}
	for _, sc := range scenarios {
		if byContext[sc.Context] == nil {
			contexts = append(contexts, sc.Context)
		}
		byContext[sc.Context] = append(byContext[sc.Context], sc)
	}
	for _, ctx := range contexts {
		t.Run(ctx, func(t *testing.T) {
			for _, sc := range byContext[ctx] {
				t.Run(sc.Name, func(t *testing.T) {
					c.run(t, sc)
				})
			}
		})
	}
	l.t = t
	// Policies and labels changed under running pods; none was restarted.
	if after := podIdentities(t, l); after != before {
		t.Errorf("model pods changed during the suite:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// podIdentities lists each model pod's UID and container restart counts.
func podIdentities(t *testing.T, l *lab) string {
	t.Helper()
	var b strings.Builder
	for _, ns := range modelNamespaces {
		b.WriteString(l.must("get", "pods", "-n", ns, "-o", `jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.metadata.uid} {.status.containerStatuses[*].restartCount}{"\n"}{end}`))
	}
	return b.String()
}

func (c *conformance) run(t *testing.T, sc npScenario) {
	c.l.t = t
	t.Logf("%s scenario from %s", sc.Source, sc.file)
	if sc.Note != "" {
		t.Logf("note: %s", sc.Note)
	}
	if sc.Known != "" {
		t.Skipf("known podnet bug, scenario not run: %s", sc.Known)
	}
	labelled := map[string]map[string]bool{} // "pod x/b" or "namespace y" → keys changed
	t.Cleanup(func() {
		c.l.t = t
		c.deleteAllPolicies()
		c.restoreLabels(labelled)
	})
	var sctpChecks int
	for i, st := range sc.Steps {
		if st.DeleteAll {
			c.deleteAllPolicies()
		}
		if len(st.Apply) > 0 {
			c.l.mustStdin(c.render(t, st.Apply), "apply", "-f", "-")
		}
		for _, lc := range st.Label {
			c.label(t, lc, labelled)
		}
		for _, e := range st.Expect {
			var rules []reachRule
			for _, line := range e.Reach {
				r, _ := parseReach(line)
				rules = append(rules, r)
			}
			what := fmt.Sprintf("step %d, %s", i+1, strings.Join(e.Ports, ","))
			c.checkModel(t, what, e.Ports, rules)
			live := slices.DeleteFunc(slices.Clone(e.Ports), func(p string) bool { return strings.HasSuffix(p, "/SCTP") })
			sctpChecks += len(e.Ports) - len(live)
			if len(live) > 0 {
				c.verify(t, live)
				c.spotProbes(t, what, live, rules)
			}
		}
		c.explicitProbes(t, i+1, st.Probes)
	}
	if sctpChecks > 0 {
		t.Run("live SCTP probes", func(t *testing.T) {
			if !c.sctp {
				t.Skipf("%d SCTP checks verified on the model only: this kernel has no SCTP sockets (EPROTONOSUPPORT)", sctpChecks)
			}
			t.Skipf("%d SCTP checks verified on the model only: the kernel has SCTP, but podnet's agnhost has no SCTP server (porter)", sctpChecks)
		})
	}
}

// render turns a step's policies into a multi-document manifest, with the
// pod IP placeholders filled in.
func (c *conformance) render(t *testing.T, objs []map[string]any) string {
	t.Helper()
	var docs []string
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	out := regexp.MustCompile(`\$\{(ip|cidr4):([a-z]/[a-z])\}`).ReplaceAllStringFunc(strings.Join(docs, "\n---\n"), func(m string) string {
		kind, pod, _ := strings.Cut(m[2:len(m)-1], ":")
		ip, ok := c.podIP[pod]
		if !ok {
			t.Fatalf("placeholder %s names no model pod", m)
		}
		if kind == "ip" {
			return ip
		}
		// upstream's makeLargeCIDRForIP: the /4 that holds the IP.
		return netip.MustParsePrefix(ip + "/4").Masked().String()
	})
	if strings.Contains(out, "${") {
		t.Fatalf("unknown placeholder in:\n%s", out)
	}
	return out
}

func (c *conformance) label(t *testing.T, lc npLabel, labelled map[string]map[string]bool) {
	t.Helper()
	var args []string
	var key string
	switch {
	case lc.Pod != "":
		ns, pod, _ := strings.Cut(lc.Pod, "/")
		args, key = []string{"label", "pod", pod, "-n", ns, "--overwrite"}, "pod "+lc.Pod
	case lc.Namespace != "":
		args, key = []string{"label", "namespace", lc.Namespace, "--overwrite"}, "namespace "+lc.Namespace
	default:
		t.Fatal("a label change names neither a pod nor a namespace")
	}
	if labelled[key] == nil {
		labelled[key] = map[string]bool{}
	}
	for k, v := range lc.Set {
		labelled[key][k] = true
		if v == "-" {
			args = append(args, k+"-")
		} else {
			args = append(args, k+"="+v)
		}
	}
	c.l.must(args...)
}

// restoreLabels puts back the model's labels (pod=<name>, ns=<name>) and
// removes every other key a scenario set, as upstream's ResetPodLabels and
// DeleteNamespaceLabel do.
func (c *conformance) restoreLabels(labelled map[string]map[string]bool) {
	for obj, keys := range labelled {
		kind, name, _ := strings.Cut(obj, " ")
		args := []string{"label", kind}
		model := map[string]string{}
		if kind == "pod" {
			ns, pod, _ := strings.Cut(name, "/")
			args = append(args, pod, "-n", ns, "--overwrite")
			model["pod"] = pod
		} else {
			args = append(args, name, "--overwrite")
			model["ns"] = name
		}
		for k := range keys {
			if v, ok := model[k]; ok {
				args = append(args, k+"="+v)
			} else {
				args = append(args, k+"-")
			}
		}
		c.l.must(args...)
	}
}

func (c *conformance) deleteAllPolicies() {
	for _, ns := range modelNamespaces {
		c.l.must("delete", "networkpolicy", "--all", "-n", ns)
	}
}

type npCell struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	Allowed  bool   `json:"allowed"`
	Probe    string `json:"probe"`
	Detail   string `json:"detail"`
	Mismatch bool   `json:"mismatch"`
}

func (c *conformance) isModelPod(p string) bool { return slices.Contains(c.allPods, p) }

// checkModel compares `policy matrix` with the expected table, self pairs
// and kube-system left out as upstream ignores loopback.
func (c *conformance) checkModel(t *testing.T, what string, ports []string, rules []reachRule) {
	t.Helper()
	var cells []npCell
	if err := json.Unmarshal([]byte(c.l.must("policy", "matrix", "-o", "json", "--ports", strings.Join(ports, ","))), &cells); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{} // "from>to port/PROTO"
	for _, cell := range cells {
		if c.isModelPod(cell.From) && c.isModelPod(cell.To) {
			got[fmt.Sprintf("%s>%s %d/%s", cell.From, cell.To, cell.Port, cell.Protocol)] = cell.Allowed
		}
	}
	for _, port := range ports {
		wrong := 0
		for _, from := range c.allPods {
			for _, to := range c.allPods {
				if from == to {
					continue
				}
				key := from + ">" + to + " " + port
				allowed, ok := got[key]
				if want, _ := expected(rules, from, to); !ok || allowed != want {
					wrong++
				}
			}
		}
		if wrong > 0 {
			t.Errorf("%s: the model's matrix differs from upstream's expectation in %d cells\nexpected:\n%s\nmodel:\n%s", what, wrong,
				c.table(port, func(f, to string) bool { w, _ := expected(rules, f, to); return w }),
				c.table(port, func(f, to string) bool { return got[f+">"+to+" "+port] }))
		}
	}
}

// table prints a truth table as upstream does: '.' allowed, 'X' denied,
// '#' for a pod and itself (ignored).
func (c *conformance) table(port string, allowed func(from, to string) bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s", port)
	for _, to := range c.allPods {
		fmt.Fprintf(&b, " %s", to)
	}
	b.WriteString("\n")
	for _, from := range c.allPods {
		fmt.Fprintf(&b, "%-8s", from)
		for _, to := range c.allPods {
			mark := "X"
			switch {
			case from == to:
				mark = "#"
			case allowed(from, to):
				mark = "."
			}
			fmt.Fprintf(&b, " %-3s", mark)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// verify runs `policy verify` until real probes of every pair agree with
// the model (enforcement is asynchronous, as with any CNI; upstream polls
// too). Every model pod answers on UDP 80 and 81, so there UDP silence
// where the model allows is a failure, not an inconclusive probe.
// Elsewhere silence stays inconclusive: the answer would be an ICMP port
// unreachable, which the kernel rate-limits per peer.
func (c *conformance) verify(t *testing.T, ports []string) {
	t.Helper()
	var last string
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := c.l.run("policy", "verify", "--ports", strings.Join(ports, ","), "-o", "json", "--timeout", "300ms", "--parallel", "16")
		var cells []npCell
		if err := json.Unmarshal([]byte(r.out), &cells); err != nil {
			t.Fatalf("policy verify -o json: %v\n%s", err, r)
		}
		var bad []string
		for _, cell := range cells {
			answers := c.isModelPod(cell.To) && (cell.Port == 80 || cell.Port == 81)
			if cell.Mismatch || (cell.Allowed && answers && cell.Probe != "reached") || cell.Probe == "skipped" {
				bad = append(bad, fmt.Sprintf("%s -> %s %d/%s: model allowed=%v, probe %s (%s)", cell.From, cell.To, cell.Port, cell.Protocol, cell.Allowed, cell.Probe, cell.Detail))
			}
		}
		if len(cells) == 0 {
			bad = append(bad, "no probes")
		}
		if len(bad) == 0 {
			return
		}
		sort.Strings(bad)
		last = fmt.Sprintf("%d cells:\n%s", len(bad), strings.Join(bad, "\n"))
		if time.Now().After(deadline) {
			t.Errorf("policy verify --ports %s: real probes differ from the model in %s", strings.Join(ports, ","), last)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// spotProbes picks, for each rule, the first and the last pair it decides,
// and the same for the pairs no rule touches, and probes them the way upstream does: agnhost connect
// from the source pod's first container to the destination's Service IP.
func (c *conformance) spotProbes(t *testing.T, what string, ports []string, rules []reachRule) {
	t.Helper()
	type cell struct {
		from, to, port string
		want           bool
	}
	var cells []cell
	for _, port := range ports {
		if !servicePorts[port] {
			continue // the Service would reject it before any policy
		}
		first, last := map[int]cell{}, map[int]cell{}
		var order []int
		for _, from := range c.allPods {
			for _, to := range c.allPods {
				if from == to {
					continue
				}
				want, rule := expected(rules, from, to)
				if _, ok := first[rule]; !ok {
					first[rule] = cell{from, to, port, want}
					order = append(order, rule)
				}
				last[rule] = cell{from, to, port, want}
			}
		}
		for _, r := range order {
			cells = append(cells, first[r])
			if last[r] != first[r] {
				cells = append(cells, last[r])
			}
		}
	}
	t.Logf("%s: agnhost connect on %d cells", what, len(cells))
	var wg sync.WaitGroup
	for _, cl := range cells {
		wg.Add(1)
		go func() {
			defer wg.Done()
			num, proto, _ := strings.Cut(cl.port, "/")
			target := c.svcIP[cl.to] + ":" + num
			var last string
			deadline := time.Now().Add(10 * time.Second)
			for {
				out, reached := c.connect(cl.from, target, strings.ToLower(proto))
				if reached == cl.want {
					return
				}
				last = out
				if time.Now().After(deadline) {
					t.Errorf("%s: agnhost connect %s -> %s (%s, Service %s): reached=%v, want %v\n%s", what, cl.from, cl.to, cl.port, target, reached, cl.want, last)
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
}

// servicePorts are the ports of each model pod's Service s-<ns>-<pod>.
var servicePorts = map[string]bool{"80/TCP": true, "81/TCP": true, "80/UDP": true, "81/UDP": true}

// connect runs upstream's probe command in pod from. A refused connection
// (TCP RST, ICMP port unreachable) crossed every policy, so it counts as
// reached; upstream needs no such rule because its servers always listen.
func (c *conformance) connect(from, target, proto string) (out string, reached bool) {
	ns, pod, _ := strings.Cut(from, "/")
	r := c.l.run("exec", "-n", ns, pod, "-c", "cont-80-tcp", "--", "/agnhost", "connect", target, "--timeout=1s", "--protocol="+proto)
	return r.String(), r.code == 0 || strings.Contains(r.err, "REFUSED")
}

func (c *conformance) explicitProbes(t *testing.T, step int, probes []npProbe) {
	t.Helper()
	for _, p := range probes {
		ns, pod, _ := strings.Cut(p.From, "/")
		eventually(t, fmt.Sprintf("step %d: agnhost connect %s -> %s (%s) should give %s", step, p.From, p.To, p.Protocol, p.Want), 10*time.Second, func() error {
			r := c.l.run("exec", "-n", ns, pod, "-c", "cont-80-tcp", "--", "/agnhost", "connect", p.To, "--timeout=1s", "--protocol="+p.Protocol)
			switch {
			case p.Want == "ok" && r.code == 0:
				return nil
			case p.Want != "ok" && r.code != 0 && strings.HasPrefix(strings.TrimSpace(r.err), p.Want+":"):
				return nil
			}
			return fmt.Errorf("%s", r)
		})
	}
}

// sctpSockets reports whether this kernel can open SCTP sockets at all.
func sctpSockets() bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_SCTP)
	if err != nil {
		return false
	}
	syscall.Close(fd)
	return true
}
