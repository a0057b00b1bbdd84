package proxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/nftns"
)

// liveLab is a throwaway topology: a node namespace routing between a client
// namespace and two backend namespaces over veth pairs (no bridge, so no
// hairpin), each namespace named pntest-<id>-<role> and deleted by that name.
type liveLab struct {
	t    *testing.T
	id   string
	node string
}

func (l *liveLab) name(role string) string { return "pntest-" + l.id + "-" + role }

func (l *liveLab) ip(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func newLiveLab(t *testing.T) *liveLab {
	if os.Geteuid() != 0 {
		t.Skip("live nftables test needs root (network namespaces, nft)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft binary not installed")
	}
	b := make([]byte, 4)
	rand.Read(b)
	l := &liveLab{t: t, id: hex.EncodeToString(b)}
	l.node = l.name("node")
	for _, role := range []string{"node", "cli", "b1", "b2"} {
		name := l.name(role)
		l.ip("netns", "add", name)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	}
	l.ip("netns", "exec", l.node, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	// peer namespace, its address, the node's address on that link
	for i, peer := range []string{"cli", "b1", "b2"} {
		nodeSide := fmt.Sprintf("to-%s", peer)
		l.ip("-n", l.node, "link", "add", nodeSide, "type", "veth", "peer", "name", "eth0", "netns", l.name(peer))
		l.ip("-n", l.node, "addr", "add", fmt.Sprintf("10.0.%d.1/24", i+1), "dev", nodeSide)
		l.ip("-n", l.node, "link", "set", nodeSide, "up")
		l.ip("-n", l.name(peer), "addr", "add", fmt.Sprintf("10.0.%d.2/24", i+1), "dev", "eth0")
		l.ip("-n", l.name(peer), "link", "set", "eth0", "up")
		l.ip("-n", l.name(peer), "link", "set", "lo", "up")
		l.ip("-n", l.name(peer), "route", "add", "default", "via", fmt.Sprintf("10.0.%d.1", i+1))
	}
	// The node must route the service CIDR somewhere, or routing answers
	// "net unreachable" before the forward hook's reject/drop can run. A
	// veth whose peer is down is a route that never delivers.
	l.ip("-n", l.node, "link", "add", "svc0", "type", "veth", "peer", "name", "svc1")
	l.ip("-n", l.node, "link", "set", "svc0", "up")
	l.ip("-n", l.node, "route", "add", "10.96.0.0/12", "dev", "svc0")
	return l
}

// do runs fn inside namespace role.
func (l *liveLab) do(role string, fn func() error) error {
	netns, err := ns.GetNS("/var/run/netns/" + l.name(role))
	if err != nil {
		return err
	}
	defer netns.Close()
	return netns.Do(func(ns.NetNS) error { return fn() })
}

// serve starts a TCP server in namespace role that answers each connection
// with the role's name.
func (l *liveLab) serve(role string, port int) {
	l.t.Helper()
	var ln net.Listener
	err := l.do(role, func() (err error) {
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		l.t.Fatalf("listen in %s: %v", role, err)
	}
	l.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, role)
			c.Close()
		}
	}()
}

// connect dials from the client namespace and returns the backend's name.
func (l *liveLab) connect(addr string) (string, error) {
	var conn net.Conn
	err := l.do("cli", func() (err error) {
		d := net.Dialer{Timeout: 2 * time.Second}
		conn, err = d.Dial("tcp4", addr)
		return err
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestLiveClusterIP(t *testing.T) {
	l := newLiveLab(t)
	l.serve("b1", 8080)
	l.serve("b2", 8080)
	table := "podnet-" + l.id
	nft, err := nftns.New("/var/run/netns/"+l.node, knftables.IPv4Family, table)
	if err != nil {
		t.Fatal(err)
	}
	port := []slicePortSpec{sliceTCP("", 8080)}
	web := withType(service("default", "web", "10.96.0.20", withNodePort(tcpPort("", 80), 30080)), corev1.ServiceTypeNodePort)
	both := testInputs(web, endpointSlice("default", "web", "x", port, ready("10.0.2.2"), ready("10.0.3.2")),
		service("default", "empty", "10.96.0.30", tcpPort("", 80)))
	ctx := context.Background()
	a := NewApplier(nft, nil)
	if err := a.Apply(ctx, Compile(both)); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput(); err == nil {
		t.Fatalf("table %s exists in the host namespace:\n%s", table, out)
	}

	spread := func(t *testing.T, addr string, n int) map[string]int {
		got := map[string]int{}
		for range n {
			name, err := l.connect(addr)
			if err != nil {
				t.Fatalf("connect %s: %v", addr, err)
			}
			got[name]++
		}
		return got
	}
	refused := func(t *testing.T, addr string) {
		_, err := l.connect(addr)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("connect %s: %v, want ECONNREFUSED", addr, err)
		}
	}

	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"connections to the cluster IP reach both backends", func(t *testing.T) {
			got := spread(t, "10.96.0.20:80", 60)
			if got["b1"] < 5 || got["b2"] < 5 {
				t.Errorf("spread %v, want each backend at least 5 of 60", got)
			}
		}},
		{"a service with no endpoints is refused at once", func(t *testing.T) { refused(t, "10.96.0.30:80") }},
		{"an undefined port on a cluster IP is refused", func(t *testing.T) { refused(t, "10.96.0.20:81") }},
		{"the NodePort on the node's address reaches the backends", func(t *testing.T) {
			if got := spread(t, "10.0.1.1:30080", 20); got["b1"]+got["b2"] != 20 {
				t.Errorf("spread %v", got)
			}
		}},
		{"after an incremental update removing one endpoint only the other is used", func(t *testing.T) {
			one := testInputs(web, endpointSlice("default", "web", "x", port, ready("10.0.2.2")),
				service("default", "empty", "10.96.0.30", tcpPort("", 80)))
			if err := a.Apply(ctx, Compile(one)); err != nil {
				t.Fatal(err)
			}
			if got := spread(t, "10.96.0.20:80", 20); got["b1"] != 20 {
				t.Errorf("spread %v, want all 20 on b1", got)
			}
		}},
		{"re-applying the same state over the existing table from a new applier keeps it working", func(t *testing.T) {
			if err := NewApplier(nft, nil).Apply(ctx, Compile(both)); err != nil {
				t.Fatal(err)
			}
			got := spread(t, "10.96.0.20:80", 40)
			if got["b1"] < 3 || got["b2"] < 3 {
				t.Errorf("spread %v", got)
			}
		}},
		{"ClientIP affinity pins the client to one backend, also after its timeout changes", func(t *testing.T) {
			for _, tc := range []struct {
				applier *Applier
				timeout int32
			}{{a, 60}, {a, 120}, {NewApplier(nft, nil), 30}} {
				sticky := testInputs(withAffinity(service("default", "sticky", "10.96.0.40", tcpPort("", 80)), tc.timeout),
					endpointSlice("default", "sticky", "x", port, ready("10.0.2.2"), ready("10.0.3.2")))
				if err := tc.applier.Apply(ctx, Compile(sticky)); err != nil {
					t.Fatalf("timeout %d: %v", tc.timeout, err)
				}
				if got := spread(t, "10.96.0.40:80", 20); len(got) != 1 {
					t.Errorf("timeout %d: spread %v, want one backend", tc.timeout, got)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, tc.run)
	}
}
