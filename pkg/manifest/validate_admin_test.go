package manifest

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/podnet/podnet/pkg/source"
)

const (
	anpHead  = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata:\n  name: a\nspec:\n"
	banpHead = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata:\n  name: default\nspec:\n"
	anpSubj  = "  subject:\n    namespaces: {}\n"
)

// TestValidateAdminNetworkPolicies pins the CRD schema and CEL rules, in the
// words apiextensions-apiserver uses.
func TestValidateAdminNetworkPolicies(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"a complete ANP is valid", anpHead + "  priority: 10\n" + anpSubj + `  ingress:
  - name: deny-y
    action: Deny
    from: [{namespaces: {matchLabels: {ns: "y"}}}, {pods: {namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}}]
    ports: [{portNumber: {port: 80}}, {namedPort: http}, {portRange: {protocol: UDP, start: 1000, end: 2000}}]
  egress:
  - action: Pass
    to: [{networks: [10.0.0.0/8]}, {nodes: {}}]
    ports: [{portNumber: {protocol: SCTP, port: 81}}]
`, ""},
		{"the ANP is cluster-scoped: a namespace is dropped", strings.Replace(anpHead, "name: a\n", "name: a\n  namespace: x\n", 1) + "  priority: 1\n" + anpSubj, ""},
		{"priority is at most 1000", anpHead + "  priority: 1001\n" + anpSubj,
			`The AdminNetworkPolicy "a" is invalid: spec.priority: Invalid value: 1001: spec.priority in body should be less than or equal to 1000`},
		{"priority is at least 0", anpHead + "  priority: -1\n" + anpSubj,
			`The AdminNetworkPolicy "a" is invalid: spec.priority: Invalid value: -1: spec.priority in body should be greater than or equal to 0`},
		{"a subject is namespaces or pods, not both", anpHead + "  priority: 1\n  subject:\n    namespaces: {}\n    pods: {namespaceSelector: {}, podSelector: {}}\n",
			`The AdminNetworkPolicy "a" is invalid: spec.subject: Too many: 2: must have at most 1 item`},
		{"a subject is required", anpHead + "  priority: 1\n",
			`The AdminNetworkPolicy "a" is invalid: spec.subject: Invalid value: 0: spec.subject in body should have at least 1 properties`},
		{"an ANP action is Allow, Deny or Pass", anpHead + "  priority: 1\n" + anpSubj + "  ingress:\n  - action: Block\n    from: [{namespaces: {}}]\n",
			`The AdminNetworkPolicy "a" is invalid: spec.ingress[0].action: Unsupported value: "Block": supported values: "Allow", "Deny", "Pass"`},
		{"a rule needs peers", anpHead + "  priority: 1\n" + anpSubj + "  egress:\n  - action: Deny\n",
			`The AdminNetworkPolicy "a" is invalid: spec.egress[0].to: Required value`},
		{"a peer sets exactly one field", anpHead + "  priority: 1\n" + anpSubj + "  egress:\n  - action: Deny\n    to: [{namespaces: {}, networks: [10.0.0.0/8]}]\n",
			`The AdminNetworkPolicy "a" is invalid: spec.egress[0].to[0]: Too many: 2: must have at most 1 item`},
		{"networks are masked CIDRs", anpHead + "  priority: 1\n" + anpSubj + "  egress:\n  - action: Deny\n    to: [{networks: [10.0.0.1/8]}]\n",
			`The AdminNetworkPolicy "a" is invalid: spec.egress[0].to[0].networks[0]: Invalid value: "string": Invalid CIDR format provided`},
		{"a port number is 1-65535", anpHead + "  priority: 1\n" + anpSubj + "  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n    ports: [{portNumber: {port: 0}}]\n",
			`The AdminNetworkPolicy "a" is invalid: spec.ingress[0].ports[0].portNumber.port: Invalid value: 0: spec.ingress[0].ports[0].portNumber.port in body should be greater than or equal to 1`},
		{"a port range does not run backwards", anpHead + "  priority: 1\n" + anpSubj + "  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n    ports: [{portRange: {start: 90, end: 80}}]\n",
			"The AdminNetworkPolicy \"a\" is invalid: spec.ingress[0].ports[0].portRange.end: Invalid value: 80: must be greater than or equal to `start`"},
		{"named ports do not go with networks peers", anpHead + "  priority: 1\n" + anpSubj + "  egress:\n  - action: Allow\n    to: [{networks: [10.0.0.0/8]}]\n    ports: [{namedPort: http}]\n",
			`The AdminNetworkPolicy "a" is invalid: spec.egress[0]: Invalid value: "object": networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames`},
		{"a BANP is valid", banpHead + anpSubj + "  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n", ""},
		{"the BANP is named default", strings.Replace(banpHead, "default", "other", 1) + anpSubj,
			`The BaselineAdminNetworkPolicy "other" is invalid: <nil>: Invalid value: "object": Only one baseline admin network policy with metadata.name="default" can be created in the cluster`},
		{"a BANP has no Pass", banpHead + anpSubj + "  egress:\n  - action: Pass\n    to: [{namespaces: {}}]\n",
			`The BaselineAdminNetworkPolicy "default" is invalid: spec.egress[0].action: Unsupported value: "Pass": supported values: "Allow", "Deny"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := decodeOne(t, tc.doc)
			err := ValidationError(o, Validate(o, Options{}))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want valid, got: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("want %s, got valid", tc.want)
			case err != nil && err.Error() != tc.want:
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

func TestAdminNetworkPolicyDecodesAndDefaults(t *testing.T) {
	o := decodeOne(t, anpHead+"  priority: 3\n"+anpSubj+"  ingress:\n  - action: Deny\n    from: [{namespaces: {}}]\n    ports: [{portNumber: {port: 80}}, {portRange: {start: 1, end: 2}}]\n")
	if k, _ := source.KindOf(o); k != source.AdminNetworkPolicy || source.Namespaced(k) {
		t.Fatalf("kind %q, namespaced %v", k, source.Namespaced(k))
	}
	Default(o)
	ports := *o.(*policyv1alpha1.AdminNetworkPolicy).Spec.Ingress[0].Ports
	if ports[0].PortNumber.Protocol != corev1.ProtocolTCP || ports[1].PortRange.Protocol != corev1.ProtocolTCP {
		t.Errorf("protocols not defaulted to TCP: %+v %+v", ports[0].PortNumber, ports[1].PortRange)
	}
}
