package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/podnet/podnet/pkg/dns/trace"
	"github.com/podnet/podnet/pkg/lab"
	"github.com/podnet/podnet/pkg/nodeagent"
	"github.com/podnet/podnet/pkg/sandbox"
	"github.com/podnet/podnet/pkg/source"
)

func newDNSTrace(e *env) *cobra.Command {
	var from, qtype, resolvPath, server, domain string
	cmd := &cobra.Command{
		Use:   "trace NAME [--from [NAMESPACE/]POD] [--type A]",
		Short: "Show how a pod resolves a name: its resolv.conf, the ndots decision, each query and its answer",
		Example: `  podnet dns trace interginx --from remote/remotebox
  podnet dns trace api.example.com --from default/frontend --type AAAA
  podnet dns trace web --resolv-conf ./resolv.conf --server 127.0.0.1:5353`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, ok := mdns.StringToType[strings.ToUpper(qtype)]
			if !ok {
				return fmt.Errorf("--type %q is not a DNS record type", qtype)
			}
			if from != "" {
				return e.traceFromPod(cmd, args[0], from, qtype)
			}
			data, err := os.ReadFile(resolvPath)
			if err != nil {
				return err
			}
			found, err := traceLocal(cmd.Context(), e, args[0], t, string(data), server, domain)
			if err != nil {
				return err
			}
			if !found {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the pod to resolve from, as NAMESPACE/POD or POD (in -n's namespace)")
	cmd.Flags().StringVar(&qtype, "type", "A", "the record type to ask for")
	cmd.Flags().StringVar(&resolvPath, "resolv-conf", "/etc/resolv.conf", "without --from: the resolv.conf to follow")
	cmd.Flags().StringVar(&server, "server", "", "without --from: ask this HOST:PORT instead of the resolv.conf nameservers")
	cmd.Flags().StringVar(&domain, "cluster-domain", "", "the cluster domain, to explain negative answers (default: read from the search list)")
	return cmd
}

// traceLocal walks name through resolv.conf text from this process's
// network namespace; it reports whether the name was found.
func traceLocal(ctx context.Context, e *env, name string, qtype uint16, resolvText, server, domain string) (bool, error) {
	r := trace.ParseResolv(resolvText)
	servers := r.Nameservers
	if server != "" {
		servers = []string{server}
	}
	if len(servers) == 0 {
		return false, errors.New("the resolv.conf names no nameserver")
	}
	if domain == "" {
		domain = domainFromSearch(r.Search)
	}
	fmt.Fprintf(e.out, "resolv.conf:\n")
	for _, line := range strings.Split(strings.TrimSpace(resolvText), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			fmt.Fprintf(e.out, "  %s\n", l)
		}
	}
	udp := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
	tcp := &mdns.Client{Net: "tcp", Timeout: 2 * time.Second}
	ex := func(ctx context.Context, m *mdns.Msg) (*mdns.Msg, error) {
		var last error
		// Nameservers in order, as glibc does without "rotate".
		for _, s := range servers {
			addr := s
			if _, _, err := net.SplitHostPort(s); err != nil {
				addr = net.JoinHostPort(s, "53")
			}
			reply, _, err := udp.ExchangeContext(ctx, m, addr)
			if err == nil && reply.Truncated {
				reply, _, err = tcp.ExchangeContext(ctx, m, addr)
			}
			if err == nil {
				return reply, nil
			}
			last = err
		}
		return nil, last
	}
	res := trace.Walk(ctx, name, qtype, r, ex)
	trace.Print(e.out, res, qtype, domain)
	return res.Found >= 0, nil
}

// domainFromSearch finds the cluster domain in a ClusterFirst search list:
// the entry D that also appears as svc.D.
func domainFromSearch(search []string) string {
	for _, s := range search {
		if slices.Contains(search, "svc."+s) {
			return s
		}
	}
	return "cluster.local"
}

// traceFromPod runs the walk inside the pod's network and mount namespaces,
// so it reads the pod's own /etc/resolv.conf and asks what the pod can
// reach; then it adds what only the cluster knows.
func (e *env) traceFromPod(cmd *cobra.Command, name, from, qtype string) error {
	ns, podName := e.ns(), from
	if a, b, ok := strings.Cut(from, "/"); ok {
		ns, podName = a, b
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	o, err := c.Get(cmd.Context(), source.Pod, ns, podName)
	if err != nil {
		return err
	}
	pod := o.(*corev1.Pod)
	sb, alive := sandbox.Load(nodeagent.SandboxDir(lab.NodePodsDir(e.stateDir(), pod.Spec.NodeName), pod))
	if !alive {
		return fmt.Errorf("pod %s/%s has no running sandbox", ns, podName)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.out, "From pod %s/%s (dnsPolicy %s).\n", ns, podName, pod.Spec.DNSPolicy)
	x := exec.CommandContext(cmd.Context(), "nsenter", "--target", strconv.Itoa(sb.PID), "--net", "--mount", "--",
		self, "dns", "trace", name, "--type", qtype, "--resolv-conf", "/etc/resolv.conf")
	x.Stdout, x.Stderr = e.out, e.errw
	err = x.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return err
	}
	if err == nil {
		return nil
	}
	// Not found: say where the name does exist, if it is a Service
	// somewhere else (seed 004: "nslookup interginx" from namespace remote).
	short, _, _ := strings.Cut(strings.TrimSuffix(name, "."), ".")
	var elsewhere []string
	if svcs, err := c.List(cmd.Context(), source.Service); err == nil {
		for _, s := range svcs {
			if s.GetName() == short && s.GetNamespace() != ns {
				elsewhere = append(elsewhere, s.GetNamespace())
			}
		}
	}
	if len(elsewhere) > 0 {
		fmt.Fprintf(e.out, "Service %q exists in namespace(s) %s, not in %q: a short name only searches the pod's own namespace. Use %s.%s or %s.%s.svc.<cluster domain>.\n",
			short, strings.Join(elsewhere, ", "), ns, short, elsewhere[0], short, elsewhere[0])
	}
	return exitError{code: 1}
}
