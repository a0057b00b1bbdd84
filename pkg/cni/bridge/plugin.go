package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ipam"
	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// Main runs the plugin under the CNI protocol. The node namespace is the one
// the plugin process runs in.
func Main() {
	skel.PluginMainFuncs(Funcs(), version.All, "CNI plugin "+TypeName)
}

// Funcs maps CNI operations to this plugin's handlers; tests call them
// in-process from inside a throwaway node namespace.
func Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck, GC: cmdGC, Status: cmdStatus}
}

func cmdAdd(args *skel.CmdArgs) (err error) {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return err
	}
	nodeNS, err := ns.GetCurrentNS()
	if err != nil {
		return fmt.Errorf("open node netns: %w", err)
	}
	defer nodeNS.Close()
	podNS, err := ns.GetNS(args.Netns)
	if err != nil {
		return fmt.Errorf("failed to open netns %q: %w", args.Netns, err)
	}
	defer podNS.Close()

	// The spec makes an existing CNI_IFNAME an error; check before IPAM so a
	// refused ADD allocates nothing.
	if err := podNS.Do(func(ns.NetNS) error {
		if _, err := netlinksafe.LinkByName(args.IfName); err == nil {
			return fmt.Errorf("interface %q already exists in netns %q", args.IfName, args.Netns)
		}
		return nil
	}); err != nil {
		return err
	}
	hostVeth := HostVethName(args.ContainerID, args.IfName)
	if _, err := netlinksafe.LinkByName(hostVeth); err == nil {
		return fmt.Errorf("node-side veth %q for container %q interface %q already exists", hostVeth, args.ContainerID, args.IfName)
	}

	ipamRaw, err := ipam.ExecAdd(conf.IPAM.Type, args.StdinData)
	if err != nil {
		// The spec asks for a DEL of a delegated plugin whose ADD failed, so
		// a half-done allocation cannot leak.
		if derr := ipam.ExecDel(conf.IPAM.Type, args.StdinData); derr != nil {
			return fmt.Errorf("IPAM %q: %w (and IPAM DEL failed: %v)", conf.IPAM.Type, err, derr)
		}
		return fmt.Errorf("IPAM %q: %w", conf.IPAM.Type, err)
	}
	// From here a failure must give the address back and remove the veth.
	defer func() {
		if err != nil {
			if derr := ipam.ExecDel(conf.IPAM.Type, args.StdinData); derr != nil {
				err = fmt.Errorf("%w (and releasing IPAM failed: %v)", err, derr)
			}
			deleteLink(hostVeth)
		}
	}()
	ipamResult, err := current.NewResultFromResult(ipamRaw)
	if err != nil {
		return fmt.Errorf("convert IPAM result: %w", err)
	}
	addr, err := singleIPv4(ipamResult)
	if err != nil {
		return err
	}

	var gwNet *net.IPNet
	if conf.Gateway() {
		gwNet = &net.IPNet{IP: addr.Gateway, Mask: addr.Address.Mask}
	}
	br, err := ensureBridge(conf.Bridge, conf.MTU, gwNet)
	if err != nil {
		return err
	}
	if err := setSysctls(nodeSysctls(conf.Bridge)); err != nil {
		return err
	}

	var contIface net.Interface
	routes := podRoutes(addr.Gateway, ipamResult.Routes)
	if err := podNS.Do(func(ns.NetNS) error {
		var verr error
		contIface, verr = createVeth(args.IfName, hostVeth, conf.MTU, nodeNS)
		if verr != nil {
			return verr
		}
		return configurePod(args.IfName, addr.Address.IP, routes)
	}); err != nil {
		return err
	}
	hostLink, err := attachPort(hostVeth, br, conf.Hairpin())
	if err != nil {
		return err
	}

	result := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: br.Name, Mac: br.HardwareAddr.String()},
			{Name: hostVeth, Mac: hostLink.Attrs().HardwareAddr.String()},
			{Name: args.IfName, Mac: contIface.HardwareAddr.String(), Mtu: contIface.MTU, Sandbox: args.Netns},
		},
		// The result reports the IPAM prefix (10.244.0.5/24), the subnet
		// the pod belongs to; the interface itself carries the /32.
		IPs:    []*current.IPConfig{{Address: addr.Address, Gateway: addr.Gateway, Interface: current.Int(2)}},
		Routes: routes,
		DNS:    ipamResult.DNS,
	}
	return types.PrintResult(result, conf.CNIVersion)
}

// singleIPv4 insists on one IPv4 address with a gateway: routed-/32 mode
// needs the gateway, and IPv6 is not implemented yet.
func singleIPv4(r *current.Result) (*current.IPConfig, error) {
	if len(r.IPs) != 1 || r.IPs[0].Address.IP.To4() == nil {
		return nil, fmt.Errorf("IPAM returned %d addresses; %s needs exactly one IPv4 address", len(r.IPs), TypeName)
	}
	if r.IPs[0].Gateway == nil {
		return nil, fmt.Errorf("IPAM returned %s without a gateway; routed mode needs one", r.IPs[0].Address.String())
	}
	return r.IPs[0], nil
}

// cmdDel is best-effort and idempotent: it releases the address even when the
// pod's namespace is already gone (a runtime may call DEL after the sandbox
// died, CNI spec "DEL"), and removes the veth from whichever side still has it.
func cmdDel(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return err
	}
	var errs []error
	if err := ipam.ExecDel(conf.IPAM.Type, args.StdinData); err != nil {
		errs = append(errs, fmt.Errorf("IPAM %q: %w", conf.IPAM.Type, err))
	}
	if args.Netns != "" {
		err := ns.WithNetNSPath(args.Netns, func(ns.NetNS) error { return deleteLink(args.IfName) })
		if err != nil && !namespaceGone(err) {
			errs = append(errs, fmt.Errorf("in netns %q: %w", args.Netns, err))
		}
	}
	if err := deleteLink(HostVethName(args.ContainerID, args.IfName)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func namespaceGone(err error) bool {
	return errors.As(err, new(ns.NSPathNotExistErr)) || errors.As(err, new(ns.NSPathNotNSErr))
}

func cmdCheck(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return err
	}
	if conf.PrevResult == nil {
		return types.NewError(types.ErrInvalidNetworkConfig, "CHECK needs prevResult", "")
	}
	prev, err := current.NewResultFromResult(conf.PrevResult)
	if err != nil {
		return fmt.Errorf("convert prevResult: %w", err)
	}
	if err := ipam.ExecCheck(conf.IPAM.Type, args.StdinData); err != nil {
		return fmt.Errorf("IPAM %q: %w", conf.IPAM.Type, err)
	}
	podIdx := -1
	for i, iface := range prev.Interfaces {
		if iface.Name == args.IfName && iface.Sandbox == args.Netns {
			podIdx = i
		}
	}
	if podIdx < 0 {
		return fmt.Errorf("prevResult has no interface %q in sandbox %q", args.IfName, args.Netns)
	}
	var ips []*current.IPConfig
	for _, ipc := range prev.IPs {
		if ipc.Interface != nil && *ipc.Interface == podIdx {
			ips = append(ips, ipc)
		}
	}
	if err := ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
		return checkPod(args.IfName, prev.Interfaces[podIdx], ips, prev.Routes)
	}); err != nil {
		return err
	}
	return checkNode(conf, HostVethName(args.ContainerID, args.IfName), ips)
}

// checkNode verifies the bridge, its gateway address, and the pod's port.
func checkNode(conf *NetConf, hostVeth string, ips []*current.IPConfig) error {
	br, err := netlinksafe.LinkByName(conf.Bridge)
	if err != nil {
		return fmt.Errorf("find bridge %q: %w", conf.Bridge, err)
	}
	l, err := netlinksafe.LinkByName(hostVeth)
	if err != nil {
		return fmt.Errorf("find node-side veth %q: %w", hostVeth, err)
	}
	if l.Attrs().MasterIndex != br.Attrs().Index {
		return fmt.Errorf("%q is not attached to bridge %q", hostVeth, conf.Bridge)
	}
	pi, err := netlinksafe.LinkGetProtinfo(l)
	if err != nil {
		return fmt.Errorf("read bridge port flags of %q: %w", hostVeth, err)
	}
	if pi.Hairpin != conf.Hairpin() {
		return fmt.Errorf("%q has hairpin %v, config wants %v", hostVeth, pi.Hairpin, conf.Hairpin())
	}
	if !conf.Gateway() {
		return nil
	}
	addrs, err := netlinksafe.AddrList(br, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	for _, ipc := range ips {
		want := (&net.IPNet{IP: ipc.Gateway, Mask: ipc.Address.Mask}).String()
		found := false
		for _, a := range addrs {
			found = found || a.IPNet.String() == want
		}
		if !found {
			return fmt.Errorf("bridge %q lacks gateway address %s", conf.Bridge, want)
		}
	}
	return nil
}

// cmdGC forwards to IPAM, which owns the only state that can leak: veths die
// with their pod's namespace.
func cmdGC(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return err
	}
	return invoke.DelegateGC(context.TODO(), conf.IPAM.Type, args.StdinData, nil)
}

func cmdStatus(args *skel.CmdArgs) error {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return err
	}
	return ipam.ExecStatus(conf.IPAM.Type, args.StdinData)
}
