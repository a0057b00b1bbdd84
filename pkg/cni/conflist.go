package cni

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/podnet/podnet/pkg/cni/bridge"
	"github.com/podnet/podnet/pkg/cni/hostlocal"
	"github.com/podnet/podnet/pkg/cni/loopback"
)

// SpecVersion is the CNI specification version podnet's configs speak.
const SpecVersion = "1.1.0"

// Network describes one node's pod network and where its CNI files live.
type Network struct {
	Name    string       // network name, also the IPAM data subdirectory
	Bridge  string       // bridge in the node namespace; empty means cni0
	Subnet  netip.Prefix // the node's pod CIDR, e.g. 10.244.0.0/24
	Gateway netip.Addr   // zero means the subnet's first address
	MTU     int          // zero leaves the kernel default

	BinDir   string // plugin executables (CNI_PATH)
	ConfDir  string // network configuration lists
	CacheDir string // libcni's result cache
	IPAMDir  string // host-local reservations
}

// ConfListPath is where WriteConfList puts the network's configuration.
func (n Network) ConfListPath() string {
	return filepath.Join(n.ConfDir, "10-"+n.Name+".conflist")
}

type confList struct {
	CNIVersion  string   `json:"cniVersion"`
	CNIVersions []string `json:"cniVersions"`
	Name        string   `json:"name"`
	Plugins     []any    `json:"plugins"`
}

type bridgeConf struct {
	Type         string          `json:"type"`
	Bridge       string          `json:"bridge"`
	IsGateway    bool            `json:"isGateway"`
	HairpinMode  bool            `json:"hairpinMode"`
	MTU          int             `json:"mtu,omitempty"`
	Capabilities map[string]bool `json:"capabilities"`
	IPAM         ipamConf        `json:"ipam"`
}

type ipamConf struct {
	Type    string        `json:"type"`
	Ranges  [][]rangeConf `json:"ranges"`
	DataDir string        `json:"dataDir"`
}

type rangeConf struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway,omitempty"`
}

type pluginType struct {
	Type string `json:"type"`
}

// ConfList returns the network's configuration list: podnet-bridge with
// podnet-host-local IPAM, then podnet-loopback chained after it. Loopback
// sits in the same list so one ADD gives a pod everything it needs; it
// passes the bridge's result through unchanged.
func (n Network) ConfList() ([]byte, error) {
	if n.Name == "" || !n.Subnet.IsValid() {
		return nil, fmt.Errorf("network needs a name and a subnet, got name %q subnet %s", n.Name, n.Subnet)
	}
	br := n.Bridge
	if br == "" {
		br = bridge.DefaultBridge
	}
	r := rangeConf{Subnet: n.Subnet.Masked().String()}
	if n.Gateway.IsValid() {
		r.Gateway = n.Gateway.String()
	}
	cl := confList{
		CNIVersion:  SpecVersion,
		CNIVersions: []string{"1.0.0", SpecVersion},
		Name:        n.Name,
		Plugins: []any{
			bridgeConf{
				Type:        bridge.TypeName,
				Bridge:      br,
				IsGateway:   true,
				HairpinMode: true,
				MTU:         n.MTU,
				// "ips" lets the runtime ask for a pod's old address.
				Capabilities: map[string]bool{"ips": true},
				IPAM: ipamConf{
					Type:    hostlocal.TypeName,
					Ranges:  [][]rangeConf{{r}},
					DataDir: n.IPAMDir,
				},
			},
			pluginType{Type: loopback.TypeName},
		},
	}
	return json.MarshalIndent(cl, "", "  ")
}

// WriteConfList writes ConfList to ConfListPath, atomically so a runtime
// reading the directory never sees half a file.
func (n Network) WriteConfList() (string, error) {
	b, err := n.ConfList()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(n.ConfDir, 0o755); err != nil {
		return "", err
	}
	path := n.ConfListPath()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return path, nil
}
