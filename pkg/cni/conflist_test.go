package cni_test

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"

	"github.com/podnet/podnet/pkg/cni"
)

func TestConfList(t *testing.T) {
	cases := []struct {
		name    string
		net     cni.Network
		wantErr string
		check   func(t *testing.T, list *libcni.NetworkConfigList)
	}{
		{
			name: "the list is bridge with host-local IPAM, then loopback, at spec 1.1.0",
			net:  cni.Network{Name: "podnet", Subnet: netip.MustParsePrefix("10.244.1.0/24"), IPAMDir: "/run/x"},
			check: func(t *testing.T, list *libcni.NetworkConfigList) {
				if list.CNIVersion != "1.1.0" || list.Name != "podnet" || len(list.Plugins) != 2 {
					t.Fatalf("list = version %s name %s %d plugins", list.CNIVersion, list.Name, len(list.Plugins))
				}
				if list.Plugins[0].Network.Type != "podnet-bridge" || list.Plugins[0].Network.IPAM.Type != "podnet-host-local" || list.Plugins[1].Network.Type != "podnet-loopback" {
					t.Fatalf("plugin types = %s(%s), %s", list.Plugins[0].Network.Type, list.Plugins[0].Network.IPAM.Type, list.Plugins[1].Network.Type)
				}
				var br struct {
					Bridge      string
					HairpinMode bool
					IPAM        struct {
						DataDir string
						Ranges  [][]struct{ Subnet string }
					}
				}
				json.Unmarshal(list.Plugins[0].Bytes, &br)
				if br.Bridge != "cni0" || !br.HairpinMode || br.IPAM.DataDir != "/run/x" || br.IPAM.Ranges[0][0].Subnet != "10.244.1.0/24" {
					t.Fatalf("bridge plugin = %+v", br)
				}
				if !list.Plugins[0].Network.Capabilities["ips"] {
					t.Fatal("bridge plugin lacks the ips capability")
				}
			},
		},
		{name: "a network without a subnet is refused", net: cni.Network{Name: "podnet"}, wantErr: "subnet"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.net.ConfDir = t.TempDir()
			path, err := tc.net.WriteConfList()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("WriteConfList() = %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			list, err := libcni.LoadNetworkConf(tc.net.ConfDir, tc.net.Name)
			if err != nil {
				t.Fatalf("libcni cannot load %s: %v", path, err)
			}
			tc.check(t, list)
		})
	}
}

func TestInstallPlugins(t *testing.T) {
	cases := []struct {
		name     string
		existing bool
	}{
		{name: "plugin names become links to the executable"},
		{name: "links left by an earlier install are replaced", existing: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			self := filepath.Join(dir, "podnet")
			os.WriteFile(self, nil, 0o755)
			bin := filepath.Join(dir, "bin")
			if tc.existing {
				if err := cni.InstallPlugins(bin, filepath.Join(dir, "old")); err != nil {
					t.Fatal(err)
				}
			}
			if err := cni.InstallPlugins(bin, self); err != nil {
				t.Fatal(err)
			}
			for _, name := range cni.PluginNames() {
				if target, err := os.Readlink(filepath.Join(bin, name)); err != nil || target != self {
					t.Fatalf("%s -> %q (%v), want %s", name, target, err, self)
				}
			}
		})
	}
}

func TestPluginMainRefusesOtherNames(t *testing.T) {
	for _, name := range []string{"podnet", "bridge", "host-local"} {
		t.Run(name+" is not a podnet plugin name", func(t *testing.T) {
			if cni.PluginMain(name) {
				t.Fatalf("PluginMain(%q) = true", name)
			}
		})
	}
}
