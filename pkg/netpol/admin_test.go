package netpol

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const (
	anpHeader  = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n"
	banpHeader = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\n"
)

// TestAdminSemantics: the tiers of policy.networking.k8s.io/v1alpha1 —
// AdminNetworkPolicy by priority, NetworkPolicy, BaselineAdminNetworkPolicy,
// default allow — on the e2e model (see TestSemantics).
func TestAdminSemantics(t *testing.T) {
	cases := []struct {
		name     string
		policies string
		checks   []check
	}{
		{"an ANP Deny overrides a NetworkPolicy Allow", anpHeader + `
metadata: {name: deny-from-y}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]
---
` + npHeader + `
metadata: {name: allow-all, namespace: x}
spec: {podSelector: {}, ingress: [{}]}`, []check{
			"y/a -> x/a 80/TCP: deny", "y/b -> x/c 81/UDP: deny", "z/a -> x/a 80/TCP: allow", "x/b -> x/a 80/TCP: allow",
			"x/a -> y/a 80/TCP: allow",
		}},
		{"an ANP Allow overrides a NetworkPolicy deny-all", anpHeader + `
metadata: {name: allow-monitoring}
spec:
  priority: 5
  subject: {namespaces: {}}
  ingress: [{action: Allow, from: [{pods: {namespaceSelector: {matchLabels: {ns: z}}, podSelector: {matchLabels: {pod: c}}}}]}]
---
` + npHeader + `
metadata: {name: deny, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}`, []check{
			"z/c -> x/a 80/TCP: allow", "z/b -> x/a 80/TCP: deny", "z/c -> y/a 80/TCP: allow", "y/a -> x/b 80/TCP: deny",
		}},
		{"an ANP Allow on egress still needs the destination's ingress", anpHeader + `
metadata: {name: allow-out}
spec:
  priority: 5
  subject: {namespaces: {matchLabels: {ns: "y"}}}
  egress: [{action: Allow, to: [{namespaces: {}}]}]
---
` + npHeader + `
metadata: {name: deny, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}`, []check{
			"y/a -> x/a 80/TCP: deny", "y/a -> z/a 80/TCP: allow",
		}},
		{"an ANP Pass defers to NetworkPolicy", anpHeader + `
metadata: {name: pass-y}
spec:
  priority: 1
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: pass-y, action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]
---
` + anpHeader + `
metadata: {name: deny-all-in}
spec:
  priority: 2
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
---
` + npHeader + `
metadata: {name: from-b, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}]}]`, []check{
			"y/b -> x/a 80/TCP: allow", "y/a -> x/a 80/TCP: deny", "z/b -> x/a 80/TCP: deny", "x/b -> x/a 80/TCP: deny",
		}},
		{"a Pass with no NetworkPolicy goes on to the baseline", anpHeader + `
metadata: {name: pass-y}
spec:
  priority: 1
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]
---
` + banpHeader + `
spec:
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]`, []check{
			"y/a -> x/a 80/TCP: deny", "z/a -> x/a 80/TCP: allow",
		}},
		{"a lower priority number wins", anpHeader + `
metadata: {name: z-allow}
spec:
  priority: 20
  subject: {namespaces: {}}
  ingress: [{action: Allow, from: [{namespaces: {}}]}]
---
` + anpHeader + `
metadata: {name: a-deny}
spec:
  priority: 30
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
---
` + anpHeader + `
metadata: {name: m-deny-x}
spec:
  priority: 10
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: x}}}]}]`, []check{
			"x/a -> y/a 80/TCP: deny", "y/a -> z/a 80/TCP: allow",
		}},
		{"equal priorities go by name", anpHeader + `
metadata: {name: b-allow}
spec:
  priority: 10
  subject: {namespaces: {}}
  ingress: [{action: Allow, from: [{namespaces: {}}]}]
---
` + anpHeader + `
metadata: {name: a-deny}
spec:
  priority: 10
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: x}}}]}]`, []check{
			"x/a -> y/a 80/TCP: deny", "y/a -> z/a 80/TCP: allow",
		}},
		{"within an ANP the first matching rule wins", anpHeader + `
metadata: {name: ordered}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress:
  - {action: Allow, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}]}
  - {action: Deny, from: [{namespaces: {}}]}`, []check{
			"y/a -> x/b 80/TCP: allow", "y/b -> x/b 80/TCP: deny", "x/a -> x/b 80/TCP: allow",
		}},
		{"an ANP does not isolate: unmatched traffic goes on", anpHeader + `
metadata: {name: deny-81}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Deny, from: [{namespaces: {}}], ports: [{portNumber: {port: 81}}]}]`, []check{
			"y/a -> x/a 81/TCP: deny", "y/a -> x/a 80/TCP: allow", "y/a -> x/a 81/UDP: allow", "192.0.2.1 -> x/a 81/TCP: allow",
		}},
		{"a BANP Deny applies to pods no NetworkPolicy isolates", banpHeader + `
spec:
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: z}}}]}]
---
` + npHeader + `
metadata: {name: allow-all, namespace: x}
spec: {podSelector: {matchLabels: {pod: a}}, ingress: [{}]}`, []check{
			"z/a -> x/a 80/TCP: allow", "z/a -> x/b 80/TCP: deny", "z/a -> y/b 80/TCP: deny", "y/a -> x/b 80/TCP: allow",
		}},
		{"a NetworkPolicy for the other direction leaves the baseline in charge", banpHeader + `
spec:
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {ns: z}}}]}]
---
` + npHeader + `
metadata: {name: egress-only, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress], egress: [{}]}`, []check{
			"z/a -> x/a 80/TCP: deny", "x/a -> z/a 80/TCP: allow",
		}},
		{"BANP rules go in order", banpHeader + `
spec:
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}}
  egress:
  - {action: Allow, to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}}]}
  - {action: Deny, to: [{namespaces: {}}]}`, []check{
			"x/a -> y/b 80/TCP: allow", "x/a -> y/c 80/TCP: deny", "x/b -> y/c 80/TCP: allow", "x/a -> 192.0.2.1 80/TCP: allow",
		}},
		{"networks match pod IPs and outside addresses alike", anpHeader + `
metadata: {name: deny-net}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  egress: [{action: Deny, to: [{networks: [10.0.2.0/24, 192.0.2.0/24]}]}]`, []check{
			"x/a -> y/a 80/TCP: deny", "x/a -> 192.0.2.7 443/TCP: deny", "x/a -> z/a 80/TCP: allow", "x/a -> 198.51.100.1 80/TCP: allow",
		}},
		{"nodes peers match node addresses by node labels", `apiVersion: v1
kind: Node
metadata: {name: n2, labels: {role: infra}}
status:
  addresses: [{type: InternalIP, address: 172.18.0.3}]
---
` + anpHeader + `
metadata: {name: deny-infra}
spec:
  priority: 10
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{nodes: {matchLabels: {role: infra}}}]}]`, []check{
			"x/a -> 172.18.0.3 10250/TCP: deny", "x/a -> 172.18.0.2 10250/TCP: allow", "x/a -> y/a 80/TCP: allow",
		}},
		{"ports: a range is inclusive, the protocol defaults to TCP", anpHeader + `
metadata: {name: range}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Deny, from: [{namespaces: {}}], ports: [{portRange: {start: 79, end: 80}}, {portNumber: {protocol: UDP, port: 81}}]}]`, []check{
			"y/a -> x/a 79/TCP: deny", "y/a -> x/a 80/TCP: deny", "y/a -> x/a 81/TCP: allow", "y/a -> x/a 80/UDP: allow", "y/a -> x/a 81/UDP: deny",
		}},
		{"a named port is resolved on the destination pod", anpHeader + `
metadata: {name: named}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  egress: [{action: Deny, to: [{namespaces: {}}], ports: [{namedPort: serve-81-udp}]}]`, []check{
			"x/a -> y/a 81/UDP: deny", "x/a -> y/a 81/TCP: allow", "x/a -> y/a 80/UDP: allow",
		}},
		{"a pod always reaches itself and its node reaches it, whatever the admin tiers say", anpHeader + `
metadata: {name: deny-everything}
spec:
  priority: 0
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
  egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]`, []check{
			"x/a -> x/a 80/TCP: allow", "172.18.0.2 -> x/a 80/TCP: allow", "x/a -> x/b 80/TCP: deny", "x/a -> 192.0.2.1 80/TCP: deny",
		}},
		{"a subject by pods picks pods in the selected namespaces only", anpHeader + `
metadata: {name: a-in-y}
spec:
  priority: 10
  subject: {pods: {namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: a}}}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]`, []check{
			"x/b -> y/a 80/TCP: deny", "x/b -> x/a 80/TCP: allow", "x/b -> y/b 80/TCP: allow",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := xyz(t, tc.policies)
			for _, c := range tc.checks {
				e.runCheck(t, c)
			}
		})
	}
}

func TestAdminExplain(t *testing.T) {
	e := xyz(t, anpHeader+`
metadata: {name: pass-y}
spec:
  priority: 1
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: to-netpol, action: Pass, from: [{namespaces: {matchLabels: {ns: "y"}}}]}]
---
`+anpHeader+`
metadata: {name: deny-z}
spec:
  priority: 7
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{name: no-z, action: Deny, from: [{namespaces: {matchLabels: {ns: z}}}]}]
---
`+banpHeader+`
spec:
  subject: {namespaces: {}}
  ingress: [{name: guard, action: Deny, from: [{namespaces: {matchLabels: {ns: x}}}]}]`)
	pod := func(k string) Endpoint { return PodEndpoint(e.Cluster.Pod(k)) }
	cases := []struct {
		name       string
		from, to   string
		allowed    bool
		ingressHas []string
	}{
		{"an ANP Deny names the policy, its priority and the rule", "z/a", "x/a", false, []string{
			`ingress rule #1 "no-z" (Deny) of AdminNetworkPolicy deny-z (priority 7) matches traffic from z/a on 80/TCP`}},
		{"a Pass says NetworkPolicy decides, then why", "y/a", "x/a", true, []string{
			`Ingress rule #1 "to-netpol" (Pass) of AdminNetworkPolicy pass-y (priority 1) matches`,
			"No NetworkPolicy selects x/a for ingress"}},
		{"a baseline Deny says no NetworkPolicy isolates the pod", "x/a", "y/a", false, []string{
			"No NetworkPolicy selects y/a for ingress, so BaselineAdminNetworkPolicy default decides",
			`ingress rule #1 "guard" (Deny) of BaselineAdminNetworkPolicy default matches traffic from x/a on 80/TCP`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := e.Explain(pod(tc.from), pod(tc.to), 80, corev1.ProtocolTCP)
			if x.Allowed != tc.allowed {
				t.Errorf("allowed %v, want %v", x.Allowed, tc.allowed)
			}
			text := strings.Join(x.Ingress.Sentences, "\n")
			for _, want := range tc.ingressHas {
				if !strings.Contains(text, want) {
					t.Errorf("ingress explanation lacks %q:\n%s", want, x.Text())
				}
			}
		})
	}
}

func TestAdminLint(t *testing.T) {
	e := xyz(t, anpHeader+`
metadata: {name: nobody}
spec:
  priority: 3
  subject: {namespaces: {matchLabels: {team: none}}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {name: kube-system}}}]}]
---
`+anpHeader+`
metadata: {name: twin-a}
spec:
  priority: 4
  subject: {namespaces: {matchLabels: {ns: x}}}
  egress: [{action: Allow, to: [{domainNames: [example.com]}]}]
---
`+anpHeader+`
metadata: {name: twin-b}
spec:
  priority: 4
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{namespaces: {}}]}]`)
	got := map[string]string{}
	for _, f := range e.Lint() {
		got[f.Policy+" "+f.Check] = f.Field + ": " + f.Message
	}
	for _, want := range []string{
		"AdminNetworkPolicy/nobody selects-no-pod",
		"AdminNetworkPolicy/nobody namespace-selector-matches-nothing",
		"AdminNetworkPolicy/twin-b same-priority",
		"AdminNetworkPolicy/twin-a domain-names-unsupported",
	} {
		if _, ok := got[want]; !ok {
			t.Errorf("lint lacks %s; got %v", want, got)
		}
	}
	if m := got["AdminNetworkPolicy/nobody namespace-selector-matches-nothing"]; !strings.Contains(m, "kubernetes.io/metadata.name=kube-system") {
		t.Errorf("namespace selector finding gives no hint: %s", m)
	}
}

func TestAdminDiff(t *testing.T) {
	before := xyz(t, "")
	after := xyz(t, anpHeader+`
metadata: {name: deny-y-to-x}
spec:
  priority: 10
  subject: {namespaces: {matchLabels: {ns: x}}}
  ingress: [{action: Deny, from: [{pods: {namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: a}}}}], ports: [{portNumber: {port: 80}}]}]`)
	ports := []PortProto{{80, corev1.ProtocolTCP}}
	changes := Diff(before.Matrix(ports), after.Matrix(ports))
	if len(changes) != 3 {
		t.Fatalf("want 3 removed connections (y/a to x/a, x/b, x/c), got %v", changes)
	}
	for _, c := range changes {
		if c.Change != "removed" || c.From != "y/a" || !strings.HasPrefix(c.To, "x/") {
			t.Errorf("unexpected change %+v", c)
		}
	}
}
