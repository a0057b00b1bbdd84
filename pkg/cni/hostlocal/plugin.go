package hostlocal

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/podnet/podnet/pkg/cni/hostlocal/allocator"
	"github.com/podnet/podnet/pkg/cni/hostlocal/disk"
)

// Main runs the plugin under the CNI protocol (environment, stdin, stdout).
func Main() {
	skel.PluginMainFuncs(Funcs(), version.All, "CNI plugin "+TypeName)
}

// Funcs maps CNI operations to this plugin's handlers; tests call them
// in-process.
func Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck, GC: cmdGC, Status: cmdStatus}
}

// openStore parses the configuration and opens and locks its store; the
// returned func unlocks and closes it.
func openStore(args *skel.CmdArgs) (*Config, *disk.Store, func(), error) {
	c, err := ParseConfig(args.StdinData, args.Args)
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := disk.New(c.DataDir, c.Name)
	if err != nil {
		return nil, nil, nil, types.NewError(types.ErrIOFailure, err.Error(), "")
	}
	if err := s.Lock(); err != nil {
		s.Close()
		return nil, nil, nil, types.NewError(types.ErrIOFailure, fmt.Sprintf("lock %q: %v", s.Dir(), err), "")
	}
	return c, s, func() { s.Unlock(); s.Close() }, nil
}

func cmdAdd(args *skel.CmdArgs) error {
	c, s, done, err := openStore(args)
	if err != nil {
		return err
	}
	defer done()
	if ip, ok := c.unmatchedRequest(); ok {
		return fmt.Errorf("requested IP address %s is in no configured range", ip)
	}

	result := &current.Result{CNIVersion: current.ImplementedSpecVersion, Routes: c.Routes}
	for i, set := range c.RangeSets {
		a := allocator.New(set, s, strconv.Itoa(i))
		req, err := c.requestedFor(set)
		if err == nil {
			var got allocator.Allocation
			got, err = a.Get(args.ContainerID, args.IfName, req)
			result.IPs = append(result.IPs, ipConfig(got))
		}
		if err != nil {
			// Free what earlier range sets gave, so a failed ADD leaks nothing.
			if rerr := s.ReleaseByID(args.ContainerID, args.IfName); rerr != nil {
				return fmt.Errorf("%v (and releasing earlier addresses failed: %v)", err, rerr)
			}
			return err
		}
	}
	return types.PrintResult(result, c.CNIVersion)
}

func ipConfig(a allocator.Allocation) *current.IPConfig {
	ipc := &current.IPConfig{Address: net.IPNet{
		IP:   a.Address.Addr().AsSlice(),
		Mask: net.CIDRMask(a.Address.Bits(), a.Address.Addr().BitLen()),
	}}
	if a.Gateway.IsValid() {
		ipc.Gateway = a.Gateway.AsSlice()
	}
	return ipc
}

// cmdDel releases by container ID and interface name; releasing nothing is
// success, as the spec requires of DEL.
func cmdDel(args *skel.CmdArgs) error {
	_, s, done, err := openStore(args)
	if err != nil {
		return err
	}
	defer done()
	return s.ReleaseByID(args.ContainerID, args.IfName)
}

// cmdCheck verifies that the interface holds one address in every range set.
func cmdCheck(args *skel.CmdArgs) error {
	c, s, done, err := openStore(args)
	if err != nil {
		return err
	}
	defer done()
	held, err := s.GetByID(args.ContainerID, args.IfName)
	if err != nil {
		return err
	}
	for i, set := range c.RangeSets {
		if !holdsOneOf(held, set) {
			return fmt.Errorf("container %q interface %q holds no address of range set %d (%s)", args.ContainerID, args.IfName, i, set)
		}
	}
	return nil
}

func holdsOneOf(held []netip.Addr, set allocator.RangeSet) bool {
	for _, ip := range held {
		if _, ok := set.RangeFor(ip); ok {
			return true
		}
	}
	return false
}

// cmdGC releases every reservation whose attachment is not in
// cni.dev/valid-attachments.
func cmdGC(args *skel.CmdArgs) error {
	c, s, done, err := openStore(args)
	if err != nil {
		return err
	}
	defer done()
	valid := map[types.GCAttachment]bool{}
	for _, a := range c.ValidAttachments {
		valid[a] = true
	}
	all, err := s.List()
	if err != nil {
		return err
	}
	for _, r := range all {
		if !valid[types.GCAttachment{ContainerID: r.ContainerID, IfName: r.IfName}] {
			if err := s.Release(r.IP); err != nil {
				return err
			}
		}
	}
	return nil
}

// cmdStatus reports ready when the configuration is valid and the data
// directory is usable.
func cmdStatus(args *skel.CmdArgs) error {
	_, _, done, err := openStore(args)
	if err != nil {
		var e *types.Error
		if errors.As(err, &e) && e.Code == types.ErrIOFailure {
			return types.NewError(types.ErrPluginNotAvailable, e.Msg, e.Details)
		}
		return err
	}
	done()
	return nil
}
