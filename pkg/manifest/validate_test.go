package manifest

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

const (
	deployHead = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
	podTmpl    = "  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n"
	container  = "  containers:\n  - name: c\n    image: nginx\n"
	sliceHead  = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: s\n"
	ingHead    = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: ing\nspec:\n"
	npPeer     = policyHead + "  ingress:\n  - from:\n    - "
)

// TestValidate pins the API server's messages as kubectl prints them.
func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		opts Options
		want string // "" for valid
	}{
		// Names and metadata
		{"a Service name must be a DNS-1035 label", "apiVersion: v1\nkind: Service\nmetadata:\n  name: 1web\nspec:\n  ports:\n  - port: 80\n", Options{},
			`The Service "1web" is invalid: metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`},
		{"a Namespace name must be a DNS-1123 label", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a.b\n", Options{},
			`The Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": must not contain dots`},
		{"a Pod name may be a DNS subdomain", podHead + container, Options{}, ""},
		{"a Pod name must be a DNS subdomain", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Web\nspec:\n" + container, Options{},
			`The Pod "Web" is invalid: metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{"an object needs a name", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", Options{},
			`The ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required`},
		{"a namespace must be a DNS label", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: Prod\n", Options{},
			`The ConfigMap "c" is invalid: metadata.namespace: Invalid value: "Prod": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{"a label value may not hold spaces", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    app: my app\n", Options{},
			`The ConfigMap "c" is invalid: metadata.labels: Invalid value: "my app": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`},

		// Service
		{"a Service needs ports", svcHead + "  selector:\n    app: web\n", Options{},
			`The Service "web" is invalid: spec.ports: Required value`},
		{"a headless Service needs no ports", svcHead + "  clusterIP: None\n", Options{}, ""},
		{"an ExternalName Service needs no ports", svcHead + "  type: ExternalName\n  externalName: db.example.com.\n", Options{}, ""},
		{"a port must be in 1-65535", svcHead + "  ports:\n  - port: 70000\n", Options{},
			"The Service \"web\" is invalid: \n* spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive\n* spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"},
		{"several ports need names", svcHead + "  ports:\n  - port: 80\n  - port: 443\n", Options{},
			"The Service \"web\" is invalid: \n* spec.ports[0].name: Required value\n* spec.ports[1].name: Required value"},
		{"port names are unique", svcHead + "  ports:\n  - name: http\n    port: 80\n  - name: http\n    port: 81\n", Options{},
			`The Service "web" is invalid: spec.ports[1].name: Duplicate value: "http"`},
		{"a port name is a DNS label", svcHead + "  ports:\n  - name: HTTP\n    port: 80\n", Options{},
			`The Service "web" is invalid: spec.ports[0].name: Invalid value: "HTTP": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{"a port's protocol is TCP, UDP or SCTP", svcHead + "  ports:\n  - port: 80\n    protocol: ICMP\n", Options{},
			`The Service "web" is invalid: spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`},
		{"the same port and protocol twice is a duplicate", svcHead + "  ports:\n  - name: a\n    port: 80\n  - name: b\n    port: 80\n", Options{},
			`The Service "web" is invalid: spec.ports[1]: Duplicate value: {"protocol":"TCP","port":80,"targetPort":0}`},
		{"the same port over TCP and UDP is fine", svcHead + "  ports:\n  - name: a\n    port: 53\n  - name: b\n    port: 53\n    protocol: UDP\n", Options{}, ""},
		{"a targetPort name is an IANA service name", svcHead + "  ports:\n  - port: 80\n    targetPort: http_web\n", Options{},
			`The Service "web" is invalid: spec.ports[0].targetPort: Invalid value: "http_web": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`},
		{"a targetPort number is in 1-65535", svcHead + "  ports:\n  - port: 80\n    targetPort: 65536\n", Options{},
			`The Service "web" is invalid: spec.ports[0].targetPort: Invalid value: 65536: must be between 1 and 65535, inclusive`},
		{"a nodePort outside the range cannot be allocated", svcHead + "  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 40000\n", Options{},
			`The Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid ports is 30000-32767`},
		{"the node port range is configurable", svcHead + "  type: NodePort\n  ports:\n  - port: 80\n    nodePort: 40000\n",
			Options{NodePortRange: utilnet.PortRange{Base: 40000, Size: 100}}, ""},
		{"a nodePort is forbidden on a ClusterIP Service", svcHead + "  ports:\n  - port: 80\n    nodePort: 30080\n", Options{},
			"The Service \"web\" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"},
		{"a nodePort used twice is a duplicate", svcHead + "  type: NodePort\n  ports:\n  - name: a\n    port: 80\n    nodePort: 30080\n  - name: b\n    port: 81\n    nodePort: 30080\n", Options{},
			`The Service "web" is invalid: spec.ports[1].nodePort: Duplicate value: 30080`},
		{"a clusterIP must be an IP", svcHead + "  clusterIP: 10.96.0.300\n  ports:\n  - port: 80\n", Options{},
			`The Service "web" is invalid: spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`},
		{"a clusterIP outside the service CIDR cannot be allocated", svcHead + "  clusterIP: 10.0.0.1\n  ports:\n  - port: 80\n", Options{},
			`The Service "web" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.1"]: failed to allocate IP 10.0.0.1: the provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12`},
		{"the service CIDR is configurable", svcHead + "  clusterIP: 10.0.0.1\n  ports:\n  - port: 80\n",
			Options{ServiceCIDR: netip.MustParsePrefix("10.0.0.0/16")}, ""},
		{"a clusterIP inside the service CIDR is fine", svcHead + "  clusterIP: 10.96.0.10\n  ports:\n  - port: 53\n", Options{}, ""},
		{"a NodePort Service may not be headless", svcHead + "  type: NodePort\n  clusterIP: None\n  ports:\n  - port: 80\n", Options{},
			`The Service "web" is invalid: spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for NodePort services`},
		{"a LoadBalancer Service may not be headless", svcHead + "  type: LoadBalancer\n  clusterIP: None\n  ports:\n  - port: 80\n", Options{},
			`The Service "web" is invalid: spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for LoadBalancer services`},
		{"an unknown type is refused", svcHead + "  type: Internal\n  ports:\n  - port: 80\n", Options{},
			`The Service "web" is invalid: spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`},
		{"an ExternalName Service needs an externalName", svcHead + "  type: ExternalName\n", Options{},
			`The Service "web" is invalid: spec.externalName: Required value`},
		{"an externalName is a DNS name", svcHead + "  type: ExternalName\n  externalName: db_host\n", Options{},
			`The Service "web" is invalid: spec.externalName: Invalid value: "db_host": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{"an ExternalName Service may not have a clusterIP", svcHead + "  type: ExternalName\n  externalName: a.example\n  clusterIP: 10.96.0.5\n", Options{},
			`The Service "web" is invalid: spec.clusterIPs: Forbidden: may not be set for ExternalName services`},
		{"sessionAffinity is None or ClientIP", svcHead + "  sessionAffinity: Cookie\n  ports:\n  - port: 80\n", Options{},
			`The Service "web" is invalid: spec.sessionAffinity: Unsupported value: "Cookie": supported values: "ClientIP", "None"`},
		{"a ClientIP timeout is at most a day", svcHead + "  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n    clientIP:\n      timeoutSeconds: 86401\n  ports:\n  - port: 80\n", Options{},
			`The Service "web" is invalid: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400`},
		{"externalTrafficPolicy needs an externally accessible Service", svcHead + "  externalTrafficPolicy: Local\n  ports:\n  - port: 80\n", Options{},
			`The Service "web" is invalid: spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services`},
		{"externalTrafficPolicy is Cluster or Local", svcHead + "  type: NodePort\n  externalTrafficPolicy: Global\n  ports:\n  - port: 80\n", Options{},
			`The Service "web" is invalid: spec.externalTrafficPolicy: Unsupported value: "Global": supported values: "Cluster", "Local"`},
		{"loadBalancerSourceRanges are CIDRs", svcHead + "  type: LoadBalancer\n  loadBalancerSourceRanges: [10.0.0.0/33]\n  ports:\n  - port: 80\n", Options{},
			`The Service "web" is invalid: spec.loadBalancerSourceRanges[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`},
		{"a selector holds valid labels", svcHead + "  selector:\n    app: -web\n  ports:\n  - port: 80\n", Options{},
			`The Service "web" is invalid: spec.selector: Invalid value: "-web": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`},

		// Pod
		{"a pod needs a container", podHead + "  containers: []\n", Options{},
			`The Pod "p" is invalid: spec.containers: Required value`},
		{"a container needs an image", podHead + "  containers:\n  - name: c\n", Options{},
			`The Pod "p" is invalid: spec.containers[0].image: Required value`},
		{"container names are unique", podHead + "  containers:\n  - name: c\n    image: a\n  - name: c\n    image: b\n", Options{},
			`The Pod "p" is invalid: spec.containers[1].name: Duplicate value: "c"`},
		{"a container name is a DNS label", podHead + "  containers:\n  - name: My_App\n    image: a\n", Options{},
			`The Pod "p" is invalid: spec.containers[0].name: Invalid value: "My_App": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{"a containerPort is in 1-65535", podHead + container + "    ports:\n    - containerPort: 0\n", Options{},
			`The Pod "p" is invalid: spec.containers[0].ports[0].containerPort: Required value`},
		{"a containerPort may not exceed 65535", podHead + container + "    ports:\n    - containerPort: 65536\n", Options{},
			`The Pod "p" is invalid: spec.containers[0].ports[0].containerPort: Invalid value: 65536: must be between 1 and 65535, inclusive`},
		{"a port name is at most 15 characters", podHead + container + "    ports:\n    - name: a-very-long-port-name\n      containerPort: 80\n", Options{},
			`The Pod "p" is invalid: spec.containers[0].ports[0].name: Invalid value: "a-very-long-port-name": must be no more than 15 characters`},
		{"container port names are unique", podHead + container + "    ports:\n    - name: http\n      containerPort: 80\n    - name: http\n      containerPort: 81\n", Options{},
			`The Pod "p" is invalid: spec.containers[0].ports[1].name: Duplicate value: "http"`},
		{"restartPolicy is Always, OnFailure or Never", podHead + "  restartPolicy: Sometimes\n" + container, Options{},
			`The Pod "p" is invalid: spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"`},
		{"dnsPolicy is one of four", podHead + "  dnsPolicy: ClusterLast\n" + container, Options{},
			`The Pod "p" is invalid: spec.dnsPolicy: Unsupported value: "ClusterLast": supported values: "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"`},
		{"dnsPolicy None needs dnsConfig", podHead + "  dnsPolicy: None\n" + container, Options{},
			"The Pod \"p\" is invalid: spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"},
		{"dnsPolicy None needs a nameserver", podHead + "  dnsPolicy: None\n  dnsConfig:\n    searches: [a.example]\n" + container, Options{},
			"The Pod \"p\" is invalid: spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None"},
		{"at most three nameservers", podHead + "  dnsConfig:\n    nameservers: [1.1.1.1, 2.2.2.2, 3.3.3.3, 4.4.4.4]\n" + container, Options{},
			`The Pod "p" is invalid: spec.dnsConfig.nameservers: Invalid value: ["1.1.1.1","2.2.2.2","3.3.3.3","4.4.4.4"]: must not have more than 3 nameservers`},
		{"a nameserver is an IP", podHead + "  dnsConfig:\n    nameservers: [dns.example]\n" + container, Options{},
			`The Pod "p" is invalid: spec.dnsConfig.nameservers[0]: Invalid value: "dns.example": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`},
		{"a search domain is a DNS subdomain", podHead + "  dnsConfig:\n    searches: [bad_domain]\n" + container, Options{},
			`The Pod "p" is invalid: spec.dnsConfig.searches[0]: Invalid value: "bad_domain": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{"a hostname is a DNS label", podHead + "  hostname: web.1\n" + container, Options{},
			`The Pod "p" is invalid: spec.hostname: Invalid value: "web.1": must not contain dots`},
		{"a probe needs a handler", podHead + container + "    readinessProbe:\n      periodSeconds: 5\n", Options{},
			`The Pod "p" is invalid: spec.containers[0].readinessProbe: Required value: must specify a handler type`},
		{"a probe has only one handler", podHead + container + "    livenessProbe:\n      httpGet:\n        port: 80\n      tcpSocket:\n        port: 80\n", Options{},
			`The Pod "p" is invalid: spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type`},
		{"a liveness probe succeeds once", podHead + container + "    livenessProbe:\n      successThreshold: 2\n      tcpSocket:\n        port: 80\n", Options{},
			`The Pod "p" is invalid: spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1`},

		// Workloads
		{"a Deployment needs a selector", deployHead + "  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n" + indent(container), Options{},
			`The Deployment "web" is invalid: spec.selector: Required value`},
		{"a Deployment's selector must match its template", deployHead + "  selector:\n    matchLabels:\n      app: api\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n" + indent(container), Options{},
			"The Deployment \"web\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"},
		{"a Deployment's empty selector is invalid", deployHead + "  selector: {}\n  template:\n    spec:\n" + indent(container), Options{},
			`The Deployment "web" is invalid: spec.selector: Invalid value: {}: empty selector is invalid for deployment`},
		{"a Deployment's replicas are not negative", deployHead + "  replicas: -1\n" + podTmpl + indent(container), Options{},
			`The Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`},
		{"a Deployment's pods are checked at their template's path", deployHead + podTmpl + "      containers:\n      - name: c\n        image: nginx\n        ports:\n        - containerPort: 70000\n", Options{},
			`The Deployment "web" is invalid: spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive`},
		{"a Deployment's pods restart Always", deployHead + podTmpl + "      restartPolicy: Never\n" + indent(container), Options{},
			`The Deployment "web" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`},
		{"a rollout needs surge or unavailability", deployHead + "  strategy:\n    rollingUpdate:\n      maxSurge: 0\n      maxUnavailable: 0\n" + podTmpl + indent(container), Options{},
			"The Deployment \"web\" is invalid: spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"},
		{"a ReplicaSet's empty selector is invalid in upstream's words", "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: rs\nspec:\n  selector: {}\n  template:\n    spec:\n" + indent(container), Options{},
			`The ReplicaSet "rs" is invalid: spec.selector: Invalid value: {}: empty selector is invalid for deployment`},
		{"a StatefulSet name is a DNS label", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db.main\nspec:\n" + podTmpl + indent(container), Options{},
			`The StatefulSet "db.main" is invalid: metadata.name: Invalid value: "db.main": must not contain dots`},
		{"a StatefulSet's selector must match its template", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\nspec:\n  selector:\n    matchLabels:\n      app: db\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n" + indent(container), Options{},
			"The StatefulSet \"db\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`"},

		// NetworkPolicy
		{"a NetworkPolicy's podSelector operators are checked", policyHead[:len(policyHead)-len("  podSelector: {}\n")] + "  podSelector:\n    matchExpressions:\n    - key: app\n      operator: Like\n      values: [a]\n", Options{},
			`The NetworkPolicy "np" is invalid: spec.podSelector.matchExpressions[0].operator: Invalid value: "Like": not a valid selector operator`},
		{"endPort needs a numeric port", policyHead + "  ingress:\n  - ports:\n    - port: http\n      endPort: 90\n", Options{},
			"The NetworkPolicy \"np\" is invalid: spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric"},
		{"endPort is not below port", policyHead + "  egress:\n  - ports:\n    - port: 90\n      endPort: 80\n", Options{},
			"The NetworkPolicy \"np\" is invalid: spec.egress[0].ports[0].endPort: Invalid value: 90: must be greater than or equal to `port`"},
		{"endPort needs a port", policyHead + "  ingress:\n  - ports:\n    - endPort: 80\n", Options{},
			"The NetworkPolicy \"np\" is invalid: spec.ingress[0].ports[0].endPort: Invalid value: 80: may not be specified when `port` is not specified"},
		{"a port range is fine", policyHead + "  ingress:\n  - ports:\n    - port: 32000\n      endPort: 32768\n", Options{}, ""},
		{"a policy port's protocol is TCP, UDP or SCTP", policyHead + "  ingress:\n  - ports:\n    - port: 80\n      protocol: ICMP\n", Options{},
			`The NetworkPolicy "np" is invalid: spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`},
		{"an ipBlock cidr is a CIDR", npPeer + "ipBlock:\n        cidr: 10.0.0.0/40\n", Options{},
			`The NetworkPolicy "np" is invalid: spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/40": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`},
		{"an except lies strictly inside the cidr", npPeer + "ipBlock:\n        cidr: 10.0.0.0/16\n        except: [10.0.0.0/16]\n", Options{},
			"The NetworkPolicy \"np\" is invalid: spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"10.0.0.0/16\": must be a strict subset of `cidr`"},
		{"an except outside the cidr is refused", npPeer + "ipBlock:\n        cidr: 10.0.0.0/16\n        except: [10.1.0.0/24]\n", Options{},
			"The NetworkPolicy \"np\" is invalid: spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"10.1.0.0/24\": must be a strict subset of `cidr`"},
		{"an ipBlock does not mix with selectors", npPeer + "ipBlock:\n        cidr: 10.0.0.0/16\n      podSelector: {}\n", Options{},
			`The NetworkPolicy "np" is invalid: spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer`},
		{"pod and namespace selectors combine", npPeer + "podSelector: {}\n      namespaceSelector: {}\n", Options{}, ""},
		{"a peer names something", npPeer + "{}\n", Options{},
			`The NetworkPolicy "np" is invalid: spec.ingress[0].from[0]: Required value: must specify a peer`},
		{"policyTypes are Ingress or Egress", policyHead + "  policyTypes: [Inbound]\n", Options{},
			`The NetworkPolicy "np" is invalid: spec.policyTypes[0]: Unsupported value: "Inbound": supported values: "Egress", "Ingress"`},

		// EndpointSlice
		{"an addressType is IPv4, IPv6 or FQDN", sliceHead + "addressType: IP\nendpoints: []\n", Options{},
			`The EndpointSlice "s" is invalid: addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"`},
		{"IPv4 addresses are IPv4", sliceHead + "addressType: IPv4\nendpoints:\n- addresses: [\"fd00::1\"]\n", Options{},
			`The EndpointSlice "s" is invalid: endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address`},
		{"an endpoint has an address", sliceHead + "addressType: IPv4\nendpoints:\n- addresses: []\n", Options{},
			`The EndpointSlice "s" is invalid: endpoints[0].addresses: Required value: must contain at least 1 address`},
		{"slice port names are unique", sliceHead + "addressType: IPv4\nendpoints: []\nports:\n- name: http\n  port: 80\n- name: http\n  port: 81\n", Options{},
			`The EndpointSlice "s" is invalid: ports[1].name: Duplicate value: "http"`},

		// Ingress
		{"an Ingress needs rules or a default backend", ingHead + "  rules: []\n", Options{},
			"The Ingress \"ing\" is invalid: spec: Invalid value: []: either `defaultBackend` or `rules` must be specified"},
		{"an Ingress backend names its Service port", ingHead + "  defaultBackend:\n    service:\n      name: web\n      port: {}\n", Options{},
			`The Ingress "ing" is invalid: spec.defaultBackend.service.port: Required value: port name or number is required`},
		{"an Ingress path is absolute", ingHead + "  rules:\n  - http:\n      paths:\n      - path: web\n        pathType: Prefix\n        backend:\n          service:\n            name: web\n            port:\n              number: 80\n", Options{},
			`The Ingress "ing" is invalid: spec.rules[0].http.paths[0].path: Invalid value: "web": must be an absolute path`},
		{"an Ingress path has a pathType", ingHead + "  rules:\n  - http:\n      paths:\n      - path: /\n        backend:\n          service:\n            name: web\n            port:\n              name: http\n", Options{},
			`The Ingress "ing" is invalid: spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified`},

		// ConfigMap and Secret
		{"ConfigMap keys are file names", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a/b: x\n", Options{},
			`The ConfigMap "c" is invalid: data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
		{"Secret keys are file names", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  ..: x\n", Options{}, ""},
		{"a TLS Secret holds a certificate and key", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ntype: kubernetes.io/tls\ndata:\n  tls.crt: eA==\n", Options{},
			`The Secret "s" is invalid: data[tls.key]: Required value`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := decodeOne(t, tc.doc)
			err := ValidationError(o, Validate(o, tc.opts))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("want valid, got: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want %s, got valid", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
			if !apierrors.IsInvalid(err) {
				t.Errorf("error is not an API Invalid error")
			}
		})
	}
}

// indent shifts a block of YAML four spaces right, to nest a pod spec in a
// template.
func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		if line != "" {
			lines[i] = "    " + line
		}
	}
	return strings.Join(lines, "\n")
}

func TestValidateLeavesObjectUnchanged(t *testing.T) {
	o := decodeOne(t, svcHead+"  ports:\n  - port: 80\n")
	Validate(o, Options{})
	if o.GetNamespace() != "" || o.(interface{ GetName() string }).GetName() != "web" {
		t.Fatal("metadata changed")
	}
	t.Run("a Service that Validate checked is still undefaulted", func(t *testing.T) {
		if got := fmtType(o); got != "" {
			t.Errorf("spec.type = %q, want empty", got)
		}
	})
	t.Run("an Invalid error unwraps to the StatusError", func(t *testing.T) {
		err := ValidationError(o, Validate(decodeOne(t, svcHead), Options{}))
		var se *apierrors.StatusError
		if !errors.As(err, &se) || se.ErrStatus.Details.Kind != "Service" {
			t.Errorf("got %#v", err)
		}
	})
}
