package lab

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// Topology names everything the lab creates in the kernel. Every name carries
// the lab's name, so one lab's teardown never touches another's.
type Topology struct {
	Lab         string
	ServiceCIDR string // routed in each node so Service rejects run
}

// NetnsPrefix starts every network namespace of the lab.
func (t Topology) NetnsPrefix() string { return "pn-" + t.Lab + "-" }

// UnderlayNetns holds the node network's bridge, like kind's docker network.
func (t Topology) UnderlayNetns() string { return t.NetnsPrefix() + "underlay" }

// NodeNetns is node i's network namespace.
func (t Topology) NodeNetns(i int) string { return fmt.Sprintf("%snode%d", t.NetnsPrefix(), i) }

// ExternalNetns is the external host: a client beside the cluster on the
// underlay, with no route into pod or service ranges.
func (t Topology) ExternalNetns() string { return t.NetnsPrefix() + "external" }

// NodeIP is node i's address on the underlay (172.18.0.2 for the first, as
// in kind).
func NodeIP(i int) string { return fmt.Sprintf("172.18.0.%d", i+2) }

// PodCIDR is node i's pod range.
func PodCIDR(i int) string { return fmt.Sprintf("10.244.%d.0/24", i) }

// MaxNodes keeps node IPs below the external host's address.
const MaxNodes = 50

const (
	underlayBridge = "br-underlay"
	underlayCIDR   = "172.18.0.1/16"
	svcLink        = "pn-svc" // carries the service CIDR route; its peer stays down
	svcPeer        = "pn-svc-peer"
	// ExternalIP is the external host's address on the underlay.
	ExternalIP = "172.18.0.100"
	// LoadBalancerPool is where LoadBalancer Services get their external
	// IPs, on the underlay as MetalLB setups for kind use; the external host
	// routes it to the nodes, as a router announcing it would.
	LoadBalancerPool = "172.18.255.192/27"
)

func netnsPath(name string) string { return filepath.Join("/run/netns", name) }

// addNetns makes a named network namespace (as `ip netns add` does).
func addNetns(name string) error {
	if _, err := os.Stat(netnsPath(name)); err == nil {
		return nil
	}
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// delNetns removes a named network namespace; a missing one is fine.
func delNetns(name string) error {
	if _, err := os.Stat(netnsPath(name)); os.IsNotExist(err) {
		return nil
	}
	if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns delete %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func sysctl(key, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/")), []byte(value), 0o644)
}

// Build creates (or completes, after a crash) the underlay and node i's
// namespace: loopback, forwarding without redirects, the uplink to the
// underlay with the node IP, and the service CIDR route.
func (t Topology) Build(nodes int) error {
	if err := addNetns(t.UnderlayNetns()); err != nil {
		return err
	}
	err := ns.WithNetNSPath(netnsPath(t.UnderlayNetns()), func(ns.NetNS) error {
		if err := linkUp("lo"); err != nil {
			return err
		}
		br, err := netlink.LinkByName(underlayBridge)
		if err != nil {
			br = &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: underlayBridge}}
			if err := netlink.LinkAdd(br); err != nil {
				return fmt.Errorf("adding %s: %w", underlayBridge, err)
			}
		}
		if err := ensureAddr(br, underlayCIDR); err != nil {
			return err
		}
		return netlink.LinkSetUp(br)
	})
	if err != nil {
		return fmt.Errorf("underlay: %w", err)
	}
	for i := range nodes {
		if err := t.buildNode(i, nodes); err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
	}
	if err := t.buildExternal(nodes); err != nil {
		return fmt.Errorf("external host: %w", err)
	}
	return nil
}

// attach connects a namespace to the underlay bridge through a veth whose
// underlay end is uplink and whose other end is eth0 in the namespace.
func (t Topology) attach(netnsName, uplink string) error {
	return ns.WithNetNSPath(netnsPath(t.UnderlayNetns()), func(ns.NetNS) error {
		if _, err := netlink.LinkByName(uplink); err == nil {
			return nil
		}
		target, err := ns.GetNS(netnsPath(netnsName))
		if err != nil {
			return err
		}
		defer target.Close()
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: uplink}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(target.Fd()))}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("adding uplink %s: %w", uplink, err)
		}
		br, err := netlink.LinkByName(underlayBridge)
		if err != nil {
			return err
		}
		l, err := netlink.LinkByName(uplink)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetMaster(l, br); err != nil {
			return err
		}
		return netlink.LinkSetUp(l)
	})
}

// upEth0 addresses and raises the namespace's eth0 (the caller is inside it).
func upEth0(cidr string) error {
	if err := linkUp("lo"); err != nil {
		return err
	}
	eth0, err := netlink.LinkByName("eth0")
	if err != nil {
		return err
	}
	if err := ensureAddr(eth0, cidr); err != nil {
		return err
	}
	return netlink.LinkSetUp(eth0)
}

// buildExternal makes the external host: on the underlay, routing the
// LoadBalancer pool to every node (ECMP), and nothing else.
func (t Topology) buildExternal(nodes int) error {
	name := t.ExternalNetns()
	if err := addNetns(name); err != nil {
		return err
	}
	if err := t.attach(name, "x-"+shortHash(t.Lab)); err != nil {
		return err
	}
	return ns.WithNetNSPath(netnsPath(name), func(ns.NetNS) error {
		if err := upEth0(ExternalIP + "/16"); err != nil {
			return err
		}
		_, pool, err := net.ParseCIDR(LoadBalancerPool)
		if err != nil {
			return err
		}
		route := &netlink.Route{Dst: pool}
		for i := range nodes {
			route.MultiPath = append(route.MultiPath, &netlink.NexthopInfo{Gw: net.ParseIP(NodeIP(i))})
		}
		if nodes == 1 {
			route.Gw, route.MultiPath = net.ParseIP(NodeIP(0)), nil
		}
		if err := netlink.RouteReplace(route); err != nil {
			return fmt.Errorf("routing %s to the nodes: %w", LoadBalancerPool, err)
		}
		return nil
	})
}

func (t Topology) buildNode(i, nodes int) error {
	name := t.NodeNetns(i)
	if err := addNetns(name); err != nil {
		return err
	}
	if err := t.attach(name, fmt.Sprintf("n%d-%s", i, shortHash(t.Lab))); err != nil {
		return err
	}
	return ns.WithNetNSPath(netnsPath(name), func(ns.NetNS) error {
		for _, kv := range [][2]string{
			{"net.ipv4.ip_forward", "1"},
			{"net.ipv4.conf.all.send_redirects", "0"},
			{"net.ipv4.conf.default.send_redirects", "0"},
		} {
			if err := sysctl(kv[0], kv[1]); err != nil {
				return err
			}
		}
		if err := upEth0(NodeIP(i) + "/16"); err != nil {
			return err
		}
		// Every other node's pod range is reached through that node, as
		// kindnet routes it: pod to pod without NAT.
		for j := range nodes {
			if j == i {
				continue
			}
			_, dst, _ := net.ParseCIDR(PodCIDR(j))
			if err := netlink.RouteReplace(&netlink.Route{Dst: dst, Gw: net.ParseIP(NodeIP(j))}); err != nil {
				return fmt.Errorf("routing %s via %s: %w", PodCIDR(j), NodeIP(j), err)
			}
		}
		svc, err := netlink.LinkByName(svcLink)
		if err != nil {
			veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: svcLink}, PeerName: svcPeer}
			if err := netlink.LinkAdd(veth); err != nil {
				return fmt.Errorf("adding %s: %w", svcLink, err)
			}
			if svc, err = netlink.LinkByName(svcLink); err != nil {
				return err
			}
		}
		if err := netlink.LinkSetUp(svc); err != nil {
			return err
		}
		_, dst, err := net.ParseCIDR(t.ServiceCIDR)
		if err != nil {
			return err
		}
		route := &netlink.Route{LinkIndex: svc.Attrs().Index, Dst: dst, Scope: netlink.SCOPE_LINK}
		if err := netlink.RouteReplace(route); err != nil {
			return fmt.Errorf("routing %s: %w", t.ServiceCIDR, err)
		}
		return nil
	})
}

// Remove deletes the lab's namespaces (which removes every link, route and
// nftables table inside them). Missing ones are fine.
func (t Topology) Remove(nodes int) error {
	var errs []string
	for i := range nodes {
		if err := delNetns(t.NodeNetns(i)); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := delNetns(t.ExternalNetns()); err != nil {
		errs = append(errs, err.Error())
	}
	if err := delNetns(t.UnderlayNetns()); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func linkUp(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	return netlink.LinkSetUp(l)
}

func ensureAddr(l netlink.Link, cidr string) error {
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		return err
	}
	if err := netlink.AddrReplace(l, addr); err != nil {
		return fmt.Errorf("adding %s to %s: %w", cidr, l.Attrs().Name, err)
	}
	return nil
}

// shortHash keeps link names within 15 characters whatever the lab's name.
func shortHash(s string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return fmt.Sprintf("%08x", h)
}
