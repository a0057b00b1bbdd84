package netpol

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Direction is ingress (into the selected pods) or egress (out of them).
type Direction string

const (
	Ingress Direction = "Ingress"
	Egress  Direction = "Egress"
)

// policy is a NetworkPolicy turned into matchers.
type policy struct {
	np       *networkingv1.NetworkPolicy
	key      string
	subject  labels.Selector
	isolates map[Direction]bool
	rules    map[Direction][]*rule
}

// rule is one ingress or egress rule: any peer AND any port.
type rule struct {
	policy   *policy
	dir      Direction
	index    int
	allPeers bool // from/to empty or absent: every source or destination
	peers    []*peer
	allPorts bool // ports empty or absent: every port of every protocol
	ports    []portMatch
}

// peer is one from/to item.
type peer struct {
	index int
	// Selector peers: pods (podSelector, nil = all) in namespaces
	// (namespaceSelector; nil = the policy's own namespace).
	pods, namespaces labels.Selector
	ownNamespace     string
	// block is set for an ipBlock peer.
	block *ipBlock
	// id numbers selector peers for the per-class match cache.
	id int
}

type ipBlock struct {
	cidr   netip.Prefix
	except []netip.Prefix
}

func (b *ipBlock) contains(ip netip.Addr) bool {
	if !ip.IsValid() || !b.cidr.Contains(ip) {
		return false
	}
	for _, e := range b.except {
		if e.Contains(ip) {
			return false
		}
	}
	return true
}

// portMatch is one ports item. Port 0 with no name means every port of the
// protocol; a name is resolved on the pod that receives the traffic.
type portMatch struct {
	protocol corev1.Protocol
	port     int32
	endPort  int32
	name     string
}

func compilePolicy(np *networkingv1.NetworkPolicy) (*policy, error) {
	key := np.Namespace + "/" + np.Name
	subj, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		return nil, fmt.Errorf("networkpolicy %s: spec.podSelector: %w", key, err)
	}
	p := &policy{np: np, key: key, subject: subj, isolates: map[Direction]bool{}, rules: map[Direction][]*rule{}}
	for _, t := range np.Spec.PolicyTypes {
		p.isolates[Direction(t)] = true
	}
	for i, r := range np.Spec.Ingress {
		cr, err := compileRule(p, Ingress, i, r.From, r.Ports)
		if err != nil {
			return nil, err
		}
		p.rules[Ingress] = append(p.rules[Ingress], cr)
	}
	for i, r := range np.Spec.Egress {
		cr, err := compileRule(p, Egress, i, r.To, r.Ports)
		if err != nil {
			return nil, err
		}
		p.rules[Egress] = append(p.rules[Egress], cr)
	}
	return p, nil
}

func compileRule(p *policy, dir Direction, index int, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) (*rule, error) {
	r := &rule{policy: p, dir: dir, index: index, allPeers: len(peers) == 0, allPorts: len(ports) == 0}
	field := fmt.Sprintf("spec.%s[%d]", lowerDir(dir), index)
	peerField := "from"
	if dir == Egress {
		peerField = "to"
	}
	for j, pe := range peers {
		at := fmt.Sprintf("networkpolicy %s: %s.%s[%d]", p.key, field, peerField, j)
		cp := &peer{index: j, ownNamespace: p.np.Namespace}
		if pe.IPBlock != nil {
			b, err := parseBlock(pe.IPBlock)
			if err != nil {
				return nil, fmt.Errorf("%s.ipBlock: %w", at, err)
			}
			cp.block = b
		} else {
			if pe.PodSelector == nil && pe.NamespaceSelector == nil {
				return nil, fmt.Errorf("%s: must specify a peer", at)
			}
			if pe.PodSelector != nil {
				s, err := metav1.LabelSelectorAsSelector(pe.PodSelector)
				if err != nil {
					return nil, fmt.Errorf("%s.podSelector: %w", at, err)
				}
				cp.pods = s
			}
			if pe.NamespaceSelector != nil {
				s, err := metav1.LabelSelectorAsSelector(pe.NamespaceSelector)
				if err != nil {
					return nil, fmt.Errorf("%s.namespaceSelector: %w", at, err)
				}
				cp.namespaces = s
			}
		}
		r.peers = append(r.peers, cp)
	}
	for _, pp := range ports {
		m := portMatch{protocol: corev1.ProtocolTCP}
		if pp.Protocol != nil {
			m.protocol = *pp.Protocol
		}
		if pp.Port != nil {
			if pp.Port.Type == intstr.String {
				m.name = pp.Port.StrVal
			} else {
				m.port = pp.Port.IntVal
				m.endPort = m.port
				if pp.EndPort != nil {
					m.endPort = *pp.EndPort
				}
			}
		}
		r.ports = append(r.ports, m)
	}
	return r, nil
}

func parseBlock(b *networkingv1.IPBlock) (*ipBlock, error) {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return nil, fmt.Errorf("cidr: %w", err)
	}
	out := &ipBlock{cidr: cidr.Masked()}
	for i, e := range b.Except {
		ex, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("except[%d]: %w", i, err)
		}
		out.except = append(out.except, ex.Masked())
	}
	return out, nil
}

func lowerDir(d Direction) string {
	if d == Ingress {
		return "ingress"
	}
	return "egress"
}

// matchesPod says whether a selector peer selects pod p, whose namespace
// has labels nsLabels.
func (pe *peer) matchesPod(p *Pod, nsLabels map[string]string) bool {
	if pe.block != nil {
		return pe.block.contains(p.IP)
	}
	if pe.namespaces == nil {
		if p.Namespace != pe.ownNamespace {
			return false
		}
	} else if !pe.namespaces.Matches(labels.Set(nsLabels)) {
		return false
	}
	return pe.pods == nil || pe.pods.Matches(labels.Set(p.Labels))
}

// resolve gives the port numbers range a portMatch allows on a destination
// with the given declared ports (nil for a destination that is not a pod).
// ok is false when a named port does not exist there.
func (m portMatch) resolve(dst []ContainerPort, isPod bool) (lo, hi int32, ok bool) {
	switch {
	case m.name != "":
		if !isPod {
			return 0, 0, false
		}
		for _, cp := range dst {
			if cp.Name == m.name && cp.Protocol == m.protocol {
				return cp.Port, cp.Port, true
			}
		}
		return 0, 0, false
	case m.port == 0:
		return 0, 65535, true
	}
	return m.port, m.endPort, true
}
