// Package bridge is the podnet-bridge plugin: pods hang off a Linux bridge in
// the node's network namespace, but in routed-/32 mode, so every packet a pod
// sends is routed by the node (see README.md for why).
package bridge

import (
	"encoding/json"
	"fmt"
	"net"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// TypeName is the plugin's binary name and its "type" in network configs.
const TypeName = "podnet-bridge"

// DefaultBridge is the bridge used when the config names none.
const DefaultBridge = "cni0"

// NetConf is the plugin's configuration after defaults are applied.
type NetConf struct {
	types.PluginConf
	Bridge      string `json:"bridge"`
	IsGateway   *bool  `json:"isGateway"`
	HairpinMode *bool  `json:"hairpinMode"`
	MTU         int    `json:"mtu"`
}

// Gateway reports whether the bridge holds the gateway address (default true).
func (c *NetConf) Gateway() bool { return c.IsGateway == nil || *c.IsGateway }

// Hairpin reports whether pod ports reflect frames back (default true).
func (c *NetConf) Hairpin() bool { return c.HairpinMode == nil || *c.HairpinMode }

func invalidConfig(format string, a ...any) *types.Error {
	return types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf(format, a...), "")
}

// ParseConfig decodes stdin (code 6 on bad JSON), parses prevResult, applies
// defaults and validates (code 7).
func ParseConfig(stdin []byte) (*NetConf, error) {
	c := &NetConf{}
	if err := json.Unmarshal(stdin, c); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "failed to decode network configuration", err.Error())
	}
	if err := version.ParsePrevResult(&c.PluginConf); err != nil {
		return nil, types.NewError(types.ErrDecodingFailure, "failed to parse prevResult", err.Error())
	}
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if len(c.Bridge) >= 16 || !validIfName(c.Bridge) {
		return nil, invalidConfig("bridge: %q is not a valid interface name", c.Bridge)
	}
	if c.MTU != 0 && (c.MTU < 68 || c.MTU > 65535) {
		return nil, invalidConfig("mtu: %d is outside 68-65535", c.MTU)
	}
	if c.IPAM.Type == "" {
		return nil, invalidConfig("ipam.type: required (routed mode needs an address for the pod)")
	}
	if c.Name == "" {
		return nil, invalidConfig("name: required")
	}
	return c, nil
}

func validIfName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if r == '/' || r == ':' || r <= ' ' || r > '~' {
			return false
		}
	}
	return net.ParseIP(s) == nil
}
