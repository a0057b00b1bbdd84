// Package cni holds podnet's CNI plugins (bridge, host-local IPAM, loopback)
// and the runtime side that drives them through libcni, as kubelet's
// container runtime would.
package cni

import (
	"github.com/podnet/podnet/pkg/cni/bridge"
	"github.com/podnet/podnet/pkg/cni/hostlocal"
	"github.com/podnet/podnet/pkg/cni/loopback"
)

// PluginNames returns the names the podnet executable answers to as a CNI
// plugin.
func PluginNames() []string {
	return []string{bridge.TypeName, hostlocal.TypeName, loopback.TypeName}
}

// PluginMain runs the plugin called name (the base name of argv[0]) and
// reports true, or reports false when name is no plugin of ours. A plugin's
// Main exits the process on error, as CNI requires.
func PluginMain(name string) bool {
	switch name {
	case bridge.TypeName:
		bridge.Main()
	case hostlocal.TypeName:
		hostlocal.Main()
	case loopback.TypeName:
		loopback.Main()
	default:
		return false
	}
	return true
}
