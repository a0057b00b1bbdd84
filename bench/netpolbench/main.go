// Command netpolbench measures NetworkPolicy enforcement on a real kernel
// at the scale (bench/netpolgen's 1,000 pods, 50 namespaces and
// 1,000 policies, one node's share of them programmed):
//
//   - enforcement latency: from a policy applied to the source until a
//     connection from one pod namespace to another is allowed (policy
//     added) or blocked again (policy deleted), p50 / p99;
//   - connection rate between the two pods with the 1,000 policies
//     programmed and with no enforcement table, alternated in one run.
//
// It builds three namespaces of its own (pnbench-<pid>-node, the router
// holding the enforcement table, and -a, -b, two of the generated pods
// with their IPs), sends traffic only between them and deletes them by
// name.
//
//	go build -o bin/netpolbench ./bench/netpolbench && sudo bin/netpolbench
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/netpol"
	"github.com/podnet/podnet/pkg/netpol/enforce"
	"github.com/podnet/podnet/pkg/netpol/netpolgen"
	"github.com/podnet/podnet/pkg/source"
)

const (
	node    = "node-0"
	port    = 8080
	gateway = "169.254.1.1" // the node's address on every pod link
)

func main() {
	trials := flag.Int("trials", 100, "policy adds and deletes measured (each)")
	conns := flag.Int("conns", 3000, "connections per rate round")
	rounds := flag.Int("rounds", 3, "rate rounds of each kind, alternated")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "netpolbench needs root: it builds network namespaces")
		os.Exit(2)
	}
	prefix := fmt.Sprintf("pnbench-%d-", os.Getpid())
	err := run(prefix, *trials, *conns, *rounds)
	for _, n := range []string{"a", "b", "node"} {
		exec.Command("ip", "netns", "delete", prefix+n).Run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "netpolbench:", err)
		os.Exit(1)
	}
}

func sh(args ...string) error {
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// topology: a and b are pod namespaces with the pods' /32 addresses and a
// default route to the node, which routes between them.
func topology(p string, a, b netip.Addr) error {
	steps := [][]string{{"ip", "netns", "add", p + "node"}}
	for n, ip := range map[string]netip.Addr{"a": a, "b": b} {
		steps = append(steps,
			[]string{"ip", "netns", "add", p + n},
			[]string{"ip", "-n", p + "node", "link", "add", "to-" + n, "type", "veth", "peer", "name", "eth0", "netns", p + n},
			[]string{"ip", "-n", p + "node", "addr", "add", gateway + "/32", "dev", "to-" + n},
			[]string{"ip", "-n", p + "node", "link", "set", "to-" + n, "up"},
			[]string{"ip", "-n", p + "node", "route", "add", ip.String() + "/32", "dev", "to-" + n},
			[]string{"ip", "-n", p + n, "addr", "add", ip.String() + "/32", "dev", "eth0"},
			[]string{"ip", "-n", p + n, "link", "set", "lo", "up"},
			[]string{"ip", "-n", p + n, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", p + n, "route", "add", gateway, "dev", "eth0", "scope", "link"},
			[]string{"ip", "-n", p + n, "route", "add", "default", "via", gateway, "dev", "eth0"},
		)
	}
	steps = append(steps, []string{"ip", "netns", "exec", p + "node", "sysctl", "-qw", "net.ipv4.ip_forward=1"})
	for _, s := range steps {
		if err := sh(s...); err != nil {
			return err
		}
	}
	return nil
}

// inNetns runs f on a thread inside the named namespace.
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

// pickPair finds a client and a server on node-0 such that the client may
// send to the server on the port but the server's ingress refuses it, and
// the bench policy (allowPolicy) lets it in.
func pickPair(objs []source.Object) (a, b *netpol.Pod, err error) {
	eng, err := netpol.New(netpol.FromObjects(objs))
	if err != nil {
		return nil, nil, err
	}
	var local []*netpol.Pod
	for _, p := range eng.Cluster.Pods {
		if p.Node == node && p.IP.Is4() {
			local = append(local, p)
		}
	}
	for _, srv := range local {
		for _, cli := range local {
			if cli == srv {
				continue
			}
			v := eng.Evaluate(netpol.PodEndpoint(cli), netpol.PodEndpoint(srv), port, corev1.ProtocolTCP)
			if v.Egress.Allowed && !v.Ingress.Allowed {
				with := append(slices.Clone(objs), allowPolicy(cli, srv))
				e2, err := netpol.New(netpol.FromObjects(with))
				if err == nil && e2.Allowed(netpol.PodEndpoint(e2.Cluster.Pod(cli.Key())), netpol.PodEndpoint(e2.Cluster.Pod(srv.Key())), port, corev1.ProtocolTCP) {
					return cli, srv, nil
				}
			}
		}
	}
	return nil, nil, errors.New("no pod pair on node-0 that a policy can open")
}

// allowPolicy lets the client's address into the server on the port.
func allowPolicy(cli, srv *netpol.Pod) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: "bench-allow", Namespace: srv.Namespace},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: srv.Labels},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: cli.IP.String() + "/32"}}},
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(port))}},
			}},
		},
	}
	manifest.Default(np)
	return np
}

func run(p string, trials, conns, rounds int) error {
	objs := netpolgen.Cluster(netpolgen.Default)
	for _, o := range objs {
		manifest.Default(o)
	}
	cli, srv, err := pickPair(objs)
	if err != nil {
		return err
	}
	fmt.Printf("client %s (%s) -> server %s (%s) port %d/TCP\n", cli.Key(), cli.IP, srv.Key(), srv.IP, port)
	if err := topology(p, cli.IP, srv.IP); err != nil {
		return err
	}
	var ln net.Listener
	if err := inNetns(p+"b", func() error {
		var err error
		ln, err = net.Listen("tcp", fmt.Sprintf("%s:%d", srv.IP, port))
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

	src := source.NewStatic(objs...)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	enf, err := enforce.New(src, node, "/run/netns/"+p+"node", log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	if err := enf.RegisterMetrics(reg); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { enf.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	t0 := time.Now()
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Minute)
	err = enf.WaitApplied(wctx)
	wcancel()
	if err != nil {
		return fmt.Errorf("first sync: %w (%v)", err, enf.Err())
	}
	elements, _ := exec.Command("sh", "-c", "ip netns exec "+p+"node nft list table ip "+enforce.Table+" | grep -c ' \\. '").Output()
	fmt.Printf("first sync of %s (1,000 policies, 250 of the 1,000 pods): %s; element lines in the table: %s",
		node, time.Since(t0).Round(time.Millisecond), elements)

	target := netip.AddrPortFrom(srv.IP, port).String()
	// connects says whether a new connection gets through; a dropped SYN
	// shows as a timeout (the kernel retries only after a second).
	connects := func(timeout time.Duration) bool {
		c, err := net.DialTimeout("tcp", target, timeout)
		if err != nil {
			return false
		}
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		return true
	}
	var opened, closed, applied []time.Duration
	debug := os.Getenv("NETPOLBENCH_DEBUG") != ""
	allow := allowPolicy(cli, srv)
	err = inNetns(p+"a", func() error {
		if connects(100 * time.Millisecond) {
			return errors.New("the client reaches the server before any policy allows it")
		}
		until := func(want bool, applied time.Time) (time.Duration, error) {
			for time.Since(applied) < 5*time.Second {
				start := time.Now()
				got := connects(3 * time.Millisecond)
				if got == want && want {
					return time.Since(applied), nil
				}
				// A timeout on a loaded machine is not yet a drop: the
				// first attempt that timed out counts once a patient
				// one confirms the block.
				if got == want && !connects(200*time.Millisecond) {
					return start.Sub(applied), nil
				}
			}
			return 0, fmt.Errorf("not enforced after 5 s (enforcer error: %v)", enf.Err())
		}
		for range trials {
			t := time.Now()
			src.Set(allow)
			if debug {
				enf.WaitApplied(ctx)
				applied = append(applied, time.Since(t))
			}
			d, err := until(true, t)
			if err != nil {
				return fmt.Errorf("policy added: %w", err)
			}
			opened = append(opened, d)
			time.Sleep(20 * time.Millisecond)
			t = time.Now()
			src.Delete(allow)
			if d, err = until(false, t); err != nil {
				return fmt.Errorf("policy deleted: %w", err)
			}
			closed = append(closed, d)
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(opened)
	slices.Sort(closed)
	if debug {
		slices.Sort(applied)
		fmt.Printf("debug: applied by the enforcer after p50 %s p99 %s\n", pct(applied, 0.5), pct(applied, 0.99))
	}
	if mfs, err := reg.Gather(); err == nil {
		for _, mf := range mfs {
			if mf.GetName() == "podnet_netpol_sync_duration_seconds" {
				h := mf.GetMetric()[0].GetHistogram()
				fmt.Printf("enforcer syncs (compile and transaction, the first included): %d, mean %s\n", h.GetSampleCount(),
					time.Duration(h.GetSampleSum()/float64(h.GetSampleCount())*float64(time.Second)).Round(time.Microsecond))
			}
		}
	}
	fmt.Printf("enforcement latency, policy applied -> connection allowed: p50 %s, p99 %s, max %s (%d trials)\n",
		pct(opened, 0.5), pct(opened, 0.99), opened[len(opened)-1].Round(time.Microsecond), len(opened))
	fmt.Printf("enforcement latency, policy deleted -> connection blocked: p50 %s, p99 %s, max %s\n",
		pct(closed, 0.5), pct(closed, 0.99), closed[len(closed)-1].Round(time.Microsecond))

	// Connection rate: the pair allowed through the full table, against
	// the same path with no table at all, alternated.
	src.Set(allow)
	if err := enf.WaitApplied(ctx); err != nil {
		return err
	}
	cancel()
	<-done
	nft := func(script string) error {
		cmd := exec.Command("ip", "netns", "exec", p+"node", "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("nft: %v: %s", err, out)
		}
		return nil
	}
	saved, err := exec.Command("ip", "netns", "exec", p+"node", "nft", "list", "table", "ip", enforce.Table).Output()
	if err != nil {
		return fmt.Errorf("saving the table: %v", err)
	}
	var with, without []float64
	for range rounds {
		r, err := rate(p+"a", target, conns)
		if err != nil {
			return fmt.Errorf("with the table: %w", err)
		}
		with = append(with, r)
		if err := nft("delete table ip " + enforce.Table); err != nil {
			return err
		}
		if r, err = rate(p+"a", target, conns); err != nil {
			return fmt.Errorf("without the table: %w", err)
		}
		without = append(without, r)
		if err := nft(string(saved)); err != nil {
			return err
		}
	}
	slices.Sort(with)
	slices.Sort(without)
	mw, mo := with[len(with)/2], without[len(without)/2]
	fmt.Printf("connection rate %s -> %s (%d sequential connections, %d rounds each, alternated): 1,000 policies %.0f/s (rounds %s), no table %.0f/s (rounds %s): ratio %.3f (slowdown %.1f%%)\n",
		cli.Key(), srv.Key(), conns, rounds, mw, rates(with), mo, rates(without), mw/mo, 100*(1-mw/mo))
	return nil
}

// rate is sequential connections per second from the namespace to target.
func rate(ns, target string, n int) (float64, error) {
	var took time.Duration
	err := inNetns(ns, func() error {
		t0 := time.Now()
		for range n {
			c, err := net.DialTimeout("tcp", target, 2*time.Second)
			if err != nil {
				return err
			}
			// A reset rather than a FIN: tens of thousands of
			// connections from one address would otherwise pile up in
			// TIME_WAIT and slow later rounds down.
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
		took = time.Since(t0)
		return nil
	})
	return float64(n) / took.Seconds(), err
}

func rates(rs []float64) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = fmt.Sprintf("%.0f", r)
	}
	return strings.Join(s, ", ")
}

func pct(sorted []time.Duration, q float64) string {
	return sorted[int(float64(len(sorted)-1)*q)].Round(time.Microsecond).String()
}
