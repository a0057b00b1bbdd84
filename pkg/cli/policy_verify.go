package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/podnet/podnet/pkg/lab"
	"github.com/podnet/podnet/pkg/netpol"
	"github.com/podnet/podnet/pkg/nodeagent"
	"github.com/podnet/podnet/pkg/sandbox"
	"github.com/podnet/podnet/pkg/source"
)

// Probe outcomes. A TCP connection that is refused still crossed every
// policy (the destination's kernel answered), so it counts as reached;
// policy drops packets, which shows as a timeout.
const (
	probeReached      = "reached"
	probeBlocked      = "blocked"
	probeInconclusive = "inconclusive" // UDP without any answer: a silent server or a drop
	probeSkipped      = "skipped"      // e.g. SCTP on a kernel without SCTP sockets
)

// probeResult is one real probe next to the model's verdict.
type probeResult struct {
	netpol.Cell
	Probe    string `json:"probe"`
	Detail   string `json:"detail,omitempty"`
	Mismatch bool   `json:"mismatch"`
}

func newPolicyVerify(e *env) *cobra.Command {
	var output, ports string
	var timeout time.Duration
	var workers int
	cmd := &cobra.Command{
		Use:   "verify [--ports 80/TCP] [--timeout 1s]",
		Short: "Probe every pod pair for real in the lab and compare with the model",
		Long: `verify connects from every pod to every other pod on each port of the matrix,
inside the pods' network namespaces, and compares what got through with what
the policy model says. TCP: connected or refused = reached (the packet crossed
every policy), timeout = blocked. UDP: an answer or ICMP port-unreachable =
reached, silence = inconclusive. SCTP probes are skipped where the kernel has
no SCTP sockets. A pod's connections to itself are not probed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pps, err := parsePorts(ports)
			if err != nil {
				return err
			}
			objs, err := e.readObjects(cmd.Context(), nil, false)
			if err != nil {
				return err
			}
			eng, err := netpol.New(netpol.FromObjects(objs))
			if err != nil {
				return err
			}
			netns := map[string]string{}
			for _, o := range objs {
				if p, ok := o.(*corev1.Pod); ok {
					if sb, alive := sandbox.Load(nodeagent.SandboxDir(lab.NodePodsDir(e.stateDir(), p.Spec.NodeName), p)); alive {
						netns[source.Key(p)] = sb.NetnsPath()
					}
				}
			}
			results := probeMatrix(cmd.Context(), eng, eng.Matrix(pps), netns, timeout, workers)
			return writeVerify(e, output, results)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table|json|yaml|csv|md")
	cmd.Flags().StringVar(&ports, "ports", "", "ports to probe (default: the ports each destination pod declares)")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Second, "how long a probe waits before calling a connection blocked")
	cmd.Flags().IntVar(&workers, "parallel", 8, "probes run at once")
	return cmd
}

func probeMatrix(ctx context.Context, eng *netpol.Engine, m *netpol.Matrix, netns map[string]string, timeout time.Duration, workers int) []probeResult {
	sctp := sctpSupported()
	var jobs []int
	results := make([]probeResult, 0, m.Len())
	for c := range m.Cells() {
		i := len(results)
		results = append(results, probeResult{Cell: c})
		if c.From == c.To {
			continue
		}
		switch {
		case c.Protocol == corev1.ProtocolSCTP && !sctp:
			results[i].Probe, results[i].Detail = probeSkipped, "this kernel has no SCTP sockets"
		case netns[c.From] == "":
			results[i].Probe, results[i].Detail = probeSkipped, "source pod has no running sandbox"
		case !eng.Cluster.Pod(c.To).IP.IsValid():
			results[i].Probe, results[i].Detail = probeSkipped, "destination pod has no IP"
		default:
			jobs = append(jobs, i)
		}
	}
	ch := make(chan int)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				r := &results[i]
				dst := eng.Cluster.Pod(r.To).IP
				r.Probe, r.Detail = probe(netns[r.From], dst, r.Port, r.Protocol, timeout)
				r.Mismatch = (r.Probe == probeReached) != r.Allowed && r.Probe != probeInconclusive
			}
		}()
	}
	for _, i := range jobs {
		select {
		case ch <- i:
		case <-ctx.Done():
		}
	}
	close(ch)
	wg.Wait()
	out := results[:0]
	for _, r := range results {
		if r.From != r.To {
			out = append(out, r)
		}
	}
	return out
}

// probe connects from inside the network namespace at netnsPath.
func probe(netnsPath string, ip netip.Addr, port int32, proto corev1.Protocol, timeout time.Duration) (outcome, detail string) {
	target := net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		switch proto {
		case corev1.ProtocolUDP:
			outcome, detail = probeUDP(target, timeout)
		case corev1.ProtocolSCTP:
			outcome, detail = probeSkipped, "SCTP probes are not implemented"
		default:
			outcome, detail = probeTCP(target, timeout)
		}
		return nil
	})
	if err != nil {
		return probeSkipped, err.Error()
	}
	return outcome, detail
}

func probeTCP(target string, timeout time.Duration) (string, string) {
	conn, err := net.DialTimeout("tcp", target, timeout)
	switch {
	case err == nil:
		conn.Close()
		return probeReached, "connected"
	case errors.Is(err, syscall.ECONNREFUSED):
		return probeReached, "refused (nothing listening)"
	}
	return probeBlocked, err.Error()
}

func probeUDP(target string, timeout time.Duration) (string, string) {
	conn, err := net.DialTimeout("udp", target, timeout)
	if err != nil {
		return probeSkipped, err.Error()
	}
	defer conn.Close()
	buf := make([]byte, 512)
	// Two datagrams: the error of the first arrives as the ICMP answer. Each
	// gets half the timeout: with one deadline for both, a silent first
	// round used it all up and the second write failed with a timeout,
	// which read as "skipped" instead of "inconclusive".
	for range 2 {
		conn.SetDeadline(time.Now().Add(timeout / 2))
		if _, err := conn.Write([]byte("podnet-probe\n")); err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				return probeReached, "port unreachable (nothing listening)"
			}
			return probeSkipped, err.Error()
		}
		_, err := conn.Read(buf)
		switch {
		case err == nil:
			return probeReached, "answered"
		case errors.Is(err, syscall.ECONNREFUSED):
			return probeReached, "port unreachable (nothing listening)"
		}
	}
	return probeInconclusive, "no answer"
}

// sctpSupported: this kind of machine's kernel has no SCTP sockets.
func sctpSupported() bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, syscall.IPPROTO_SCTP)
	if err != nil {
		return false
	}
	syscall.Close(fd)
	return true
}

func writeVerify(e *env, format string, rs []probeResult) error {
	var mismatches, matched, inconclusive, skipped int
	var rows [][]string
	for _, r := range rs {
		switch {
		case r.Mismatch:
			mismatches++
		case r.Probe == probeInconclusive:
			inconclusive++
		case r.Probe == probeSkipped:
			skipped++
		default:
			matched++
		}
		if r.Mismatch || format != "table" {
			model := "denied"
			if r.Allowed {
				model = "allowed"
			}
			rows = append(rows, []string{r.From, r.To, fmt.Sprintf("%d/%s", r.Port, r.Protocol), model, r.Probe, r.Detail, strconv.FormatBool(r.Mismatch)})
		}
	}
	if ok, err := writeData(e.out, format, rs); ok {
		if err != nil {
			return err
		}
	} else {
		if format == "table" && len(rows) == 0 {
			fmt.Fprintln(e.out, "No mismatches.")
		} else if err := writeRows(e.out, format, []string{"from", "to", "port", "model", "probe", "detail", "mismatch"}, rows); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.errw, "%d probes: %d match the model, %d mismatches, %d inconclusive, %d skipped\n",
		len(rs), matched, mismatches, inconclusive, skipped)
	if mismatches > 0 {
		return exitError{code: 1}
	}
	return nil
}
