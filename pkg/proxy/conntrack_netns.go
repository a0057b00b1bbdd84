package proxy

import (
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NewConntrackInNetns returns a Conntrack working on the conntrack table of
// the network namespace at path (a lab node's), through netlink.
func NewConntrackInNetns(path string) Conntrack { return netnsConntrack{path: path} }

type netnsConntrack struct{ path string }

// udpFilter matches the UDP flows stale picks, by original destination and
// reply source (where the DNATed reply really comes from).
type udpFilter struct {
	stale func(netip.AddrPort, netip.Addr) bool
}

func (f udpFilter) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	if flow.Forward.Protocol != unix.IPPROTO_UDP {
		return false
	}
	dst, ok1 := netip.AddrFromSlice(flow.Forward.DstIP.To4())
	src, ok2 := netip.AddrFromSlice(flow.Reverse.SrcIP.To4())
	if !ok1 || !ok2 {
		return false
	}
	return f.stale(netip.AddrPortFrom(dst, flow.Forward.DstPort), src)
}

func (c netnsConntrack) DeleteUDP(stale func(netip.AddrPort, netip.Addr) bool) (int, error) {
	var n uint
	err := ns.WithNetNSPath(c.path, func(ns.NetNS) error {
		h, err := netlink.NewHandle(unix.NETLINK_NETFILTER)
		if err != nil {
			return err
		}
		defer h.Close()
		n, err = h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, udpFilter{stale})
		return err
	})
	return int(n), err
}
