package netpol

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const stacked = npHeader + `
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
` + npHeader + `
metadata: {name: a-from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}], ports: [{port: 80}]}]
---
` + npHeader + `
metadata: {name: b-to-z, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {ns: z}}, podSelector: {matchLabels: {pod: c}}}, {ipBlock: {cidr: 10.0.1.0/24, except: [10.0.1.2/32]}}]}]
`

// The matrix shares verdicts between pods of one class; every cell must
// still be what Evaluate says for that very pair.
func TestMatrixAgreesWithEvaluate(t *testing.T) {
	e := xyz(t, stacked)
	m := e.Matrix(nil)
	if want := 9 * 9 * 6; m.Len() != want {
		t.Fatalf("matrix has %d cells, want %d (9 pods x 9 pods x 6 ports)", m.Len(), want)
	}
	allowed := 0
	for c := range m.Cells() {
		v := e.Evaluate(e.endpoint(t, c.From), e.endpoint(t, c.To), c.Port, c.Protocol)
		if v.Allowed != c.Allowed {
			t.Errorf("cell %+v disagrees with Evaluate (%v)", c, v.Allowed)
		}
		if c.Allowed {
			allowed++
		}
	}
	if allowed == 0 || allowed == m.Len() {
		t.Errorf("degenerate matrix: %d of %d allowed", allowed, m.Len())
	}
	narrowed := e.Matrix([]PortProto{{81, corev1.ProtocolUDP}})
	if narrowed.Len() != 81 {
		t.Errorf("--ports 81/UDP should give 81 cells, got %d", narrowed.Len())
	}
}

func TestExplain(t *testing.T) {
	e := xyz(t, stacked)
	cases := []struct {
		from, to string
		port     int32
		allowed  bool
		want     []string
	}{
		{"y/a", "x/a", 80, true, []string{
			"No NetworkPolicy selects y/a for egress",
			"x/a is isolated for ingress by x/a-from-y, x/deny-all",
			"Ingress rule #1 of x/a-from-y allows from y/a on 80/TCP",
		}},
		{"y/a", "x/a", 81, false, []string{
			"no rule of these allows from y/a on 81/TCP",
			"ingress rule #1 of x/a-from-y: its ports (80/TCP) do not include 81/TCP on x/a",
			"x/deny-all has no ingress rules",
		}},
		{"x/b", "x/a", 80, false, []string{
			"ingress rule #1 of x/a-from-y: no peer matches x/b",
			"Egress rule #1 of x/b-to-z allows to x/a on 80/TCP", // x/a is in the ipBlock
		}},
		{"x/b", "y/a", 80, false, []string{"egress rule #1 of x/b-to-z: no peer matches y/a"}},
		{"x/b", "z/c", 80, true, []string{"Egress rule #1 of x/b-to-z allows to z/c on 80/TCP"}},
		{"172.18.0.2", "x/c", 80, true, []string{"own node"}},
	}
	for _, tc := range cases {
		t.Run(tc.from+"->"+tc.to, func(t *testing.T) {
			x := e.Explain(e.endpoint(t, tc.from), e.endpoint(t, tc.to), tc.port, corev1.ProtocolTCP)
			if x.Allowed != tc.allowed {
				t.Errorf("allowed = %v, want %v", x.Allowed, tc.allowed)
			}
			text := x.Text()
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("explanation lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestLint(t *testing.T) {
	cases := []struct {
		name, policies string
		want           []string // "policy field check"
	}{
		{"name=kube-system selects no namespace; DNS egress cut", npHeader + `
metadata: {name: dns, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {name: kube-system}}}]
    ports: [{port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Namespace
metadata: {name: kube-system}
---
apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: c, image: coredns}]}
status: {podIP: 10.0.9.9}`, []string{
			"x/dns spec.egress[0].to[0].namespaceSelector namespace-selector-matches-nothing",
			"x/dns spec.egress egress-without-dns",
		}},
		{"DNS allowed by metadata.name: no finding", npHeader + `
metadata: {name: dns, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]
    ports: [{port: 53, protocol: UDP}]
---
apiVersion: v1
kind: Pod
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec: {containers: [{name: c, image: coredns}]}
status: {podIP: 10.0.9.9}`, nil},
		{"selects no pod, inert rules, undefined named port, unexposed port", npHeader + `
metadata: {name: nobody, namespace: x}
spec:
  podSelector: {matchLabels: {pod: nobody}}
---
` + npHeader + `
metadata: {name: ports, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{ports: [{port: http}, {port: 8080}, {port: 80}]}]
  egress: [{}]`, []string{
			"x/nobody spec.podSelector selects-no-pod",
			"x/ports spec.policyTypes inert-rules",
			"x/ports spec.ingress[0].ports[0] named-port-undefined",
			"x/ports spec.ingress[0].ports[1] port-not-exposed",
		}},
		{"a rule inside another is shadowed; identical rules report the later", npHeader + `
metadata: {name: wide, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}]}]
---
` + npHeader + `
metadata: {name: narrow, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]
    ports: [{port: 80}]
  - from: [{podSelector: {matchLabels: {pod: b}}}]
  - from: [{podSelector: {matchLabels: {pod: b}}}]
  - from: [{ipBlock: {cidr: 10.0.0.0/8}}]`, []string{
			"x/narrow spec.ingress[0] shadowed-rule",
			"x/narrow spec.ingress[1] shadowed-rule",
			"x/narrow spec.ingress[2] shadowed-rule",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := xyz(t, tc.policies)
			var got []string
			for _, f := range e.Lint() {
				got = append(got, fmt.Sprintf("%s %s %s", f.Policy, f.Field, f.Check))
				if f.Message == "" {
					t.Errorf("finding without message: %+v", f)
				}
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("findings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

func TestDiff(t *testing.T) {
	before := xyz(t, npHeader+`
metadata: {name: deny, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Ingress]}`)
	after := xyz(t, npHeader+`
metadata: {name: deny, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}], ports: [{port: 80}]}]
---
`+npHeader+`
metadata: {name: deny-c, namespace: "y"}
spec: {podSelector: {matchLabels: {pod: c}}, ingress: [{from: [{podSelector: {}}]}]}`)
	ports := []PortProto{{80, corev1.ProtocolTCP}}
	got := Diff(before.Matrix(ports), after.Matrix(ports))
	var lines []string
	for _, c := range got {
		lines = append(lines, fmt.Sprintf("%s %s->%s", c.Change, c.From, c.To))
	}
	want := []string{"removed x/a->y/c", "added x/b->x/a", "removed x/b->y/c", "removed x/c->y/c", "removed z/a->y/c", "removed z/b->y/c", "removed z/c->y/c"}
	if !slices.Equal(lines, want) {
		t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
