package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/podnet/podnet/pkg/lab"
	"github.com/podnet/podnet/pkg/labapi"
	"github.com/podnet/podnet/pkg/sandbox"
	"github.com/podnet/podnet/pkg/source"
)

func daemonPID(stateDir string) int {
	data, err := os.ReadFile(filepath.Join(stateDir, "daemon.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if pid <= 0 || !procAlive(pid) || !isLabDaemon(pid, stateDir) {
		return 0
	}
	return pid
}

// isLabDaemon checks that pid runs this lab's daemon, so a stale pid file
// whose number was reused never gets another process killed.
func isLabDaemon(pid int, stateDir string) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
	var daemon bool
	var lab, root string
	for i, a := range args {
		switch {
		case a == "daemon":
			daemon = true
		case a == "--lab" && i+1 < len(args):
			lab = args[i+1]
		case a == "--state-root" && i+1 < len(args):
			root = args[i+1]
		}
	}
	return daemon && lab != "" && filepath.Join(root, lab) == filepath.Clean(stateDir)
}

// procAlive is false for a missing process and for a zombie (a daemon whose
// parent, `podnet up`, is gone may wait to be reaped by init).
func procAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z' && s[i+2] != 'X'
}

func newUp(e *env) *cobra.Command {
	var timeout time.Duration
	var nodes int
	var clusterDomain string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bring up a lab: a node, the pod network, the service proxy and cluster DNS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return errors.New("podnet up needs root: it creates network namespaces, links and nftables rules")
			}
			if errs := validation.IsDNS1123Subdomain(clusterDomain); len(errs) > 0 {
				return fmt.Errorf("invalid value %q for --cluster-domain: %s", clusterDomain, strings.Join(errs, "; "))
			}
			start := time.Now()
			c := labapi.NewClient(lab.SocketPath(e.stateDir()))
			if st, err := c.Status(cmd.Context()); err == nil {
				return fmt.Errorf("lab %q is already running (daemon pid %d); use it, or take it down with: podnet down", e.labName, st.PID)
			}
			if err := lab.CheckNodes(e.stateDir(), nodes); err != nil {
				return fmt.Errorf("lab %q: %v", e.labName, err)
			}
			verb := "Creating"
			if _, err := os.Stat(filepath.Join(e.stateDir(), "state")); err == nil {
				verb = "Restarting" // the daemon adopts what the lab has
			}
			fmt.Fprintf(e.out, "%s lab %q ...\n", verb, e.labName)
			if err := os.MkdirAll(e.stateDir(), 0o700); err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			logf, err := os.OpenFile(filepath.Join(e.stateDir(), lab.DaemonLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return err
			}
			d := exec.Command(self, "daemon", "--lab", e.labName, "--state-root", e.stateRoot, "--nodes", strconv.Itoa(nodes), "--cluster-domain", clusterDomain)
			d.Stdout, d.Stderr = logf, logf
			d.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			if err := d.Start(); err != nil {
				return err
			}
			// Recorded at once (the daemon records it again when it
			// listens), so a `podnet down` racing the start finds it.
			os.WriteFile(filepath.Join(e.stateDir(), "daemon.pid"), []byte(strconv.Itoa(d.Process.Pid)), 0o644)
			logf.Close()
			exited := make(chan error, 1)
			go func() { exited <- d.Wait() }()
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := waitFor(ctx, exited, func() bool { _, err := c.Status(ctx); return err == nil }); err != nil {
				return fmt.Errorf("the lab daemon did not start: %v (see %s)", err, filepath.Join(e.stateDir(), lab.DaemonLog))
			}
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			for i, name := range st.Nodes {
				fmt.Fprintf(e.out, " ✓ Node %s (%s, pod network %s)\n", name, lab.NodeIP(i), lab.PodCIDR(i))
			}
			fmt.Fprintf(e.out, " ✓ External host %s (podnet exec --external -- CMD)\n", lab.ExternalIP)
			if err := waitFor(ctx, exited, func() bool { return dnsReady(ctx, c) }); err != nil {
				return fmt.Errorf("cluster DNS did not become ready: %v (see %s and `podnet get pods -n kube-system`)", err, filepath.Join(e.stateDir(), lab.DaemonLog))
			}
			fmt.Fprintf(e.out, " ✓ Cluster DNS (kube-dns at %s)\n", lab.ClusterDNSIP)
			fmt.Fprintf(e.out, "Lab %q is up (%.1fs). Try:\n  podnet get pods -A\n  podnet run web --image=nginx --expose --port=80\n  podnet run client --image=busybox -it --rm -- wget -qO- web\nTake it down with: podnet down\n",
				e.labName, time.Since(start).Seconds())
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "wait", 60*time.Second, "how long to wait for the lab to be ready")
	cmd.Flags().IntVar(&nodes, "nodes", 0, "number of nodes of a new lab (default 1); an existing lab keeps its own")
	cmd.Flags().StringVar(&clusterDomain, "cluster-domain", "cluster.local", "the cluster domain (written into the coredns Corefile; pods' resolv.conf follows the Corefile)")
	return cmd
}

// waitFor polls cond until it holds, the context ends, or the daemon exits.
func waitFor(ctx context.Context, exited <-chan error, cond func() bool) error {
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-exited:
			return fmt.Errorf("daemon exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// dnsReady is true once kube-dns has a ready endpoint.
func dnsReady(ctx context.Context, c *labapi.Client) bool {
	slices, err := c.List(ctx, source.EndpointSlice)
	if err != nil {
		return false
	}
	for _, o := range slices {
		s := o.(*discoveryv1.EndpointSlice)
		if s.Namespace != "kube-system" || s.Labels[discoveryv1.LabelServiceName] != "kube-dns" {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				return true
			}
		}
	}
	return false
}

func newDown(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Remove the lab and everything it made (namespaces, links, rules, processes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(e.out, "Deleting lab %q ...\n", e.labName)
			c := labapi.NewClient(lab.SocketPath(e.stateDir()))
			pid := daemonPID(e.stateDir())
			if _, err := c.Status(cmd.Context()); err == nil {
				if err := c.Shutdown(cmd.Context(), true); err != nil {
					return err
				}
				deadline := time.Now().Add(2 * time.Minute)
				for pid != 0 && procAlive(pid) && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if pid != 0 && procAlive(pid) {
					// A teardown that hangs must not leave a daemon running
					// on after its state is gone.
					fmt.Fprintf(e.errw, "warning: the lab daemon (pid %d) did not finish its teardown; stopping it\n", pid)
					syscall.Kill(pid, syscall.SIGKILL)
				}
			} else if pid != 0 {
				// A daemon that does not answer is stopped before cleaning up.
				syscall.Kill(pid, syscall.SIGKILL)
			}
			// Whatever a dead or stuck daemon left is removed by name.
			if err := lab.Cleanup(lab.Config{Name: e.labName, StateDir: e.stateDir()}); err != nil {
				return err
			}
			fmt.Fprintf(e.out, "Lab %q deleted.\n", e.labName)
			return nil
		},
	}
}

func newStatus(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show whether the lab runs, and its size",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.out, "Lab %q is running (daemon pid %d, since %s)\n", st.Name, st.PID, st.Started)
			fmt.Fprintf(e.out, "  state:    %s\n  nodes:    %s\n  pods:     %d (%d ready)\n  services: %d\n",
				st.StateDir, strings.Join(st.Nodes, ", "), st.Pods, st.PodsReady, st.Services)
			return nil
		},
	}
}

func newDaemon(e *env) *cobra.Command {
	var nodes int
	var clusterDomain string
	cmd := &cobra.Command{
		Use:    "daemon",
		Short:  "Run the lab daemon in the foreground (podnet up starts it)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			return lab.Run(ctx, lab.Config{Name: e.labName, StateDir: e.stateDir(), Self: self, Nodes: nodes, Log: log, ClusterDomain: clusterDomain})
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 0, "number of nodes of a new lab")
	cmd.Flags().StringVar(&clusterDomain, "cluster-domain", "cluster.local", "the cluster domain")
	return cmd
}

func newSandboxInit() *cobra.Command {
	var dir, hostname string
	cmd := &cobra.Command{
		Use:    "sandbox-init",
		Short:  "Hold a pod sandbox's namespaces (started by the node agent)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return sandbox.Init(dir, hostname)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the pod's directory")
	cmd.Flags().StringVar(&hostname, "hostname", "", "the pod's hostname")
	return cmd
}

// podReady reports the pod's Ready condition.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
