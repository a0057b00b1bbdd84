package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/vishvananda/netlink"
)

// HostVethName derives the node-side veth name from the attachment, so DEL
// finds it without a cached result (the cache may be gone after a restart).
func HostVethName(containerID, ifname string) string {
	sum := sha256.Sum256([]byte(containerID + "\x00" + ifname))
	return "veth" + hex.EncodeToString(sum[:4])
}

// bridgeMAC is a fixed, locally administered MAC for the bridge. A bridge
// without an explicitly set MAC takes the lowest MAC of its ports and changes
// it when ports come and go, which would leave every pod's neighbour entry for
// the gateway stale.
func bridgeMAC(name string, gw *net.IPNet) net.HardwareAddr {
	key := name
	if gw != nil {
		key += "/" + gw.String()
	}
	sum := sha256.Sum256([]byte(key))
	return net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], sum[4]}
}

// ensureBridge creates the bridge if missing, brings it up and, when gw is
// set, gives it the gateway address with the subnet's prefix so the node has
// a connected route to the pods. Call it in the node's namespace.
func ensureBridge(name string, mtu int, gw *net.IPNet) (*netlink.Bridge, error) {
	l, err := netlinksafe.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		attrs.MTU = mtu
		attrs.HardwareAddr = bridgeMAC(name, gw)
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !os.IsExist(err) {
			return nil, fmt.Errorf("create bridge %q: %w", name, err)
		}
		// Another plugin process may have created it concurrently.
		l, err = netlinksafe.LinkByName(name)
	}
	if err != nil {
		return nil, fmt.Errorf("find bridge %q: %w", name, err)
	}
	br, ok := l.(*netlink.Bridge)
	if !ok {
		return nil, fmt.Errorf("%q exists but is a %s, not a bridge", name, l.Type())
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("set bridge %q up: %w", name, err)
	}
	if gw != nil {
		if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: gw}); err != nil && !os.IsExist(err) {
			return nil, fmt.Errorf("add gateway %s to bridge %q: %w", gw, name, err)
		}
	}
	return br, nil
}

// nodeSysctls are what routed-/32 needs from the node: forwarding, and no
// ICMP redirects, because pod-to-pod traffic on one node enters and leaves
// through the same bridge and the kernel would otherwise tell pods to bypass
// the gateway. send_redirects is OR-ed between "all" and the device, so both
// must be off.
func nodeSysctls(bridge string) map[string]string {
	return map[string]string{
		"net/ipv4/ip_forward":                                    "1",
		"net/ipv4/conf/all/send_redirects":                       "0",
		"net/ipv4/conf/default/send_redirects":                   "0",
		filepath.Join("net/ipv4/conf", bridge, "send_redirects"): "0",
	}
}

// setSysctls writes the values. /proc/sys/net resolves to the network
// namespace of the calling thread, so inside ns.Do it changes that namespace.
func setSysctls(values map[string]string) error {
	for k, v := range values {
		if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}

// attachPort puts the node-side veth on the bridge with hairpin set as asked
// and brings it up.
func attachPort(hostVeth string, br *netlink.Bridge, hairpin bool) (netlink.Link, error) {
	l, err := netlinksafe.LinkByName(hostVeth)
	if err != nil {
		return nil, fmt.Errorf("find %q: %w", hostVeth, err)
	}
	if err := netlink.LinkSetMaster(l, br); err != nil {
		return nil, fmt.Errorf("attach %q to bridge %q: %w", hostVeth, br.Name, err)
	}
	// Hairpin lets a pod reach itself through a Service: the DNATed packet
	// must leave through the port it came in on.
	if err := netlink.LinkSetHairpin(l, hairpin); err != nil {
		return nil, fmt.Errorf("set hairpin on %q: %w", hostVeth, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("set %q up: %w", hostVeth, err)
	}
	return netlinksafe.LinkByName(hostVeth)
}

// deleteLink removes a link by name; a missing link is success.
func deleteLink(name string) error {
	l, err := netlinksafe.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := netlink.LinkDel(l); err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) {
		return fmt.Errorf("delete %q: %w", name, err)
	}
	return nil
}
