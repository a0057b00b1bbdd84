package bridge_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"

	"github.com/podnet/podnet/pkg/cni/bridge"
	"github.com/podnet/podnet/pkg/cni/internal/pluginbin"
)

// TestMain builds the plugin binary so the in-process bridge can exec
// podnet-host-local the way it does in production: testutils sets CNI_PATH
// from PATH.
func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "pntest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := pluginbin.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// rig is a throwaway node namespace (the plugin's "host") and a pod
// namespace, plus a config naming a bridge unique to the test.
type rig struct {
	node, pod ns.NetNS
	bridge    string
	conf      []byte
	dataDir   string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces, veths and bridges")
	}
	r := &rig{dataDir: t.TempDir()}
	var err error
	for _, p := range []*ns.NetNS{&r.node, &r.pod} {
		if *p, err = testutils.NewNS(); err != nil {
			t.Fatal(err)
		}
		n := *p
		t.Cleanup(func() {
			n.Close()
			testutils.UnmountNS(n)
		})
	}
	b := make([]byte, 4)
	rand.Read(b)
	r.bridge = "pnt" + hex.EncodeToString(b)
	r.conf = []byte(fmt.Sprintf(`{"cniVersion":"1.1.0","name":"pntest-%s","type":"podnet-bridge","bridge":%q,
		"ipam":{"type":"podnet-host-local","dataDir":%q,"ranges":[[{"subnet":"10.244.0.0/24"}]]}}`,
		r.bridge, r.bridge, r.dataDir))
	return r
}

func (r *rig) args(id string, conf []byte) *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: id, Netns: r.pod.Path(), IfName: "eth0", StdinData: conf}
}

func (r *rig) add(t *testing.T, id string) (*current.Result, error) {
	t.Helper()
	var res *current.Result
	err := r.node.Do(func(ns.NetNS) error {
		a := r.args(id, r.conf)
		raw, _, err := testutils.CmdAddWithArgs(a, func() error { return bridge.Funcs().Add(a) })
		if err != nil {
			return err
		}
		res, err = current.GetResult(raw)
		return err
	})
	return res, err
}

func (r *rig) del(id string) error {
	return r.node.Do(func(ns.NetNS) error {
		a := r.args(id, r.conf)
		return testutils.CmdDelWithArgs(a, func() error { return bridge.Funcs().Del(a) })
	})
}

func (r *rig) check(t *testing.T, id string, prev *current.Result) error {
	t.Helper()
	var conf map[string]any
	if err := json.Unmarshal(r.conf, &conf); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(prev)
	var pr map[string]any
	json.Unmarshal(b, &pr)
	conf["prevResult"] = pr
	withPrev, _ := json.Marshal(conf)
	return r.node.Do(func(ns.NetNS) error {
		a := r.args(id, withPrev)
		return testutils.CmdCheckWithArgs(a, func() error { return bridge.Funcs().Check(a) })
	})
}

// reservations lists the IPAM data directory's address files.
func (r *rig) reservations(t *testing.T) []string {
	t.Helper()
	var cfg struct{ Name string }
	json.Unmarshal(r.conf, &cfg)
	entries, _ := os.ReadDir(filepath.Join(r.dataDir, cfg.Name))
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "10.") {
			out = append(out, e.Name())
		}
	}
	return out
}

func in(t *testing.T, n ns.NetNS, f func() error) {
	t.Helper()
	if err := n.Do(func(ns.NetNS) error { return f() }); err != nil {
		t.Fatal(err)
	}
}

func readSysctl(t *testing.T, n ns.NetNS, key string) string {
	var v []byte
	in(t, n, func() (err error) {
		v, err = os.ReadFile(filepath.Join("/proc/sys", key))
		return err
	})
	return strings.TrimSpace(string(v))
}

func TestBridgeInProcess(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, r *rig)
	}{
		{name: "ADD gives the pod a /32 with routes via the gateway on a hairpin bridge port", run: func(t *testing.T, r *rig) {
			res, err := r.add(t, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if len(res.IPs) != 1 || res.IPs[0].Address.String() != "10.244.0.2/24" || res.IPs[0].Gateway.String() != "10.244.0.1" || *res.IPs[0].Interface != 2 {
				t.Fatalf("result IPs = %+v, want 10.244.0.2/24 gw 10.244.0.1 on interface 2", res.IPs)
			}
			if len(res.Interfaces) != 3 || res.Interfaces[2].Sandbox != r.pod.Path() || res.Interfaces[0].Name != r.bridge {
				t.Fatalf("result interfaces = %+v", res.Interfaces)
			}
			in(t, r.pod, func() error {
				l, err := netlink.LinkByName("eth0")
				if err != nil {
					return err
				}
				addrs, _ := netlink.AddrList(l, netlink.FAMILY_V4)
				if len(addrs) != 1 || addrs[0].IPNet.String() != "10.244.0.2/32" {
					return fmt.Errorf("eth0 addresses = %v, want only 10.244.0.2/32", addrs)
				}
				routes, _ := netlink.RouteList(l, netlink.FAMILY_V4)
				var got []string
				for _, rt := range routes {
					got = append(got, fmt.Sprintf("%v via %v scope %v", rt.Dst, rt.Gw, rt.Scope))
				}
				sort.Strings(got)
				want := "0.0.0.0/0 via 10.244.0.1 scope universe,10.244.0.1/32 via <nil> scope link"
				if strings.Join(got, ",") != want {
					return fmt.Errorf("eth0 routes = %v, want %s", got, want)
				}
				return nil
			})
			in(t, r.node, func() error {
				br, err := netlink.LinkByName(r.bridge)
				if err != nil {
					return err
				}
				addrs, _ := netlink.AddrList(br, netlink.FAMILY_V4)
				if len(addrs) != 1 || addrs[0].IPNet.String() != "10.244.0.1/24" {
					return fmt.Errorf("bridge addresses = %v, want 10.244.0.1/24", addrs)
				}
				port, err := netlink.LinkByName(bridge.HostVethName("c1", "eth0"))
				if err != nil {
					return err
				}
				pi, err := netlink.LinkGetProtinfo(port)
				if err != nil || !pi.Hairpin || port.Attrs().MasterIndex != br.Attrs().Index {
					return fmt.Errorf("port master %d hairpin %v (%v), want bridge %d with hairpin", port.Attrs().MasterIndex, pi.Hairpin, err, br.Attrs().Index)
				}
				return nil
			})
			for key, want := range map[string]string{
				"net/ipv4/ip_forward":                           "1",
				"net/ipv4/conf/all/send_redirects":              "0",
				"net/ipv4/conf/default/send_redirects":          "0",
				"net/ipv4/conf/" + r.bridge + "/send_redirects": "0",
			} {
				if got := readSysctl(t, r.node, key); got != want {
					t.Errorf("node %s = %s, want %s", key, got, want)
				}
			}
			if _, err := netlink.LinkByName(r.bridge); err == nil {
				t.Fatalf("bridge %q appeared in the test's own namespace", r.bridge)
			}
		}},
		{name: "CHECK passes after ADD and fails once the default route is gone", run: func(t *testing.T, r *rig) {
			res, err := r.add(t, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if err := r.check(t, "c1", res); err != nil {
				t.Fatalf("CHECK after ADD = %v", err)
			}
			in(t, r.pod, func() error {
				l, _ := netlink.LinkByName("eth0")
				routes, _ := netlink.RouteList(l, netlink.FAMILY_V4)
				for _, rt := range routes {
					if rt.Gw != nil {
						return netlink.RouteDel(&rt)
					}
				}
				return fmt.Errorf("no default route to delete")
			})
			if err := r.check(t, "c1", res); err == nil || !strings.Contains(err.Error(), "lacks route") {
				t.Fatalf("CHECK after removing the route = %v, want lacks route", err)
			}
		}},
		{name: "ADD fails when the interface already exists and allocates nothing", run: func(t *testing.T, r *rig) {
			in(t, r.pod, func() error {
				a := netlink.NewLinkAttrs()
				a.Name = "eth0"
				return netlink.LinkAdd(&netlink.Bridge{LinkAttrs: a})
			})
			if _, err := r.add(t, "c1"); err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Fatalf("ADD = %v, want already exists", err)
			}
			if got := r.reservations(t); len(got) != 0 {
				t.Fatalf("reservations after a refused ADD = %v", got)
			}
		}},
		{name: "DEL twice succeeds and releases the address and both veth ends", run: func(t *testing.T, r *rig) {
			if _, err := r.add(t, "c1"); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				if err := r.del("c1"); err != nil {
					t.Fatalf("DEL %d = %v", i, err)
				}
			}
			if got := r.reservations(t); len(got) != 0 {
				t.Fatalf("reservations after DEL = %v", got)
			}
			in(t, r.node, func() error {
				if _, err := netlink.LinkByName(bridge.HostVethName("c1", "eth0")); err == nil {
					return fmt.Errorf("node-side veth survived DEL")
				}
				return nil
			})
		}},
		{name: "DEL after the pod namespace is gone succeeds and releases the address", run: func(t *testing.T, r *rig) {
			if _, err := r.add(t, "c1"); err != nil {
				t.Fatal(err)
			}
			r.pod.Close()
			if err := testutils.UnmountNS(r.pod); err != nil {
				t.Fatal(err)
			}
			if err := r.del("c1"); err != nil {
				t.Fatalf("DEL = %v", err)
			}
			if got := r.reservations(t); len(got) != 0 {
				t.Fatalf("reservations after DEL = %v", got)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newRig(t)) })
	}
}
