package netpol

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/source"
)

// decode reads YAML documents, failing the test on any error.
func decode(t testing.TB, docs string) []source.Object {
	t.Helper()
	objs, err := manifest.Decode(strings.NewReader(docs), "test")
	if err != nil {
		t.Fatalf("decoding test manifests: %v", err)
	}
	return objs
}

// xyz is the upstream e2e model (testdata/xyz.yaml) plus extra documents.
func xyz(t testing.TB, extra string) *Engine {
	t.Helper()
	base, err := os.ReadFile("testdata/xyz.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs := decode(t, string(base)+"\n---\n"+extra)
	for _, o := range objs {
		if errs := manifest.Validate(o, manifest.Options{}); len(errs) > 0 {
			t.Fatalf("test input %s is invalid: %v", source.Key(o), errs.ToAggregate())
		}
	}
	e, err := New(FromObjects(objs))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// check is "FROM -> TO PORT/PROTO: allow|deny"; FROM and TO are pods
// (ns/name) or addresses.
type check string

func (e *Engine) endpoint(t testing.TB, s string) Endpoint {
	t.Helper()
	if strings.Contains(s, "/") {
		p := e.Cluster.Pod(s)
		if p == nil {
			t.Fatalf("no pod %q", s)
		}
		return PodEndpoint(p)
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("endpoint %q: %v", s, err)
	}
	return IPEndpoint(ip)
}

func (e *Engine) runCheck(t testing.TB, c check) {
	t.Helper()
	var from, to, pp, want string
	if _, err := fmt.Sscanf(strings.Replace(string(c), ":", "", 1), "%s -> %s %s %s", &from, &to, &pp, &want); err != nil {
		t.Fatalf("bad check %q: %v", c, err)
	}
	port, proto, _ := strings.Cut(pp, "/")
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("bad port in %q", c)
	}
	v := e.Evaluate(e.endpoint(t, from), e.endpoint(t, to), int32(n), corev1.Protocol(proto))
	got := "deny"
	if v.Allowed {
		got = "allow"
	}
	if got != want {
		t.Errorf("%s: got %s (egress %s %v, ingress %s %v)", c, got, v.Egress.Reason, v.Egress.Rules, v.Ingress.Reason, v.Ingress.Rules)
	}
	// The fast path must agree with the explaining one.
	if fast := e.Allowed(e.endpoint(t, from), e.endpoint(t, to), int32(n), corev1.Protocol(proto)); fast != v.Allowed {
		t.Errorf("%s: Allowed says %v, Evaluate %v", c, fast, v.Allowed)
	}
}
