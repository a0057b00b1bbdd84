// Command proxysync measures the service proxy's control plane against a
// real kernel: a full sync of N Services × E endpoints into an empty table,
// then a partial sync after one Service's endpoints change (that Service
// recompiled alone, as the Proxier does), in a
// network namespace it creates (pnbench-<pid>) and deletes. It prints the
// times, the ruleset's size as `nft list ruleset` prints it, and memory.
//
//	sudo go run ./bench/proxysync -services 10000 -endpoints 10
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/nftns"
	"github.com/podnet/podnet/pkg/proxy"
)

func main() {
	services := flag.Int("services", 10000, "Services")
	endpoints := flag.Int("endpoints", 10, "endpoints per Service")
	partials := flag.Int("partials", 5, "partial syncs to time (the median is printed)")
	change := flag.String("change", "replace", "what changes in a partial sync: replace (one endpoint replaced) or add (one endpoint added)")
	nftOnly := flag.Bool("nft-only", false, "send partial syncs through nft too, not over netlink")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the syncs to this file")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "proxysync needs root: it programs nftables in a network namespace it creates")
		os.Exit(2)
	}
	name := fmt.Sprintf("pnbench-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "ip netns add: %v: %s\n", err, out)
		os.Exit(1)
	}
	defer exec.Command("ip", "netns", "delete", name).Run()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "proxysync:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(name, *services, *endpoints, max(*partials, 1), *change, !*nftOnly); err != nil {
		fmt.Fprintln(os.Stderr, "proxysync:", err)
		exec.Command("ip", "netns", "delete", name).Run()
		os.Exit(1)
	}
}

func run(netns string, n, e, partials int, change string, useNetlink bool) error {
	ctx := context.Background()
	nft, err := nftns.New("/run/netns/"+netns, knftables.IPv4Family, "podnet-proxy")
	if err != nil {
		return err
	}
	conn, err := nftns.NewNetlink("/run/netns/" + netns)
	if err != nil {
		return err
	}
	timed := &timedNFT{Interface: nft}
	applier := proxy.NewApplier(timed, nil)
	if useNetlink {
		applier.SetNetlink(&proxy.Netlink{Table: "podnet-proxy", Conn: conn})
	}
	in := inputs(n, e)
	in.Slots = proxy.NewSlots() // kept across syncs, as the Proxier keeps one

	t0 := time.Now()
	rs := proxy.Compile(in)
	compiled := time.Since(t0)
	if err := applier.Apply(ctx, rs); err != nil {
		return fmt.Errorf("full sync: %w", err)
	}
	full := time.Since(t0)
	fullNFT := timed.take()

	// One Service's endpoints change: a new endpoint replaces one. As in
	// the Proxier, only that Service is recompiled (partial sync). Each
	// round changes another Service; the median is reported.
	var times, compiles, nfts []time.Duration
	for round := range partials {
		s := in.EndpointSlices[(n/2+round*7919)%n]
		addr := fmt.Sprintf("10.200.%d.%d", round/250, round%250+1)
		if change == "add" {
			ep := s.Endpoints[0]
			ep.Addresses = []string{addr}
			s.Endpoints = append(s.Endpoints, ep)
		} else {
			s.Endpoints[0].Addresses = []string{addr}
		}
		t1 := time.Now()
		changed := proxy.CompileServices(in, map[string]bool{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]: true})
		compiles = append(compiles, time.Since(t1))
		if err := applier.ApplyServices(ctx, changed); err != nil {
			return fmt.Errorf("incremental sync: %w", err)
		}
		times = append(times, time.Since(t1))
		nfts = append(nfts, timed.take())
	}
	incremental, incCompiled, incNFT := median(times), median(compiles), median(nfts)

	out, err := exec.Command("ip", "netns", "exec", netns, "nft", "list", "ruleset").Output()
	if err != nil {
		return fmt.Errorf("nft list ruleset: %w", err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	fmt.Printf("%d Services x %d endpoints: full sync %s (compile %s, nft %s), one Service changed (%s) %s (median of %d; compile %s, nft %s; netlink %v); ruleset %d lines; heap %d MiB, max RSS %d MiB (nft %d MiB)\n",
		n, e, full.Round(time.Millisecond), compiled.Round(time.Millisecond), fullNFT.Round(time.Millisecond),
		change, incremental.Round(time.Millisecond), partials, incCompiled.Round(time.Millisecond), incNFT.Round(time.Millisecond), useNetlink,
		strings.Count(string(out), "\n"), ms.HeapAlloc>>20, ru.Maxrss>>10, children.Maxrss>>10)
	return nil
}

// inputs builds n ClusterIP Services with e ready endpoints each, every
// address distinct.
func inputs(n, e int) proxy.Inputs {
	in := proxy.Inputs{
		NodeName:     "node-0",
		ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/12")},
		ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.128.0.0/9")},
	}
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		cip := fmt.Sprintf("10.%d.%d.%d", 96+i/62500, (i/250)%250, i%250+1)
		in.Services = append(in.Services, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: name},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: cip, ClusterIPs: []string{cip},
				Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}}},
		})
		sl := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "bench", Name: name + "-a", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](8080)}},
		}
		for j := range e {
			k := i*e + j
			sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
				Addresses:  []string{fmt.Sprintf("10.%d.%d.%d", 128+k/62500, (k/250)%250, k%250+1)},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
				NodeName:   ptr.To("node-0"),
			})
		}
		in.EndpointSlices = append(in.EndpointSlices, sl)
	}
	return in
}

// timedNFT adds up the time spent in the kernel interface (listing and
// running transactions), so the output can tell it from compiling and diffing.
type timedNFT struct {
	knftables.Interface
	spent time.Duration
}

func (t *timedNFT) Run(ctx context.Context, tx *knftables.Transaction) error {
	start := time.Now()
	defer func() { t.spent += time.Since(start) }()
	return t.Interface.Run(ctx, tx)
}

func (t *timedNFT) ListAll(ctx context.Context) (map[string][]string, error) {
	start := time.Now()
	defer func() { t.spent += time.Since(start) }()
	return t.Interface.ListAll(ctx)
}

// scriptRunner is what nftns offers beyond knftables.Interface; the proxy
// uses it for full syncs, so the wrapper must pass it on.
type scriptRunner interface {
	RunScript(ctx context.Context, script []byte) error
	Table() (knftables.Family, string)
}

func (t *timedNFT) RunScript(ctx context.Context, script []byte) error {
	start := time.Now()
	defer func() { t.spent += time.Since(start) }()
	return t.Interface.(scriptRunner).RunScript(ctx, script)
}

func (t *timedNFT) Table() (knftables.Family, string) { return t.Interface.(scriptRunner).Table() }

// take returns the time spent since the last call.
func (t *timedNFT) take() time.Duration {
	d := t.spent
	t.spent = 0
	return d
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
