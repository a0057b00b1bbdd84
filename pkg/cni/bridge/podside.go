package bridge

import (
	"fmt"
	"net"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// hostPrefix returns ip with an all-ones mask: the /32 the pod's interface
// carries.
func hostPrefix(ip net.IP) *net.IPNet {
	if v4 := ip.To4(); v4 != nil {
		return &net.IPNet{IP: v4, Mask: net.CIDRMask(32, 32)}
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(128, 128)}
}

var defaultV4 = &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}

// podRoutes are the routes of a pod with address gateway gw: a link-scope
// route that makes the gateway reachable without a shared subnet, a default
// route through it, and any further routes IPAM asked for (via gw unless they
// name their own).
func podRoutes(gw net.IP, extra []*types.Route) []*types.Route {
	link := int(netlink.SCOPE_LINK)
	routes := []*types.Route{
		{Dst: *hostPrefix(gw), Scope: &link},
		{Dst: *defaultV4, GW: gw},
	}
	for _, r := range extra {
		if r.Dst.String() == defaultV4.String() {
			continue
		}
		c := *r
		if c.GW == nil {
			c.GW = gw
		}
		routes = append(routes, &c)
	}
	return routes
}

func netlinkRoute(linkIndex int, r *types.Route) *netlink.Route {
	dst := r.Dst
	nr := &netlink.Route{LinkIndex: linkIndex, Dst: &dst, Gw: r.GW, Scope: netlink.SCOPE_UNIVERSE}
	if r.Scope != nil {
		nr.Scope = netlink.Scope(*r.Scope)
	}
	if r.MTU != 0 {
		nr.MTU = r.MTU
	}
	if r.Priority != 0 {
		nr.Priority = r.Priority
	}
	if r.Table != nil {
		nr.Table = *r.Table
	}
	return nr
}

// configurePod gives ifname its /32, brings it up and adds routes. Call it in
// the pod's namespace.
func configurePod(ifname string, ip net.IP, routes []*types.Route) error {
	l, err := netlinksafe.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("find %q: %w", ifname, err)
	}
	if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: hostPrefix(ip)}); err != nil {
		return fmt.Errorf("add %s to %q: %w", hostPrefix(ip), ifname, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %q up: %w", ifname, err)
	}
	// In order: the gateway's link route must exist before routes via it.
	for _, r := range routes {
		if err := netlink.RouteAdd(netlinkRoute(l.Attrs().Index, r)); err != nil {
			return fmt.Errorf("add route %s via %s dev %s: %w", r.Dst.String(), r.GW, ifname, err)
		}
	}
	return nil
}

// checkPod verifies, in the pod's namespace, that ifname has the result's MAC,
// address and routes.
func checkPod(ifname string, iface *current.Interface, ips []*current.IPConfig, routes []*types.Route) error {
	l, err := netlinksafe.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("find %q: %w", ifname, err)
	}
	if iface.Mac != "" && iface.Mac != l.Attrs().HardwareAddr.String() {
		return fmt.Errorf("%q has MAC %s, result says %s", ifname, l.Attrs().HardwareAddr, iface.Mac)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("%q is down", ifname)
	}
	addrs, err := netlinksafe.AddrList(l, unix.AF_UNSPEC)
	if err != nil {
		return fmt.Errorf("list addresses of %q: %w", ifname, err)
	}
	for _, ipc := range ips {
		want := hostPrefix(ipc.Address.IP).String()
		found := false
		for _, a := range addrs {
			found = found || a.IPNet.String() == want
		}
		if !found {
			return fmt.Errorf("%q lacks address %s", ifname, want)
		}
	}
	have, err := netlinksafe.RouteList(l, unix.AF_UNSPEC)
	if err != nil {
		return fmt.Errorf("list routes of %q: %w", ifname, err)
	}
	for _, r := range routes {
		if !hasRoute(have, r) {
			return fmt.Errorf("%q lacks route %s via %s", ifname, r.Dst.String(), r.GW)
		}
	}
	return nil
}

func hasRoute(have []netlink.Route, want *types.Route) bool {
	for _, h := range have {
		dst := defaultV4.String()
		if h.Dst != nil {
			dst = h.Dst.String()
		}
		if dst == want.Dst.String() && h.Gw.Equal(want.GW) {
			return true
		}
	}
	return false
}

// createVeth creates the pair from inside the pod's namespace with the peer
// placed straight into the node's namespace, so the node side never appears
// under a clashing name in the pod.
func createVeth(podIf, hostIf string, mtu int, nodeNS interface{ Fd() uintptr }) (net.Interface, error) {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = podIf
	attrs.MTU = mtu
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: hostIf, PeerNamespace: netlink.NsFd(int(nodeNS.Fd()))}
	if err := netlink.LinkAdd(veth); err != nil {
		return net.Interface{}, fmt.Errorf("create veth %q with node side %q: %w", podIf, hostIf, err)
	}
	l, err := netlinksafe.LinkByName(podIf)
	if err != nil {
		return net.Interface{}, fmt.Errorf("find new veth %q: %w", podIf, err)
	}
	a := l.Attrs()
	return net.Interface{Index: a.Index, MTU: a.MTU, Name: a.Name, HardwareAddr: a.HardwareAddr}, nil
}
