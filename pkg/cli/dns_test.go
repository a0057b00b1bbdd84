package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

type dnsTestLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *dnsTestLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *dnsTestLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const serveManifest = `apiVersion: v1
kind: Service
metadata: {name: nginx}
spec:
  clusterIP: 10.96.0.50
  selector: {app: nginx}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: nginx-0, labels: {app: nginx}}
spec: {hostname: nginx-0, subdomain: nginx, containers: [{name: c, image: nginx}]}
status:
  phase: Running
  podIP: 10.244.0.7
  conditions: [{type: Ready, status: "True"}]
`

// TestDNSServeFromManifests runs `dns serve -f` without root or a lab: it
// answers from the manifests, follows a change to them, and keeps the last
// good objects when a change does not validate.
func TestDNSServeFromManifests(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cluster.yaml")
	write := func(text string) {
		t.Helper()
		// A new mtime even on coarse clocks, so the change is seen.
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Duration(len(text)) * time.Millisecond)
		_ = os.Chtimes(file, later, later)
	}
	write(serveManifest)
	var log dnsTestLog
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dnsServe(ctx, []string{"-f", dir, "--listen", "127.0.0.1:0"}, &log) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dns serve: %v", err)
		}
	}()
	addr := ""
	dnsEventually(t, func() bool {
		if m := regexp.MustCompile(`on (127\.0\.0\.1:\d+)`).FindStringSubmatch(log.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	ask := func(name string, qtype uint16) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetQuestion(name, qtype)
		r, _, err := (&mdns.Client{Timeout: 2 * time.Second}).Exchange(m, addr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return r
	}
	answer := func(name string, qtype uint16) string {
		r := ask(name, qtype)
		if len(r.Answer) == 0 {
			return mdns.RcodeToString[r.Rcode]
		}
		return strings.Join(strings.Fields(r.Answer[0].String()), " ")
	}
	dnsEventually(t, func() bool { return ask("nginx.default.svc.cluster.local.", mdns.TypeA).Rcode == mdns.RcodeSuccess })

	cases := []struct{ name, qname, want string }{
		{"the Service's cluster IP", "nginx.default.svc.cluster.local.", "nginx.default.svc.cluster.local. 30 IN A 10.96.0.50"},
		{"the pod behind it, from an EndpointSlice derived from its status", "nginx-0.nginx.default.svc.cluster.local.", "nginx-0.nginx.default.svc.cluster.local. 30 IN A 10.244.0.7"},
	}
	for _, tc := range cases {
		if got := answer(tc.qname, mdns.TypeA); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}

	write(strings.Replace(serveManifest, "10.96.0.50", "10.96.0.51", 1))
	dnsEventually(t, func() bool {
		return answer("nginx.default.svc.cluster.local.", mdns.TypeA) == "nginx.default.svc.cluster.local. 30 IN A 10.96.0.51"
	})

	write(strings.Replace(serveManifest, "port: 80,", "port: 70000,", 1))
	dnsEventually(t, func() bool { return strings.Contains(log.String(), "manifests changed but were not applied") })
	if got := answer("nginx.default.svc.cluster.local.", mdns.TypeA); got != "nginx.default.svc.cluster.local. 30 IN A 10.96.0.51" {
		t.Errorf("after an invalid change the last good objects should still answer: %q", got)
	}
	if !strings.Contains(log.String(), `The Service "nginx" is invalid`) {
		t.Errorf("the log should name the invalid object:\n%s", log.String())
	}
}

func TestDNSServeRefusesABadCorefile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(serveManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(conf, []byte(".:53 {\n    kubernetes cluster.local {\n        autopath\n    }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := dnsServe(context.Background(), []string{"-f", filepath.Join(dir, "m.yaml"), "-conf", conf, "--listen", "127.0.0.1:0"}, &dnsTestLog{})
	if err == nil || !strings.Contains(err.Error(), conf+`: Corefile:3: kubernetes: unknown option "autopath"`) {
		t.Errorf("error %v, want one naming the file and line 3", err)
	}
}

func dnsEventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
