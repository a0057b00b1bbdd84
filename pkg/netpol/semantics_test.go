package netpol

import "testing"

const npHeader = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"

// TestSemantics: networking.k8s.io/v1 as the API reference, the concept page
// and the upstream e2e suite define it, case by case, on the e2e model
// (namespaces x, y, z with label ns=<name>; pods a, b, c with pod=<name>;
// pod IPs 10.0.<x=1,y=2,z=3>.<a=1,b=2,c=3>; node n1 at 172.18.0.2 runs them).
func TestSemantics(t *testing.T) {
	cases := []struct {
		name     string
		policies string
		checks   []check
	}{
		{"no policy allows everything", "", []check{
			"x/a -> y/b 80/TCP: allow", "z/c -> x/a 81/UDP: allow", "x/a -> 192.0.2.1 443/TCP: allow",
		}},
		{"ingress deny-all isolates only the selected pods, only for ingress", npHeader + `
metadata: {name: deny, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}`, []check{
			"y/a -> x/a 80/TCP: deny", "x/b -> x/a 80/TCP: deny", "x/a -> y/a 80/TCP: allow",
			"192.0.2.1 -> x/a 80/TCP: deny", "y/a -> y/b 80/TCP: allow",
		}},
		{"egress rules without policyTypes isolate ingress too", npHeader + `
metadata: {name: egress-only-rules, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  egress: [{to: [{podSelector: {}}]}]`, []check{
			"y/b -> x/a 80/TCP: deny", "x/b -> x/a 80/TCP: deny",
			"x/a -> x/b 80/TCP: allow", "x/a -> y/b 80/TCP: deny", "y/b -> x/b 80/TCP: allow",
		}},
		{"policyTypes [Egress] makes ingress rules inert", npHeader + `
metadata: {name: egress-typed, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`, []check{
			"y/c -> x/a 80/TCP: allow", "x/a -> x/b 80/TCP: deny", "x/a -> 192.0.2.1 53/UDP: deny",
		}},
		{"empty egress list without policyTypes does not isolate egress", npHeader + `
metadata: {name: empty-egress, namespace: x}
spec: {podSelector: {}, egress: []}`, []check{
			"x/a -> y/a 80/TCP: allow", "y/a -> x/a 80/TCP: deny",
		}},
		{"policies add up: the union of their rules", npHeader + `
metadata: {name: from-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]
---
` + npHeader + `
metadata: {name: from-c, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: c}}}]}]`, []check{
			"x/b -> x/a 80/TCP: allow", "x/c -> x/a 81/UDP: allow", "x/a -> x/a 80/TCP: allow", "y/b -> x/a 80/TCP: deny",
		}},
		{"a podSelector peer alone stays in the policy's namespace", npHeader + `
metadata: {name: from-b, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`, []check{
			"x/b -> x/a 80/TCP: allow", "y/b -> x/a 80/TCP: deny", "x/c -> x/a 80/TCP: deny",
		}},
		{"namespaceSelector {} is every namespace", npHeader + `
metadata: {name: any-ns, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}]}]`, []check{
			"y/c -> x/a 80/TCP: allow", "z/a -> x/b 81/SCTP: allow", "192.0.2.1 -> x/a 80/TCP: deny", "172.18.0.3 -> x/a 80/TCP: deny",
		}},
		{"namespaceSelector and podSelector in one peer: AND", npHeader + `
metadata: {name: and, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: b}}}]}]`, []check{
			"y/b -> x/a 80/TCP: allow", "y/c -> x/a 80/TCP: deny", "x/b -> x/a 80/TCP: deny", "z/b -> x/a 80/TCP: deny",
		}},
		{"two peers: OR", npHeader + `
metadata: {name: or, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: "y"}}}, {podSelector: {matchLabels: {pod: b}}}]}]`, []check{
			"y/c -> x/a 80/TCP: allow", "x/b -> x/a 80/TCP: allow", "z/b -> x/a 80/TCP: deny", "x/c -> x/a 80/TCP: deny",
		}},
		{"namespaceSelector {} with a podSelector: that pod in every namespace", npHeader + `
metadata: {name: b-anywhere, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}]}]`, []check{
			"z/b -> x/a 80/TCP: allow", "z/c -> x/a 80/TCP: deny",
		}},
		{"NotIn and DoesNotExist are true on an absent key", npHeader + `
metadata: {name: exprs, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: team, operator: NotIn, values: [red]}]}
      podSelector: {matchExpressions: [{key: pod, operator: NotIn, values: [c]}, {key: tier, operator: DoesNotExist}]}`, []check{
			"y/a -> x/a 80/TCP: allow", "z/b -> x/a 80/TCP: allow", "y/c -> x/a 80/TCP: deny",
		}},
		{"matchLabels and matchExpressions in one selector: AND; In and Exists", npHeader + `
metadata: {name: both, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {ns: "y"}, matchExpressions: [{key: ns, operator: In, values: ["y", z]}]}
      podSelector: {matchExpressions: [{key: pod, operator: Exists}]}`, []check{
			"y/a -> x/a 80/TCP: allow", "z/a -> x/a 80/TCP: deny",
		}},
		{"the name label nobody sets selects nothing; kubernetes.io/metadata.name does", npHeader + `
metadata: {name: by-name, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {name: "y"}}}]
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}}]`, []check{
			"y/a -> x/a 80/TCP: deny", "z/a -> x/a 80/TCP: allow",
		}},
		{"ipBlock matches pod IPs, except carves out", npHeader + `
metadata: {name: cidr, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.0.2.0/24, except: [10.0.2.2/32]}}]}]`, []check{
			"x/a -> y/a 80/TCP: allow", "x/a -> y/c 81/UDP: allow", "x/a -> y/b 80/TCP: deny",
			"x/a -> z/a 80/TCP: deny", "x/a -> 10.0.2.200 80/TCP: allow",
		}},
		{"an excepted address is still allowed by another rule", npHeader + `
metadata: {name: cidr, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.0.2.0/24, except: [10.0.2.2/32]}}]
  - to: [{ipBlock: {cidr: 10.0.2.2/32}}]`, []check{
			"x/a -> y/b 80/TCP: allow",
		}},
		{"ipBlock 0.0.0.0/0 includes pods and outside addresses", npHeader + `
metadata: {name: all-v4, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]`, []check{
			"y/a -> x/a 80/TCP: allow", "192.0.2.1 -> x/a 80/TCP: allow",
		}},
		{"a port without protocol is TCP; UDP and SCTP stay closed", npHeader + `
metadata: {name: tcp80, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 80}]}]`, []check{
			"y/a -> x/a 80/TCP: allow", "y/a -> x/a 80/UDP: deny", "y/a -> x/a 80/SCTP: deny", "y/a -> x/a 81/TCP: deny",
		}},
		{"a policy allowing only SCTP still isolates, and never opens TCP", npHeader + `
metadata: {name: sctp, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 80, protocol: SCTP}]}]`, []check{
			"y/a -> x/a 80/SCTP: allow", "y/a -> x/a 80/TCP: deny", "y/a -> x/a 81/SCTP: deny",
		}},
		{"a protocol without port: every port of that protocol", npHeader + `
metadata: {name: udp, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{protocol: UDP}]}]`, []check{
			"y/a -> x/a 80/UDP: allow", "y/a -> x/a 5353/UDP: allow", "y/a -> x/a 80/TCP: deny",
		}},
		{"endPort: an inclusive range", npHeader + `
metadata: {name: range, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 79, endPort: 80, protocol: UDP}]}]`, []check{
			"y/a -> x/a 79/UDP: allow", "y/a -> x/a 80/UDP: allow", "y/a -> x/a 81/UDP: deny", "y/a -> x/a 80/TCP: deny",
		}},
		{"ports bind to the peers of their own rule only", npHeader + `
metadata: {name: bound, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]
    ports: [{port: 80}]
  - from: [{namespaceSelector: {matchLabels: {ns: z}}}]
    ports: [{port: 81}]`, []check{
			"y/a -> x/a 80/TCP: allow", "y/a -> x/a 81/TCP: deny", "z/a -> x/a 81/TCP: allow", "z/a -> x/a 80/TCP: deny",
		}},
		{"named ingress port resolves on the destination, by name and protocol", npHeader + `
metadata: {name: named, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: serve-81-udp, protocol: UDP}, {port: serve-80-udp}]}]`, []check{
			"y/a -> x/a 81/UDP: allow", "y/a -> x/a 81/TCP: deny", "y/a -> x/a 80/UDP: deny", "y/a -> x/a 80/TCP: deny",
		}},
		{"named egress port resolves on each destination pod, never on an address", npHeader + `
metadata: {name: named-egress, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress: [{ports: [{port: web}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: d, namespace: "y", labels: {pod: d}}
spec:
  containers: [{name: c, image: agnhost, ports: [{name: web, containerPort: 8080}]}]
status: {podIP: 10.0.2.4}
---
apiVersion: v1
kind: Pod
metadata: {name: d, namespace: z, labels: {pod: d}}
spec:
  containers: [{name: c, image: agnhost, ports: [{name: web, containerPort: 9090}]}]
status: {podIP: 10.0.3.4}`, []check{
			"x/a -> y/d 8080/TCP: allow", "x/a -> y/d 9090/TCP: deny", "x/a -> z/d 9090/TCP: allow",
			"x/a -> z/d 8080/TCP: deny", "x/a -> y/a 8080/TCP: deny", "x/a -> 192.0.2.1 8080/TCP: deny",
		}},
		{"traffic from the pod's own node is always allowed in, other nodes are not", npHeader + `
metadata: {name: deny, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}`, []check{
			"172.18.0.2 -> x/a 80/TCP: allow", "172.18.0.3 -> x/a 80/TCP: deny", "192.0.2.1 -> x/a 80/TCP: deny",
			"x/a -> 172.18.0.2 10250/TCP: deny",
		}},
		{"a pod can always reach itself", npHeader + `
metadata: {name: deny, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}`, []check{
			"x/a -> x/a 80/TCP: allow", "x/a -> x/b 80/TCP: deny",
		}},
		{"ingress [{}] allows everything, from outside too", npHeader + `
metadata: {name: deny, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
` + npHeader + `
metadata: {name: allow-all, namespace: x}
spec: {podSelector: {}, ingress: [{}]}`, []check{
			"y/a -> x/a 80/TCP: allow", "192.0.2.1 -> x/a 81/SCTP: allow", "172.18.0.3 -> x/b 80/UDP: allow",
		}},
		{"egress and ingress must both allow", npHeader + `
metadata: {name: x-egress, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {ns: "y"}}}]}]
---
` + npHeader + `
metadata: {name: y-ingress, namespace: "y"}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}]}]`, []check{
			"x/a -> y/b 80/TCP: allow", "x/a -> y/a 80/TCP: deny", "z/a -> y/a 80/TCP: allow", "x/a -> z/a 80/TCP: deny",
		}},
		{"a policy selecting no pod changes nothing", npHeader + `
metadata: {name: nobody, namespace: x}
spec: {podSelector: {matchLabels: {pod: nobody}}, policyTypes: [Ingress, Egress]}`, []check{
			"y/a -> x/a 80/TCP: allow", "x/a -> y/a 80/TCP: allow",
		}},
		{"a peer selecting no pod matches nothing (never fails open)", npHeader + `
metadata: {name: from-nobody, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {matchLabels: {pod: nobody}}}]}]`, []check{
			"x/b -> x/a 80/TCP: deny", "y/b -> x/a 80/TCP: deny",
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
