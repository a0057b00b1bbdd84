// Package loopback is the podnet-loopback plugin: it brings "lo" up in the
// pod's network namespace, which every pod needs and nothing else does.
package loopback

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// TypeName is the plugin's binary name and its "type" in network configs.
const TypeName = "podnet-loopback"

// Main runs the plugin under the CNI protocol.
func Main() {
	skel.PluginMainFuncs(Funcs(), version.All, "CNI plugin "+TypeName)
}

// Funcs maps CNI operations to this plugin's handlers.
func Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck, GC: noop, Status: noop}
}

func noop(*skel.CmdArgs) error { return nil }

func parse(args *skel.CmdArgs) (*types.PluginConf, error) {
	conf := &types.PluginConf{}
	if err := json.Unmarshal(args.StdinData, conf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "failed to decode network configuration", err.Error())
	}
	if err := version.ParsePrevResult(conf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "failed to parse prevResult", err.Error())
	}
	return conf, nil
}

func withLo(netnsPath string, f func(netlink.Link) error) error {
	return ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("find lo: %w", err)
		}
		return f(lo)
	})
}

func cmdAdd(args *skel.CmdArgs) error {
	conf, err := parse(args)
	if err != nil {
		return err
	}
	if err := withLo(args.Netns, netlink.LinkSetUp); err != nil {
		return fmt.Errorf("set lo up in %q: %w", args.Netns, err)
	}
	// Chained: the spec requires passing the previous result on unchanged.
	if conf.PrevResult != nil {
		return types.PrintResult(conf.PrevResult, conf.CNIVersion)
	}
	r := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{{Name: "lo", Mac: "00:00:00:00:00:00", Sandbox: args.Netns}},
		IPs: []*current.IPConfig{{
			Interface: current.Int(0),
			Address:   net.IPNet{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(8, 32)},
		}},
	}
	return types.PrintResult(r, conf.CNIVersion)
}

// cmdDel leaves lo alone: the namespace dies with the pod, and DEL must
// succeed even when it is already gone.
func cmdDel(args *skel.CmdArgs) error {
	_, err := parse(args)
	return err
}

func cmdCheck(args *skel.CmdArgs) error {
	if _, err := parse(args); err != nil {
		return err
	}
	return withLo(args.Netns, func(lo netlink.Link) error {
		if lo.Attrs().Flags&net.FlagUp == 0 {
			return errors.New("lo is down")
		}
		return nil
	})
}
