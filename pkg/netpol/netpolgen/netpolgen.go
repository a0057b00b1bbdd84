// Package netpolgen makes a synthetic but realistic cluster for the
// NetworkPolicy benchmarks: namespaces of teams and environments, pods of a
// few applications each (replicas of one Deployment share their labels),
// two declared ports per pod, and policies of every kind users write
// (default deny, same-namespace pod peers, namespace peers, combined peers,
// ipBlocks with exceptions, numbered, ranged and named ports, both
// directions). The same Config always gives the same objects.
package netpolgen

import (
	"fmt"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/podnet/podnet/pkg/source"
)

// Config sizes the cluster.
type Config struct {
	Namespaces, Pods, Policies, Nodes int
	Seed                              uint64
}

// Default is the benchmark: 1,000 pods in 50 namespaces with 1,000
// policies.
var Default = Config{Namespaces: 50, Pods: 1000, Policies: 1000, Nodes: 4, Seed: 1}

// app is one Deployment's pods: its labels and its two ports.
type app struct {
	name, tier string
	ports      [2]corev1.ContainerPort
}

var apps = []app{
	{"frontend", "web", [2]corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}}},
	{"api", "app", [2]corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}}},
	{"auth", "app", [2]corev1.ContainerPort{{Name: "grpc", ContainerPort: 9000}, {Name: "metrics", ContainerPort: 9090}}},
	{"worker", "app", [2]corev1.ContainerPort{{Name: "http", ContainerPort: 8081}, {Name: "metrics", ContainerPort: 9090}}},
	{"cache", "data", [2]corev1.ContainerPort{{Name: "redis", ContainerPort: 6379}, {Name: "metrics", ContainerPort: 9121}}},
	{"db", "data", [2]corev1.ContainerPort{{Name: "postgres", ContainerPort: 5432}, {Name: "metrics", ContainerPort: 9187}}},
	{"dns", "infra", [2]corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", ContainerPort: 53}}},
}

var envs = []string{"prod", "staging", "dev"}

// Cluster returns the objects: Nodes, Namespaces, Pods (with status.podIP
// and spec.nodeName, as a snapshot has them) and NetworkPolicies.
func Cluster(cfg Config) []source.Object {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6e6574706f6c))
	var out []source.Object
	for n := range cfg.Nodes {
		out = append(out, &corev1.Node{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("node-%d", n)},
			Status:     corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("172.18.0.%d", n+2)}}},
		})
	}
	nss := make([]string, cfg.Namespaces)
	for i := range nss {
		nss[i] = fmt.Sprintf("ns-%02d", i)
		lbl := map[string]string{"team": fmt.Sprintf("team-%d", i%10), "env": envs[i%len(envs)]}
		if i%7 == 0 {
			lbl["monitoring"] = "true"
		}
		out = append(out, &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: nss[i], Labels: lbl},
		})
	}
	// Pods: spread evenly over the namespaces, 4 replicas per app; a
	// rollout in progress leaves some replicas at version v2.
	perNode := make([]int, max(cfg.Nodes, 1))
	for i := range cfg.Pods {
		ns := i % cfg.Namespaces
		k := i / cfg.Namespaces // index inside the namespace
		a := apps[(k/4+ns)%len(apps)]
		version := "v1"
		if k%4 == 3 && ns%3 == 0 {
			version = "v2"
		}
		node := i % max(cfg.Nodes, 1)
		perNode[node]++
		ip := fmt.Sprintf("10.244.%d.%d", node*4+perNode[node]/250, perNode[node]%250+2)
		hash := fmt.Sprintf("%08x", rng.Uint32())
		ports := make([]corev1.ContainerPort, 2)
		for j, p := range a.ports {
			ports[j] = p
			if ports[j].Protocol == "" {
				ports[j].Protocol = corev1.ProtocolTCP
			}
		}
		out = append(out, &corev1.Pod{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("%s-%d-%s", a.name, k/4, hash[:5]), Namespace: nss[ns],
				Labels: map[string]string{"app": a.name, "tier": a.tier, "version": version, "pod-template-hash": fmt.Sprintf("%s%d", a.name, k/4)},
			},
			Spec: corev1.PodSpec{
				NodeName:   fmt.Sprintf("node-%d", node),
				Containers: []corev1.Container{{Name: a.name, Image: "registry.example/" + a.name + ":1", Ports: ports}},
			},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
		})
	}
	for i := range cfg.Policies {
		ns := i % cfg.Namespaces
		out = append(out, policy(rng, i, ns, i/cfg.Namespaces, nss))
	}
	return out
}

func sel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func pick[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

func port(n int32) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(n))}
}

func named(name string) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromString(name))}
}

func portRange(lo, hi int32) networkingv1.NetworkPolicyPort {
	p := port(lo)
	p.EndPort = ptr.To(hi)
	return p
}

// policy makes the k-th policy of namespace ns. The first two of most
// namespaces are a default deny of ingress and either a default deny of
// egress or an egress rule for DNS, as most clusters start; the rest open
// paths between apps. Every fifth namespace has no default deny.
func policy(rng *rand.Rand, i, ns, k int, nss []string) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("np-%04d", i), Namespace: nss[ns]},
	}
	spec := &np.Spec
	appName := func() string { return apps[rng.IntN(len(apps))].name }
	open := ns%5 == 4
	switch {
	case k == 0 && !open:
		np.Name = "default-deny-ingress"
		spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		return np
	case k == 1 && !open && ns%2 == 1:
		np.Name = "default-deny-egress"
		spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		spec.Egress = nil
		return np
	case k == 1 && !open:
		// Egress to DNS anywhere in the cluster, the rule that goes with a
		// default deny of egress.
		np.Name = "allow-dns"
		spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
			To:    []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: sel("app", "dns")}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromInt32(53))}, port(53)},
		}}
		return np
	}
	spec.PodSelector = *sel("app", appName())
	if rng.IntN(5) == 0 {
		spec.PodSelector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{pick(rng, "web", "app", "data")}},
			{Key: "version", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"v2"}},
		}}
	}
	ports := func() []networkingv1.NetworkPolicyPort {
		switch rng.IntN(6) {
		case 0:
			return []networkingv1.NetworkPolicyPort{named("http"), named("metrics")}
		case 1:
			return []networkingv1.NetworkPolicyPort{portRange(8000, 8100), port(9090)}
		case 2:
			return []networkingv1.NetworkPolicyPort{port(5432), port(6379)}
		case 3:
			return []networkingv1.NetworkPolicyPort{named(pick(rng, "grpc", "postgres", "redis")), port(9000)}
		case 4:
			return nil // every port
		}
		return []networkingv1.NetworkPolicyPort{port(8080), port(9090)}
	}
	peer := func() networkingv1.NetworkPolicyPeer {
		switch rng.IntN(6) {
		case 0, 1:
			return networkingv1.NetworkPolicyPeer{PodSelector: sel("app", appName())}
		case 2:
			return networkingv1.NetworkPolicyPeer{NamespaceSelector: pick(rng,
				sel("team", fmt.Sprintf("team-%d", rng.IntN(10))), sel("env", pick(rng, envs...)), sel("monitoring", "true"),
				sel("kubernetes.io/metadata.name", nss[rng.IntN(len(nss))]))}
		case 3, 4:
			return networkingv1.NetworkPolicyPeer{
				NamespaceSelector: pick(rng, sel("env", pick(rng, envs...)), sel("team", fmt.Sprintf("team-%d", rng.IntN(10))), &metav1.LabelSelector{}),
				PodSelector:       pick(rng, sel("app", appName()), sel("tier", pick(rng, "web", "app")), sel("app", appName(), "version", "v1")),
			}
		}
		// ipBlocks: pod ranges of one node with a hole, or the outside
		// world without the private ranges.
		if rng.IntN(2) == 0 {
			n := rng.IntN(16)
			return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{
				CIDR:   fmt.Sprintf("10.244.%d.0/24", n),
				Except: []string{fmt.Sprintf("10.244.%d.%d/28", n, 16*rng.IntN(16))},
			}}
		}
		return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{
			CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"},
		}}
	}
	peers := func() []networkingv1.NetworkPolicyPeer {
		out := []networkingv1.NetworkPolicyPeer{peer()}
		if rng.IntN(3) == 0 {
			out = append(out, peer())
		}
		return out
	}
	if rng.IntN(4) != 0 {
		spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeIngress)
		spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: peers(), Ports: ports()}}
		if rng.IntN(4) == 0 {
			spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers(), Ports: ports()})
		}
	}
	if len(spec.PolicyTypes) == 0 || rng.IntN(3) == 0 {
		spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: peers(), Ports: ports()}}
	}
	return np
}
