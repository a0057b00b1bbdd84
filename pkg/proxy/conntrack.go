package proxy

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Conntrack removes UDP flows that would otherwise keep sending to an
// endpoint that is gone. UDP has no connection to reset: a conntrack entry
// to a Service address lives on (and keeps its DNAT) as long as the client
// keeps sending, so a DNS client could talk to a deleted pod forever. After
// each sync the Proxier asks Conntrack to delete the UDP flows whose
// original destination is a Service address or a NodePort and whose reply
// comes from an address that is no longer a serving endpoint of it, as
// kube-proxy's conntrack reconciler does.
type Conntrack interface {
	// DeleteUDP deletes the UDP flows stale reports true for and says how
	// many it deleted.
	DeleteUDP(stale func(origDst netip.AddrPort, replySrc netip.Addr) bool) (int, error)
}

// udpTargets are, for each UDP Service address and NodePort, the addresses
// of its serving endpoints.
type udpTargets struct {
	byAddr     map[netip.AddrPort]map[netip.Addr]bool
	byNodePort map[uint16]map[netip.Addr]bool
	nodeIPs    map[netip.Addr]bool // where NodePorts answer
}

// staleUDP builds the decision from the same inputs the ruleset came from.
// Serving endpoints count whatever their traffic policy or termination, so
// that UDP behaves like TCP (kube-proxy does the same).
func staleUDP(in Inputs) func(netip.AddrPort, netip.Addr) bool {
	u := udpTargets{byAddr: map[netip.AddrPort]map[netip.Addr]bool{}, byNodePort: map[uint16]map[netip.Addr]bool{}, nodeIPs: map[netip.Addr]bool{}}
	for _, ip := range in.NodeIPs {
		u.nodeIPs[ip] = true
	}
	bySvc := slicesByService(in.EndpointSlices)
	for _, svc := range in.Services {
		if !proxied(svc) {
			continue
		}
		for i := range svc.Spec.Ports {
			port := &svc.Spec.Ports[i]
			if port.Protocol != corev1.ProtocolUDP {
				continue
			}
			serving := map[netip.Addr]bool{}
			for _, ep := range portEndpoints(bySvc[svc.Namespace+"/"+svc.Name], port) {
				if ep.serving {
					serving[ep.ip] = true
				}
			}
			for _, s := range append(ipv4s(svc.Spec.ClusterIPs, svc.Spec.ClusterIP), externalIPs(svc)...) {
				u.byAddr[netip.AddrPortFrom(netip.MustParseAddr(s), uint16(port.Port))] = serving
			}
			if port.NodePort != 0 && (svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer) {
				u.byNodePort[uint16(port.NodePort)] = serving
			}
		}
	}
	return u.stale
}

func (u udpTargets) stale(origDst netip.AddrPort, replySrc netip.Addr) bool {
	if serving, ok := u.byAddr[origDst]; ok {
		return !serving[replySrc]
	}
	// A NodePort flow is one to a node address on that port; without the
	// node's addresses no flow can be told to be one, and none is deleted
	// (a forwarded flow that merely uses the same port number is not).
	if serving, ok := u.byNodePort[origDst.Port()]; ok && u.nodeIPs[origDst.Addr()] {
		return !serving[replySrc]
	}
	return false
}

// hasUDP reports whether any proxied Service has a UDP port: without one
// there is nothing to clean and the conntrack table need not be read.
func hasUDP(in Inputs) bool {
	for _, svc := range in.Services {
		for _, p := range svc.Spec.Ports {
			if strings.EqualFold(string(p.Protocol), "udp") && proxied(svc) {
				return true
			}
		}
	}
	return false
}
