// Command proxylatency measures the service proxy's data plane: the
// connection set-up time (the first packet's trip through DNAT and back)
// to a Service with 10, 1,000 and 10,000 Services programmed, next to a
// linear, iptables-style chain of the same Services measured in the same
// run; and the connection rate through a ClusterIP against straight to the
// pod address. It builds three namespaces of its own (pnlat-<pid>-cli,
// -node, -srv), sends traffic only between them, and deletes them.
//
//	sudo go run ./bench/proxylatency
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/nftns"
	"github.com/podnet/podnet/pkg/proxy"
)

const (
	backend = "10.250.2.2"
	port    = 8080
)

func main() {
	conns := flag.Int("conns", 2000, "connections per measurement")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "proxylatency needs root: it builds network namespaces")
		os.Exit(2)
	}
	prefix := fmt.Sprintf("pnlat-%d-", os.Getpid())
	err := run(prefix, *conns)
	for _, n := range []string{"cli", "node", "srv"} {
		exec.Command("ip", "netns", "delete", prefix+n).Run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxylatency:", err)
		os.Exit(1)
	}
}

func sh(args ...string) error {
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// topology: cli (10.250.1.2) — node (router, the proxy's table) — srv
// (10.250.2.2, a TCP server on :8080).
func topology(p string) error {
	steps := [][]string{
		{"ip", "netns", "add", p + "cli"}, {"ip", "netns", "add", p + "node"}, {"ip", "netns", "add", p + "srv"},
		{"ip", "-n", p + "node", "link", "add", "c", "type", "veth", "peer", "name", "eth0", "netns", p + "cli"},
		{"ip", "-n", p + "node", "link", "add", "s", "type", "veth", "peer", "name", "eth0", "netns", p + "srv"},
		{"ip", "-n", p + "node", "addr", "add", "10.250.1.1/24", "dev", "c"},
		{"ip", "-n", p + "node", "addr", "add", "10.250.2.1/24", "dev", "s"},
		{"ip", "-n", p + "cli", "addr", "add", "10.250.1.2/24", "dev", "eth0"},
		{"ip", "-n", p + "srv", "addr", "add", backend + "/24", "dev", "eth0"},
	}
	for _, n := range []string{"cli", "node", "srv"} {
		steps = append(steps, []string{"ip", "-n", p + n, "link", "set", "lo", "up"})
	}
	steps = append(steps,
		[]string{"ip", "-n", p + "node", "link", "set", "c", "up"}, []string{"ip", "-n", p + "node", "link", "set", "s", "up"},
		[]string{"ip", "-n", p + "cli", "link", "set", "eth0", "up"}, []string{"ip", "-n", p + "srv", "link", "set", "eth0", "up"},
		[]string{"ip", "-n", p + "cli", "route", "add", "default", "via", "10.250.1.1"},
		[]string{"ip", "-n", p + "srv", "route", "add", "default", "via", "10.250.2.1"},
		[]string{"ip", "netns", "exec", p + "node", "sysctl", "-qw", "net.ipv4.ip_forward=1"},
		// The service range needs a route for rejects to run (see the
		// proxy README); a blackhole is enough here.
		[]string{"ip", "-n", p + "node", "route", "add", "blackhole", "10.96.0.0/12"},
	)
	for _, s := range steps {
		if err := sh(s...); err != nil {
			return err
		}
	}
	return nil
}

// inNetns runs f on a thread inside the named namespace; sockets f makes
// stay there.
func inNetns(name string, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return err
	}
	defer netns.Set(orig)
	return f()
}

func run(p string, conns int) error {
	if err := topology(p); err != nil {
		return err
	}
	var ln net.Listener
	if err := inNetns(p+"srv", func() error {
		var err error
		ln, err = net.Listen("tcp", fmt.Sprintf("%s:%d", backend, port))
		return err
	}); err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	ctx := context.Background()
	fmt.Printf("connection set-up time to a random Service (%d connections each), p50 / p99:\n", conns)
	for _, n := range []int{10, 1000, 10000} {
		vips := serviceIPs(n)
		nft, err := nftns.New("/run/netns/"+p+"node", knftables.IPv4Family, "podnet-proxy")
		if err != nil {
			return err
		}
		if err := proxy.NewApplier(nft, nil).Apply(ctx, proxy.Compile(inputs(vips))); err != nil {
			return err
		}
		ours, err := measure(p+"cli", vips, conns)
		if err != nil {
			return err
		}
		sh("ip", "netns", "exec", p+"node", "nft", "delete", "table", "ip", "podnet-proxy")
		if err := linearTable(p+"node", vips); err != nil {
			return err
		}
		linear, err := measure(p+"cli", vips, conns)
		if err != nil {
			return err
		}
		sh("ip", "netns", "exec", p+"node", "nft", "delete", "table", "ip", "linear")
		fmt.Printf("  %5d Services: podnet %s / %s   linear chain %s / %s\n", n,
			pct(ours, 0.5), pct(ours, 0.99), pct(linear, 0.5), pct(linear, 0.99))
	}

	// Connection rate: ClusterIP vs the pod address, 1,000 Services.
	vips := serviceIPs(1000)
	nft, err := nftns.New("/run/netns/"+p+"node", knftables.IPv4Family, "podnet-proxy")
	if err != nil {
		return err
	}
	if err := proxy.NewApplier(nft, nil).Apply(ctx, proxy.Compile(inputs(vips))); err != nil {
		return err
	}
	viaVIP, err := rate(p+"cli", vips[len(vips)/2], conns)
	if err != nil {
		return err
	}
	direct, err := rate(p+"cli", netip.MustParseAddr(backend), conns)
	if err != nil {
		return err
	}
	fmt.Printf("connection rate, 1,000 Services programmed: through a ClusterIP %.0f/s, straight to the pod %.0f/s (ratio %.2f)\n",
		viaVIP, direct, viaVIP/direct)
	return nil
}

func serviceIPs(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{10, byte(96 + i/62500), byte((i / 250) % 250), byte(i%250 + 1)})
	}
	return out
}

// inputs: one Service per address, each with the one backend.
func inputs(vips []netip.Addr) proxy.Inputs {
	in := proxy.Inputs{ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")}}
	for i, vip := range vips {
		name := fmt.Sprintf("svc-%d", i)
		in.Services = append(in.Services, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: name},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: vip.String(), ClusterIPs: []string{vip.String()},
				Ports: []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: 80}}},
		})
		in.EndpointSlices = append(in.EndpointSlices, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "bench", Name: name + "-a", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(""), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](port)}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{backend}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		})
	}
	return in
}

// linearTable is the iptables-style reference: one rule per Service,
// tried in order.
func linearTable(ns string, vips []netip.Addr) error {
	var b strings.Builder
	b.WriteString("add table ip linear\nadd chain ip linear pre { type nat hook prerouting priority -100 ; }\n")
	for _, v := range vips {
		fmt.Fprintf(&b, "add rule ip linear pre ip daddr %s tcp dport 80 dnat to %s:%d\n", v, backend, port)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("linear table: %v: %s", err, out)
	}
	return nil
}

// measure times TCP connects from the client to random Services.
func measure(ns string, vips []netip.Addr, n int) ([]time.Duration, error) {
	var out []time.Duration
	err := inNetns(ns, func() error {
		for range n {
			vip := vips[rand.IntN(len(vips))]
			t0 := time.Now()
			c, err := net.DialTimeout("tcp", netip.AddrPortFrom(vip, 80).String(), 2*time.Second)
			if err != nil {
				return fmt.Errorf("connect %s: %w", vip, err)
			}
			out = append(out, time.Since(t0))
			c.Close()
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// rate is sequential connections per second to one address.
func rate(ns string, addr netip.Addr, n int) (float64, error) {
	p := uint16(80)
	if addr.String() == backend {
		p = port
	}
	var took time.Duration
	err := inNetns(ns, func() error {
		t0 := time.Now()
		for range n {
			c, err := net.DialTimeout("tcp", netip.AddrPortFrom(addr, p).String(), 2*time.Second)
			if err != nil {
				return err
			}
			c.Close()
		}
		took = time.Since(t0)
		return nil
	})
	return float64(n) / took.Seconds(), err
}

func pct(sorted []time.Duration, q float64) string {
	return sorted[int(float64(len(sorted)-1)*q)].Round(time.Microsecond).String()
}
