package netpol

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/source"
)

// naiveAllowed decides one pod-to-pod connection straight from the
// policies, pair by pair, with none of the engine's classes, caches or
// sets: the reference the matrix is held to.
func naiveAllowed(c *Cluster, from, to *Pod, port int32, proto corev1.Protocol) bool {
	if from == to {
		return true
	}
	return naiveSide(c, Egress, from, to, port, proto) && naiveSide(c, Ingress, from, to, port, proto)
}

func naiveSide(c *Cluster, dir Direction, from, to *Pod, port int32, proto corev1.Protocol) bool {
	subject, far := from, to
	if dir == Ingress {
		subject, far = to, from
	}
	isolated := false
	for _, np := range c.Policies {
		if np.Namespace != subject.Namespace {
			continue
		}
		p, err := compilePolicy(np)
		if err != nil {
			panic(err)
		}
		if !p.subject.Matches(labels.Set(subject.Labels)) || !p.isolates[dir] {
			continue
		}
		isolated = true
		for _, r := range p.rules[dir] {
			if naivePorts(r, to, port, proto) && naivePeers(r, c, far) {
				return true
			}
		}
	}
	return !isolated
}

// naivePorts: named ports resolve on the destination of the connection.
func naivePorts(r *rule, dst *Pod, port int32, proto corev1.Protocol) bool {
	if r.allPorts {
		return true
	}
	for _, m := range r.ports {
		if m.protocol != proto {
			continue
		}
		switch {
		case m.name != "":
			for _, cp := range dst.Ports {
				if cp.Name == m.name && cp.Protocol == m.protocol {
					if cp.Port == port {
						return true
					}
					break // the first port of that name and protocol is the one
				}
			}
		case m.port == 0 || port >= m.port && port <= m.endPort:
			return true
		}
	}
	return false
}

func naivePeers(r *rule, c *Cluster, far *Pod) bool {
	if r.allPeers {
		return true
	}
	for _, pe := range r.peers {
		if pe.block != nil {
			if pe.block.contains(far.IP) {
				return true
			}
			continue
		}
		if pe.namespaces == nil && far.Namespace != pe.ownNamespace ||
			pe.namespaces != nil && !pe.namespaces.Matches(labels.Set(c.Namespaces[far.Namespace])) {
			continue
		}
		if pe.pods == nil || pe.pods.Matches(labels.Set(far.Labels)) {
			return true
		}
	}
	return false
}

// randomCluster draws a small cluster that exercises every feature the
// matrix's sets must get exactly right: pods sharing labels but not IPs or
// ports, the same port name on different numbers and protocols, pods
// without an IP or without ports, ipBlocks with exceptions around pod
// addresses, named ports in both directions, endPort ranges, selectors
// with NotIn and DoesNotExist, and every policyTypes combination.
func randomCluster(rng *rand.Rand) []source.Object {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	var objs []source.Object
	nss := []string{"x", "y", "z"}
	for _, ns := range nss {
		lbl := map[string]string{"team": pick("a", "b")}
		if rng.IntN(2) == 0 {
			lbl["env"] = pick("prod", "dev")
		}
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: lbl}})
	}
	portNames := []string{"http", "dns", "web"}
	nPods := 3 + rng.IntN(10)
	for i := range nPods {
		lbl := map[string]string{"app": pick("a", "b", "c")}
		if rng.IntN(2) == 0 {
			lbl["tier"] = pick("web", "db")
		}
		var ports []corev1.ContainerPort
		used := map[string]bool{} // a pod's port names are unique
		for range rng.IntN(4) {
			cp := corev1.ContainerPort{ContainerPort: int32(79 + rng.IntN(4)), Protocol: corev1.Protocol(pick("TCP", "TCP", "UDP", "SCTP"))}
			if name := pick(portNames...); rng.IntN(3) != 0 && !used[name] {
				cp.Name, used[name] = name, true
			}
			ports = append(ports, cp)
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: pick(nss...), Labels: lbl},
			Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "i", Ports: ports}}},
		}
		if rng.IntN(8) != 0 {
			pod.Status.PodIP = fmt.Sprintf("10.0.%d.%d", rng.IntN(2), rng.IntN(8))
		}
		objs = append(objs, pod)
	}
	sel := func() *metav1.LabelSelector {
		switch rng.IntN(5) {
		case 0:
			return &metav1.LabelSelector{}
		case 1:
			return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"db"}}}}
		case 2:
			return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpDoesNotExist}}}
		}
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": pick("a", "b", "c")}}
	}
	nsSel := func() *metav1.LabelSelector {
		switch rng.IntN(4) {
		case 0:
			return &metav1.LabelSelector{}
		case 1:
			return &metav1.LabelSelector{MatchLabels: map[string]string{"env": pick("prod", "dev")}}
		case 2:
			return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"prod"}}}}
		}
		return &metav1.LabelSelector{MatchLabels: map[string]string{"team": pick("a", "b")}}
	}
	cidr := func() string {
		return pick("10.0.0.0/16", "10.0.0.0/24", "10.0.1.0/24", "10.0.0.0/29", "10.0.1.4/30", "0.0.0.0/0")
	}
	peers := func() []networkingv1.NetworkPolicyPeer {
		var out []networkingv1.NetworkPolicyPeer
		for range rng.IntN(3) {
			switch rng.IntN(4) {
			case 0:
				out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: sel()})
			case 1:
				out = append(out, networkingv1.NetworkPolicyPeer{NamespaceSelector: nsSel()})
			case 2:
				out = append(out, networkingv1.NetworkPolicyPeer{NamespaceSelector: nsSel(), PodSelector: sel()})
			default:
				c := netip.MustParsePrefix(cidr())
				b := &networkingv1.IPBlock{CIDR: c.String()}
				// except: a strict subset of the block, here and there
				// a single pod address.
				for range rng.IntN(3) {
					if bits := c.Bits() + 1 + rng.IntN(32-c.Bits()); bits <= 32 {
						ex, _ := c.Addr().Next().Prefix(bits)
						if rng.IntN(2) == 0 {
							ex = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(2)), byte(rng.IntN(8))}), 32)
						}
						if c.Contains(ex.Addr()) && ex.Bits() > c.Bits() {
							b.Except = append(b.Except, ex.String())
						}
					}
				}
				out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: b})
			}
		}
		return out
	}
	ports := func() []networkingv1.NetworkPolicyPort {
		var out []networkingv1.NetworkPolicyPort
		for range rng.IntN(3) {
			var p networkingv1.NetworkPolicyPort
			if rng.IntN(4) != 0 {
				p.Protocol = ptr.To(corev1.Protocol(pick("TCP", "UDP", "SCTP")))
			}
			switch rng.IntN(4) {
			case 0:
				p.Port = ptr.To(intstr.FromString(pick(portNames...)))
			case 1:
				p.Port = ptr.To(intstr.FromInt32(int32(79 + rng.IntN(4))))
			case 2:
				lo := int32(78 + rng.IntN(4))
				p.Port = ptr.To(intstr.FromInt32(lo))
				p.EndPort = ptr.To(lo + int32(rng.IntN(3)))
			}
			out = append(out, p)
		}
		return out
	}
	for i := range rng.IntN(7) {
		np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("np%d", i), Namespace: pick(nss...)}}
		np.Spec.PodSelector = *sel()
		for range rng.IntN(3) {
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: peers(), Ports: ports()})
		}
		for range rng.IntN(3) {
			np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: peers(), Ports: ports()})
		}
		switch rng.IntN(4) {
		case 0:
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		case 1:
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		case 2:
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
		}
		objs = append(objs, np)
	}
	return objs
}

// The matrix decides by sets shared between pods of a class; every cell
// must still be what a plain pair-by-pair reading of the policies says,
// and what Allowed says. Random clusters, fixed seed (a failure
// reproduces); each cluster is checked on its declared ports and on fixed
// ones (so undeclared and named-port numbers are probed too).
func TestMatrixEqualsPairByPair(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	probe := []PortProto{{79, "TCP"}, {80, "TCP"}, {81, "TCP"}, {82, "TCP"}, {80, "UDP"}, {81, "UDP"}, {80, "SCTP"}}
	for n := range 300 {
		objs := randomCluster(rng)
		for _, o := range objs {
			if errs := manifest.Validate(o, manifest.Options{}); len(errs) > 0 {
				t.Fatalf("case %d: generated %s is invalid: %v", n, source.Key(o), errs.ToAggregate())
			}
		}
		c := FromObjects(objs)
		e, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, ports := range [][]PortProto{nil, probe} {
			m := e.Matrix(ports)
			want := 0
			for _, p := range c.Pods {
				want += len(PortsFor(p, ports))
			}
			if want *= len(c.Pods); m.Len() != want {
				t.Fatalf("case %d: %d cells, want %d", n, m.Len(), want)
			}
			bad := 0
			for cell := range m.Cells() {
				from, to := c.Pod(cell.From), c.Pod(cell.To)
				naive := naiveAllowed(c, from, to, cell.Port, cell.Protocol)
				fast := e.Allowed(PodEndpoint(from), PodEndpoint(to), cell.Port, cell.Protocol)
				if (cell.Allowed != naive || fast != naive) && bad < 5 {
					bad++
					x := e.Explain(PodEndpoint(from), PodEndpoint(to), cell.Port, cell.Protocol)
					t.Errorf("case %d: %s -> %s %d/%s: matrix %v, Allowed %v, pair by pair %v\n%s",
						n, cell.From, cell.To, cell.Port, cell.Protocol, cell.Allowed, fast, naive, x.Text())
				}
			}
			if bad > 0 {
				for _, o := range objs {
					data, _ := manifest.Encode(o, "yaml")
					t.Logf("---\n%s", data)
				}
				return
			}
		}
	}
}
