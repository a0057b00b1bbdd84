package cni_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"

	"github.com/podnet/podnet/pkg/cni"
	"github.com/podnet/podnet/pkg/cni/bridge"
	"github.com/podnet/podnet/pkg/cni/internal/pluginbin"
)

// binDir holds the built plugin; set once by TestMain before any test runs.
var binDir string

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
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lab is one throwaway node namespace with a Runtime, and two pod
// namespaces.
type lab struct {
	node, podA, podB ns.NetNS
	net              cni.Network
	rt               *cni.Runtime
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces, veths and bridges")
	}
	l := &lab{}
	for _, p := range []*ns.NetNS{&l.node, &l.podA, &l.podB} {
		n, err := testutils.NewNS()
		if err != nil {
			t.Fatal(err)
		}
		*p = n
		t.Cleanup(func() {
			n.Close()
			testutils.UnmountNS(n)
		})
	}
	b := make([]byte, 4)
	rand.Read(b)
	tmp := t.TempDir()
	l.net = cni.Network{
		Name:     "pntest-" + hex.EncodeToString(b),
		Bridge:   "pnt" + hex.EncodeToString(b),
		Subnet:   netip.MustParsePrefix("10.244.0.0/24"),
		BinDir:   binDir,
		ConfDir:  filepath.Join(tmp, "net.d"),
		CacheDir: filepath.Join(tmp, "cache"),
		IPAMDir:  filepath.Join(tmp, "ipam"),
	}
	if _, err := l.net.WriteConfList(); err != nil {
		t.Fatal(err)
	}
	rt, err := cni.NewRuntime(l.net, l.node.Path())
	if err != nil {
		t.Fatal(err)
	}
	l.rt = rt
	return l
}

func (l *lab) add(t *testing.T, id string, pod ns.NetNS, req netip.Addr) netip.Addr {
	t.Helper()
	ip, err := l.rt.Add(context.Background(), id, pod.Path(), "eth0", req, "default", id)
	if err != nil {
		t.Fatal(err)
	}
	return ip
}

func (l *lab) reservations() []string {
	entries, _ := os.ReadDir(filepath.Join(l.net.IPAMDir, l.net.Name))
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

// connect opens a listener in server's namespace on ip and dials it from
// client's namespace, returning the source address the server saw.
func connect(t *testing.T, server, client ns.NetNS, ip netip.Addr) netip.Addr {
	t.Helper()
	var ln net.Listener
	in(t, server, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
		return err
	})
	defer ln.Close()
	accepted := make(chan net.Addr, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		defer c.Close()
		io.WriteString(c, "hello")
		accepted <- c.RemoteAddr()
	}()
	in(t, client, func() error {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		if string(b) != "hello" {
			return fmt.Errorf("read %q, %v", b, err)
		}
		return nil
	})
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	return peer.(*net.TCPAddr).AddrPort().Addr().Unmap()
}

func TestRuntimeThroughLibcni(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, l *lab)
	}{
		{name: "two pods get /32 addresses from the subnet and reach each other through the node", run: func(t *testing.T, l *lab) {
			a := l.add(t, "pod-a", l.podA, netip.Addr{})
			b := l.add(t, "pod-b", l.podB, netip.Addr{})
			for _, tc := range []struct {
				pod ns.NetNS
				ip  netip.Addr
			}{{l.podA, a}, {l.podB, b}} {
				if !l.net.Subnet.Contains(tc.ip) || tc.ip == netip.MustParseAddr("10.244.0.1") {
					t.Fatalf("pod address %s is not a host address of %s", tc.ip, l.net.Subnet)
				}
				in(t, tc.pod, func() error {
					eth0, err := netlink.LinkByName("eth0")
					if err != nil {
						return err
					}
					addrs, _ := netlink.AddrList(eth0, netlink.FAMILY_V4)
					if len(addrs) != 1 || addrs[0].IPNet.String() != tc.ip.String()+"/32" {
						return fmt.Errorf("eth0 addresses = %v, want %s/32", addrs, tc.ip)
					}
					routes, _ := netlink.RouteGet(net.ParseIP("10.244.0.200"))
					if len(routes) != 1 || routes[0].Gw.String() != "10.244.0.1" {
						return fmt.Errorf("route to a same-subnet address = %+v, want via the gateway", routes)
					}
					lo, err := netlink.LinkByName("lo")
					if err != nil || lo.Attrs().Flags&net.FlagUp == 0 {
						return fmt.Errorf("lo is not up (%v)", err)
					}
					return nil
				})
			}
			in(t, l.node, func() error {
				br, err := netlink.LinkByName(l.net.Bridge)
				if err != nil {
					return err
				}
				addrs, _ := netlink.AddrList(br, netlink.FAMILY_V4)
				if len(addrs) != 1 || addrs[0].IPNet.String() != "10.244.0.1/24" {
					return fmt.Errorf("bridge addresses = %v, want 10.244.0.1/24", addrs)
				}
				for _, id := range []string{"pod-a", "pod-b"} {
					port, err := netlink.LinkByName(bridge.HostVethName(id, "eth0"))
					if err != nil {
						return err
					}
					if pi, err := netlink.LinkGetProtinfo(port); err != nil || !pi.Hairpin {
						return fmt.Errorf("port of %s: hairpin %v, %v", id, pi.Hairpin, err)
					}
				}
				return nil
			})
			// The plugins were exec'd from a thread inside the node
			// namespace; had they inherited ours instead, the bridge would
			// be here.
			if _, err := netlink.LinkByName(l.net.Bridge); err == nil {
				t.Fatalf("bridge %q appeared in the test's own namespace", l.net.Bridge)
			}
			if src := connect(t, l.podA, l.podB, a); src != b {
				t.Fatalf("pod A saw source %s, want pod B's %s", src, b)
			}
			if src := connect(t, l.podB, l.podA, b); src != a {
				t.Fatalf("pod B saw source %s, want pod A's %s", src, a)
			}
			for _, tc := range []struct {
				id  string
				pod ns.NetNS
			}{{"pod-a", l.podA}, {"pod-b", l.podB}} {
				if err := l.rt.Check(ctx, tc.id, tc.pod.Path(), "eth0"); err != nil {
					t.Fatalf("CHECK %s = %v", tc.id, err)
				}
			}
		}},
		{name: "DEL twice succeeds and releases the address", run: func(t *testing.T, l *lab) {
			l.add(t, "pod-a", l.podA, netip.Addr{})
			for i := range 2 {
				if err := l.rt.Del(ctx, "pod-a", l.podA.Path(), "eth0"); err != nil {
					t.Fatalf("DEL %d = %v", i, err)
				}
			}
			if got := l.reservations(); len(got) != 0 {
				t.Fatalf("reservations after DEL = %v", got)
			}
		}},
		{name: "DEL after the pod namespace is gone succeeds and frees the address for another pod", run: func(t *testing.T, l *lab) {
			a := l.add(t, "pod-a", l.podA, netip.Addr{})
			path := l.podA.Path()
			l.podA.Close()
			if err := testutils.UnmountNS(l.podA); err != nil {
				t.Fatal(err)
			}
			if err := l.rt.Del(ctx, "pod-a", path, "eth0"); err != nil {
				t.Fatalf("DEL = %v", err)
			}
			if got := l.add(t, "pod-b", l.podB, a); got != a {
				t.Fatalf("pod B got %s, want the released %s", got, a)
			}
		}},
		{name: "DEL without a netns path succeeds and releases the address and the veth", run: func(t *testing.T, l *lab) {
			l.add(t, "pod-a", l.podA, netip.Addr{})
			if err := l.rt.Del(ctx, "pod-a", "", "eth0"); err != nil {
				t.Fatalf("DEL = %v", err)
			}
			if got := l.reservations(); len(got) != 0 {
				t.Fatalf("reservations after DEL = %v", got)
			}
			in(t, l.node, func() error {
				if _, err := netlink.LinkByName(bridge.HostVethName("pod-a", "eth0")); err == nil {
					return fmt.Errorf("node-side veth survived DEL")
				}
				return nil
			})
		}},
		{name: "a requested IP is honoured and refused to a second pod", run: func(t *testing.T, l *lab) {
			want := netip.MustParseAddr("10.244.0.42")
			if got := l.add(t, "pod-a", l.podA, want); got != want {
				t.Fatalf("pod A got %s, want %s", got, want)
			}
			_, err := l.rt.Add(ctx, "pod-b", l.podB.Path(), "eth0", want, "default", "pod-b")
			if err == nil || !strings.Contains(err.Error(), "already allocated") {
				t.Fatalf("second ADD = %v, want already allocated", err)
			}
			if got := l.reservations(); len(got) != 1 {
				t.Fatalf("reservations = %v, want only pod A's", got)
			}
		}},
		{name: "ADD fails when the pod already has the interface", run: func(t *testing.T, l *lab) {
			l.add(t, "pod-a", l.podA, netip.Addr{})
			_, err := l.rt.Add(ctx, "pod-a2", l.podA.Path(), "eth0", netip.Addr{}, "default", "pod-a2")
			if err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Fatalf("ADD = %v, want already exists", err)
			}
		}},
		{name: "GC releases addresses of attachments the runtime no longer has", run: func(t *testing.T, l *lab) {
			l.add(t, "pod-a", l.podA, netip.Addr{})
			l.add(t, "pod-b", l.podB, netip.Addr{})
			if err := l.rt.GC(ctx, []types.GCAttachment{{ContainerID: "pod-a", IfName: "eth0"}}); err != nil {
				t.Fatal(err)
			}
			if got := l.reservations(); len(got) != 1 {
				t.Fatalf("reservations after GC = %v, want only pod A's", got)
			}
			if err := l.rt.Status(ctx); err != nil {
				t.Fatalf("STATUS = %v", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newLab(t)) })
	}
}
