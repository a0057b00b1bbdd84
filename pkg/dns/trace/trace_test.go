package trace

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podnet/podnet/pkg/dns"
	"github.com/podnet/podnet/pkg/source"
)

const podResolv = "search remote.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"

func TestCandidates(t *testing.T) {
	r := ParseResolv(podResolv)
	cases := []struct {
		name, qname string
		resolv      Resolv
		want        []string
	}{
		{"a short name walks the search list, then is tried as is", "interginx", r,
			[]string{"interginx.remote.svc.cluster.local.", "interginx.svc.cluster.local.", "interginx.cluster.local.", "interginx."}},
		{"name.namespace is tried under the pod's namespace first", "bar.other-ns", r,
			[]string{"bar.other-ns.remote.svc.cluster.local.", "bar.other-ns.svc.cluster.local.", "bar.other-ns.cluster.local.", "bar.other-ns."}},
		{"an external name with 2 dots still walks the search list under ndots:5", "api.example.com", r,
			[]string{"api.example.com.remote.svc.cluster.local.", "api.example.com.svc.cluster.local.", "api.example.com.cluster.local.", "api.example.com."}},
		{"a trailing dot asks once", "api.example.com.", r, []string{"api.example.com."}},
		{"with ndots:1 a dotted name is tried as is first", "api.example.com", Resolv{Search: r.Search, Ndots: 1},
			[]string{"api.example.com.", "api.example.com.remote.svc.cluster.local.", "api.example.com.svc.cluster.local.", "api.example.com.cluster.local."}},
		{"five dots reach ndots:5", "_http._tcp.web.default.svc.cluster", r,
			[]string{"_http._tcp.web.default.svc.cluster.", "_http._tcp.web.default.svc.cluster.remote.svc.cluster.local.", "_http._tcp.web.default.svc.cluster.svc.cluster.local.", "_http._tcp.web.default.svc.cluster.cluster.local."}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := Candidates(tc.qname, tc.resolv)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseResolv(t *testing.T) {
	r := ParseResolv("nameserver 10.96.0.10\nsearch a b\nsearch c\nnameserver 10.96.0.11\noptions ndots:30 edns0\n")
	if strings.Join(r.Nameservers, " ") != "10.96.0.10 10.96.0.11" || strings.Join(r.Search, " ") != "c" || r.Ndots != 15 {
		t.Errorf("got %+v: want both nameservers, the last search line, ndots capped at 15", r)
	}
	if ParseResolv("nameserver 1.1.1.1\n").Ndots != 1 {
		t.Errorf("ndots should default to 1")
	}
}

func TestExplain(t *testing.T) {
	cases := []struct {
		qname string
		rcode int
		want  string
	}{
		{"interginx.remote.svc.cluster.local.", mdns.RcodeNameError, `no Service "interginx" in namespace "remote"`},
		{"interginx.svc.cluster.local.", mdns.RcodeNameError, `no namespace "interginx"`},
		{"interginx.cluster.local.", mdns.RcodeNameError, "only svc.cluster.local. and pod.cluster.local. exist"},
		{"web-9.web.default.svc.cluster.local.", mdns.RcodeNameError, `no Service "web" in namespace "default", or no ready endpoint "web-9" of it`},
		{"_http._udp.web.default.svc.cluster.local.", mdns.RcodeNameError, `no port http/udp on a Service "web"`},
		{"api.example.com.default.svc.cluster.local.", mdns.RcodeNameError, "not a cluster name: under default.svc only"},
		{"a.b.default.pod.cluster.local.", mdns.RcodeNameError, "too many labels for a pod name"},
		{"x.default.pod.cluster.local.", mdns.RcodeNameError, `"x" is not a dashed pod IP`},
		{"interginx.", mdns.RcodeRefused, "no upstream"},
		{"web.default.svc.cluster.local.", mdns.RcodeSuccess, "no record of this type"},
	}
	for _, tc := range cases {
		if got := Explain(tc.qname, tc.rcode, "cluster.local"); !strings.Contains(got, tc.want) {
			t.Errorf("Explain(%s, %s) = %q, want it to contain %q", tc.qname, mdns.RcodeToString[tc.rcode], got, tc.want)
		}
	}
}

// TestWalkAgainstTheServer walks seed 004's failing lookup against a real
// server: the short name fails from another namespace, name.namespace works.
func TestWalkAgainstTheServer(t *testing.T) {
	src := source.NewStatic(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "remote"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "interginx"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.30", ClusterIPs: []string{"10.96.0.30"}, Ports: []corev1.ServicePort{{Port: 80}}}})
	s, err := dns.NewServer(src, dns.ServerConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, pc, nil) }()
	defer func() { cancel(); <-done }()
	for !s.Ready() {
		time.Sleep(time.Millisecond)
	}
	c := &mdns.Client{Timeout: 2 * time.Second}
	ex := func(ctx context.Context, m *mdns.Msg) (*mdns.Msg, error) {
		r, _, err := c.ExchangeContext(ctx, m, pc.LocalAddr().String())
		return r, err
	}
	r := ParseResolv(podResolv)

	short := Walk(ctx, "interginx", mdns.TypeA, r, ex)
	var rcodes []string
	for _, st := range short.Steps {
		rcodes = append(rcodes, mdns.RcodeToString[st.Rcode])
	}
	if short.Found != -1 || strings.Join(rcodes, " ") != "NXDOMAIN NXDOMAIN NXDOMAIN REFUSED" {
		t.Errorf("interginx from remote: found=%d rcodes %q, want not found after NXDOMAIN×3 and REFUSED", short.Found, rcodes)
	}
	var out bytes.Buffer
	Print(&out, short, mdns.TypeA, "cluster.local")
	if !strings.Contains(out.String(), `no Service "interginx" in namespace "remote"`) || !strings.Contains(out.String(), "Not found: all 4 queries failed") ||
		strings.Contains(out.String(), "absolute name") {
		t.Errorf("printed trace:\n%s", out.String())
	}

	external := Walk(ctx, "api.example.com", mdns.TypeA, r, ex)
	out.Reset()
	Print(&out, external, mdns.TypeA, "cluster.local")
	if !strings.Contains(out.String(), "If api.example.com is meant as an absolute name, write it api.example.com.: one query instead of 4.") {
		t.Errorf("the cost of ndots for an external name:\n%s", out.String())
	}

	nodata := Walk(ctx, "interginx.default", mdns.TypeAAAA, r, ex)
	out.Reset()
	Print(&out, nodata, mdns.TypeAAAA, "cluster.local")
	if !strings.Contains(out.String(), "No AAAA record: interginx.default.svc.cluster.local. exists (query 2)") {
		t.Errorf("a name that exists without the type should say so:\n%s", out.String())
	}

	qualified := Walk(ctx, "interginx.default", mdns.TypeA, r, ex)
	if qualified.Found != 1 || len(qualified.Steps[1].Answer) != 1 {
		t.Errorf("interginx.default from remote: found=%d steps=%d, want the second query to answer", qualified.Found, len(qualified.Steps))
	}
}
