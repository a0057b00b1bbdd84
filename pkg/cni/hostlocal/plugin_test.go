package hostlocal

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/testutils"

	"github.com/podnet/podnet/pkg/cni/hostlocal/allocator"
	"github.com/podnet/podnet/pkg/cni/hostlocal/disk"
)

func pluginConf(dataDir, extra string) []byte {
	return []byte(fmt.Sprintf(`{"cniVersion":"1.1.0","name":"pntest","type":"podnet-host-local"%s,
		"ipam":{"type":"podnet-host-local","dataDir":%q,"ranges":[[{"subnet":"10.244.0.0/24"}]],
		"routes":[{"dst":"0.0.0.0/0"}]}}`, extra, dataDir))
}

func add(t *testing.T, conf []byte, id, cniArgs string) (*current.Result, error) {
	t.Helper()
	args := &skel.CmdArgs{ContainerID: id, Netns: "/nonexistent", IfName: "eth0", Args: cniArgs, StdinData: conf}
	raw, _, err := testutils.CmdAddWithArgs(args, func() error { return cmdAdd(args) })
	if err != nil {
		return nil, err
	}
	return current.GetResult(raw)
}

func cmd(f func(*skel.CmdArgs) error, conf []byte, id string) error {
	return f(&skel.CmdArgs{ContainerID: id, IfName: "eth0", StdinData: conf})
}

func TestPluginOperations(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, dir string)
	}{
		{name: "ADD returns the address with the subnet prefix, the gateway and the routes", run: func(t *testing.T, dir string) {
			r, err := add(t, pluginConf(dir, ""), "c1", "")
			if err != nil {
				t.Fatal(err)
			}
			if len(r.IPs) != 1 || r.IPs[0].Address.String() != "10.244.0.2/24" || r.IPs[0].Gateway.String() != "10.244.0.1" {
				t.Fatalf("IPs = %v", r.IPs)
			}
			if len(r.Routes) != 1 || r.Routes[0].Dst.String() != "0.0.0.0/0" || len(r.Interfaces) != 0 {
				t.Fatalf("routes %v interfaces %v, want one default route and no interfaces", r.Routes, r.Interfaces)
			}
		}},
		{name: "ADD honours IP= from CNI_ARGS and refuses it to a second container", run: func(t *testing.T, dir string) {
			r, err := add(t, pluginConf(dir, ""), "c1", "IgnoreUnknown=1;IP=10.244.0.9")
			if err != nil || r.IPs[0].Address.String() != "10.244.0.9/24" {
				t.Fatalf("ADD = %v, %v, want 10.244.0.9/24", r, err)
			}
			_, err = add(t, pluginConf(dir, ""), "c2", "IP=10.244.0.9")
			if err == nil || !strings.Contains(err.Error(), `already allocated to container "c1"`) {
				t.Fatalf("second ADD error = %v, want already allocated", err)
			}
		}},
		{name: "ADD honours the ips capability", run: func(t *testing.T, dir string) {
			r, err := add(t, pluginConf(dir, `,"runtimeConfig":{"ips":["10.244.0.77/24"]}`), "c1", "")
			if err != nil || r.IPs[0].Address.String() != "10.244.0.77/24" {
				t.Fatalf("ADD = %v, %v, want 10.244.0.77/24", r, err)
			}
		}},
		{name: "ADD refuses a requested IP outside every range", run: func(t *testing.T, dir string) {
			if _, err := add(t, pluginConf(dir, ""), "c1", "IP=10.9.9.9"); err == nil || !strings.Contains(err.Error(), "in no configured range") {
				t.Fatalf("ADD error = %v", err)
			}
		}},
		{name: "DEL releases and is idempotent, and CHECK then fails", run: func(t *testing.T, dir string) {
			conf := pluginConf(dir, "")
			if _, err := add(t, conf, "c1", ""); err != nil {
				t.Fatal(err)
			}
			if err := cmd(cmdCheck, conf, "c1"); err != nil {
				t.Fatalf("CHECK after ADD = %v", err)
			}
			for i := range 2 {
				if err := cmd(cmdDel, conf, "c1"); err != nil {
					t.Fatalf("DEL %d = %v", i, err)
				}
			}
			if err := cmd(cmdCheck, conf, "c1"); err == nil {
				t.Fatal("CHECK after DEL succeeded")
			}
		}},
		{name: "GC releases reservations that are not valid attachments", run: func(t *testing.T, dir string) {
			for _, id := range []string{"keep", "drop"} {
				if _, err := add(t, pluginConf(dir, ""), id, ""); err != nil {
					t.Fatal(err)
				}
			}
			gc := pluginConf(dir, `,"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"}]`)
			if err := cmd(cmdGC, gc, ""); err != nil {
				t.Fatal(err)
			}
			if err := cmd(cmdCheck, pluginConf(dir, ""), "keep"); err != nil {
				t.Fatalf("valid attachment lost its address: %v", err)
			}
			if err := cmd(cmdCheck, pluginConf(dir, ""), "drop"); err == nil {
				t.Fatal("invalid attachment kept its address")
			}
		}},
		{name: "STATUS succeeds on a usable data directory", run: func(t *testing.T, dir string) {
			if err := cmd(cmdStatus, pluginConf(dir, ""), ""); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, t.TempDir()) })
	}
}

// TestConcurrentStoresGetDistinctAddresses stands in for concurrent plugin
// processes: each goroutine opens its own store, so only the flock keeps them
// apart.
func TestConcurrentStoresGetDistinctAddresses(t *testing.T) {
	dir := t.TempDir()
	set := allocator.RangeSet{{
		Subnet: netip.MustParsePrefix("10.244.0.0/24"), Start: netip.MustParseAddr("10.244.0.1"),
		End: netip.MustParseAddr("10.244.0.254"), Gateway: netip.MustParseAddr("10.244.0.1"),
	}}
	const n = 50
	got := make([]netip.Addr, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := disk.New(dir, "net")
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			if errs[i] = s.Lock(); errs[i] != nil {
				return
			}
			defer s.Unlock()
			a, err := allocator.New(set, s, "0").Get(fmt.Sprintf("c%d", i), "eth0", netip.Addr{})
			got[i], errs[i] = a.Address.Addr(), err
		}()
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("allocation %d: %v", i, errs[i])
		}
		if seen[got[i]] {
			t.Fatalf("%s handed out twice", got[i])
		}
		seen[got[i]] = true
	}
}
