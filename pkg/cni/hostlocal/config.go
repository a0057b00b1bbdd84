// Package hostlocal is the podnet-host-local IPAM plugin: addresses come from
// configured ranges and are remembered in files under dataDir, like the
// reference host-local plugin.
package hostlocal

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/podnet/podnet/pkg/cni/hostlocal/allocator"
)

// TypeName is the plugin's binary name and its "type" in network configs.
const TypeName = "podnet-host-local"

// DefaultDataDir is where reservations live unless ipam.dataDir says otherwise.
const DefaultDataDir = "/var/lib/cni/networks"

// Config is a validated IPAM invocation: the network's ranges plus what the
// runtime asked for.
type Config struct {
	CNIVersion string
	Name       string
	RangeSets  []allocator.RangeSet
	Routes     []*types.Route
	DataDir    string
	// RequestedIPs come from CNI_ARGS IP= and runtimeConfig "ips".
	RequestedIPs     []netip.Addr
	ValidAttachments []types.GCAttachment
}

type netConf struct {
	CNIVersion    string    `json:"cniVersion"`
	Name          string    `json:"name"`
	IPAM          *ipamConf `json:"ipam"`
	RuntimeConfig struct {
		IPs []string `json:"ips"`
	} `json:"runtimeConfig"`
	ValidAttachments []types.GCAttachment `json:"cni.dev/valid-attachments"`
}

type ipamConf struct {
	Type    string         `json:"type"`
	Ranges  [][]rangeConf  `json:"ranges"`
	Routes  []*types.Route `json:"routes"`
	DataDir string         `json:"dataDir"`
}

type rangeConf struct {
	Subnet     string `json:"subnet"`
	RangeStart string `json:"rangeStart"`
	RangeEnd   string `json:"rangeEnd"`
	Gateway    string `json:"gateway"`
}

func invalidConfig(format string, a ...any) *types.Error {
	return types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf(format, a...), "")
}

// ParseConfig decodes and validates the plugin's stdin and CNI_ARGS. Errors
// carry CNI codes: 6 for undecodable JSON, 7 for an invalid configuration, 4
// for a bad CNI_ARGS value.
func ParseConfig(stdin []byte, cniArgs string) (*Config, error) {
	var nc netConf
	if err := json.Unmarshal(stdin, &nc); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "failed to decode IPAM configuration", err.Error())
	}
	if nc.IPAM == nil {
		return nil, invalidConfig("missing ipam section")
	}
	if len(nc.IPAM.Ranges) == 0 {
		return nil, invalidConfig("ipam.ranges: at least one range set is required")
	}
	c := &Config{
		CNIVersion:       nc.CNIVersion,
		Name:             nc.Name,
		Routes:           nc.IPAM.Routes,
		DataDir:          nc.IPAM.DataDir,
		ValidAttachments: nc.ValidAttachments,
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	var all allocator.RangeSet
	for i, set := range nc.IPAM.Ranges {
		var rs allocator.RangeSet
		for j, rc := range set {
			r, err := rc.parse()
			if err != nil {
				return nil, invalidConfig("ipam.ranges[%d][%d]: %v", i, j, err)
			}
			rs = append(rs, r)
		}
		if err := rs.Validate(); err != nil {
			return nil, invalidConfig("ipam.ranges[%d]: %v", i, err)
		}
		for _, r := range rs {
			for _, o := range all {
				if r.Overlaps(o) {
					return nil, invalidConfig("ipam.ranges[%d]: range %s overlaps range %s of another set", i, r, o)
				}
			}
		}
		all = append(all, rs...)
		c.RangeSets = append(c.RangeSets, rs)
	}
	for i, s := range nc.RuntimeConfig.IPs {
		ip, err := parseIPOrCIDR(s)
		if err != nil {
			return nil, invalidConfig("runtimeConfig.ips[%d]: %v", i, err)
		}
		c.RequestedIPs = append(c.RequestedIPs, ip)
	}
	argIPs, err := ipsFromCNIArgs(cniArgs)
	if err != nil {
		return nil, types.NewError(types.ErrInvalidEnvironmentVariables, "invalid CNI_ARGS", err.Error())
	}
	c.RequestedIPs = append(c.RequestedIPs, argIPs...)
	return c, nil
}

func (rc rangeConf) parse() (allocator.Range, error) {
	subnet, err := netip.ParsePrefix(rc.Subnet)
	if err != nil {
		return allocator.Range{}, fmt.Errorf("subnet: %v", err)
	}
	if subnet != subnet.Masked() {
		return allocator.Range{}, fmt.Errorf("subnet %s has host bits set (did you mean %s?)", subnet, subnet.Masked())
	}
	if subnet.Addr().Is4() && subnet.Bits() > 30 {
		return allocator.Range{}, fmt.Errorf("subnet %s is too small to hold a gateway and an address", subnet)
	}
	r := allocator.Range{Subnet: subnet}
	first, last := hostBounds(subnet)
	for _, f := range []struct {
		name string
		val  string
		dst  *netip.Addr
		def  netip.Addr
	}{
		{"rangeStart", rc.RangeStart, &r.Start, first},
		{"rangeEnd", rc.RangeEnd, &r.End, last},
		{"gateway", rc.Gateway, &r.Gateway, first},
	} {
		if f.val == "" {
			*f.dst = f.def
			continue
		}
		a, err := netip.ParseAddr(f.val)
		if err != nil {
			return allocator.Range{}, fmt.Errorf("%s: %v", f.name, err)
		}
		if a.Is4() != subnet.Addr().Is4() || !subnet.Contains(a) {
			return allocator.Range{}, fmt.Errorf("%s %s is outside subnet %s", f.name, a, subnet)
		}
		*f.dst = a
	}
	if r.Start.Compare(first) < 0 || r.End.Compare(last) > 0 {
		return allocator.Range{}, fmt.Errorf("range %s-%s must stay within the hosts of %s (%s-%s)", r.Start, r.End, subnet, first, last)
	}
	return r, nil
}

// hostBounds returns the first and last assignable address of a subnet: the
// network address is skipped, and for IPv4 the broadcast address too.
func hostBounds(p netip.Prefix) (first, last netip.Addr) {
	first = p.Addr().Next()
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ = netip.AddrFromSlice(b)
	if last.Is4() {
		last = last.Prev()
	}
	return first, last
}

func parseIPOrCIDR(s string) (netip.Addr, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Addr(), nil
	}
	return netip.ParseAddr(s)
}

// ipsFromCNIArgs reads IP=a[,b] from CNI_ARGS ("K=V;K2=V2"). Other keys, such
// as the K8S_POD_* ones kubelet passes, are ignored.
func ipsFromCNIArgs(args string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, kv := range strings.Split(args, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k != "IP" {
			continue
		}
		for _, s := range strings.Split(v, ",") {
			ip, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("IP=%q: %v", v, err)
			}
			out = append(out, ip)
		}
	}
	return out, nil
}

// requestedFor returns the requested address that falls in set, or an error
// when several do.
func (c *Config) requestedFor(set allocator.RangeSet) (netip.Addr, error) {
	var found netip.Addr
	for _, ip := range c.RequestedIPs {
		if _, ok := set.RangeFor(ip); ok {
			if found.IsValid() && found != ip {
				return netip.Addr{}, fmt.Errorf("requested IPs %s and %s both fall in range set %s", found, ip, set)
			}
			found = ip
		}
	}
	return found, nil
}

// unmatchedRequest returns a requested address that fits no range set.
func (c *Config) unmatchedRequest() (netip.Addr, bool) {
	for _, ip := range c.RequestedIPs {
		matched := false
		for _, set := range c.RangeSets {
			if _, ok := set.RangeFor(ip); ok {
				matched = true
			}
		}
		if !matched {
			return ip, true
		}
	}
	return netip.Addr{}, false
}
