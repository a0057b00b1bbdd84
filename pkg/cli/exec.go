package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/podnet/podnet/pkg/agnhost"
	"github.com/podnet/podnet/pkg/images"
	"github.com/podnet/podnet/pkg/lab"
	"github.com/podnet/podnet/pkg/nodeagent"
	"github.com/podnet/podnet/pkg/sandbox"
	"github.com/podnet/podnet/pkg/source"
)

// pickContainer returns the named container, or the first one (saying so
// when there are several, as kubectl does).
func (e *env) pickContainer(pod *corev1.Pod, name string) (*corev1.Container, error) {
	if name == "" {
		if len(pod.Spec.Containers) > 1 {
			var names []string
			for _, c := range pod.Spec.Containers {
				names = append(names, c.Name)
			}
			fmt.Fprintf(e.errw, "Defaulted container %q out of: %s\n", pod.Spec.Containers[0].Name, strings.Join(names, ", "))
		}
		return &pod.Spec.Containers[0], nil
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i], nil
		}
	}
	return nil, fmt.Errorf("container %s is not valid for pod %s", name, pod.Name)
}

// execInPod runs argv in the pod's namespaces with the container's PATH,
// attached to this process's stdio, and returns its exit code.
func (e *env) execInPod(cmd *cobra.Command, podName, container string, argv []string, stdin, tty bool) (int, error) {
	c, err := e.client()
	if err != nil {
		return 0, err
	}
	o, err := c.Get(cmd.Context(), source.Pod, e.ns(), podName)
	if err != nil {
		return 0, err
	}
	pod := o.(*corev1.Pod)
	ctr, err := e.pickContainer(pod, container)
	if err != nil {
		return 0, err
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, fmt.Errorf("cannot exec into a container in a completed pod; current phase is %s", pod.Status.Phase)
	}
	sb, alive := sandbox.Load(nodeagent.SandboxDir(lab.NodePodsDir(e.stateDir(), pod.Spec.NodeName), pod))
	if !alive {
		return 0, fmt.Errorf("unable to upgrade connection: container not found (%q)", ctr.Name)
	}
	self, _ := os.Executable()
	img, err := images.OpenCatalog(filepath.Join(e.stateDir(), "images"), self).Resolve(ctr.Image)
	if err != nil {
		return 0, err
	}
	prog, err := img.LookPath(argv[0])
	if err != nil {
		return 126, fmt.Errorf("exec failed: unable to start container process: exec: %q: executable file not found in $PATH", argv[0])
	}
	args := append([]string{"--target", strconv.Itoa(sb.PID), "--net", "--uts", "--mount", "--", prog}, argv[1:]...)
	x := exec.CommandContext(cmd.Context(), "nsenter", args...)
	x.Env = []string{img.Env(), "HOSTNAME=" + pod.Name, "HOME=/root"}
	for _, ev := range ctr.Env {
		if ev.ValueFrom == nil {
			x.Env = append(x.Env, ev.Name+"="+ev.Value)
		}
	}
	if tty {
		x.Env = append(x.Env, "TERM=xterm")
	}
	// Files the command writes (wget saves index.html) stay in the
	// container's directory, not in the host's.
	x.Dir = filepath.Join(nodeagent.SandboxDir(lab.NodePodsDir(e.stateDir(), pod.Spec.NodeName), pod), ctr.Name)
	if _, err := os.Stat(x.Dir); err != nil {
		return 0, fmt.Errorf("unable to upgrade connection: container %q in pod %q is not running yet", ctr.Name, pod.Name)
	}
	if stdin {
		x.Stdin = e.in
	}
	x.Stdout, x.Stderr = e.out, e.errw
	return e.runExitCode(x)
}

// runExitCode runs x and returns its exit code, reporting a non-zero one
// as kubectl does.
func (e *env) runExitCode(x *exec.Cmd) (int, error) {
	err := x.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if code < 0 {
			code = 137
		}
		fmt.Fprintf(e.errw, "command terminated with exit code %d\n", code)
		return code, nil
	}
	return 0, err
}

// execExternal runs argv on the lab's external host: a client on the
// underlay network, outside the cluster, with this machine's programs.
func (e *env) execExternal(cmd *cobra.Command, argv []string, stdin bool) (int, error) {
	c, err := e.client()
	if err != nil {
		return 0, err
	}
	if _, err := c.Status(cmd.Context()); err != nil {
		return 0, err
	}
	topo := lab.Topology{Lab: e.labName}
	nsPath := filepath.Join("/run/netns", topo.ExternalNetns())
	if _, err := os.Stat(nsPath); err != nil {
		return 0, fmt.Errorf("lab %q has no external host: %v", e.labName, err)
	}
	dir := filepath.Join(e.stateDir(), "external")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	x := exec.CommandContext(cmd.Context(), "nsenter", append([]string{"--net=" + nsPath, "--"}, argv...)...)
	x.Dir = dir
	if stdin {
		x.Stdin = e.in
	}
	x.Stdout, x.Stderr = e.out, e.errw
	return e.runExitCode(x)
}

func newExec(e *env) *cobra.Command {
	var container string
	var stdin, tty, external bool
	cmd := &cobra.Command{
		Use:   "exec [-it] (POD | --external) [-c CONTAINER] -- COMMAND [ARGS...]",
		Short: "Run a command in a pod's container, or on the lab's external host",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if external {
				if cmd.ArgsLenAtDash() != 0 {
					return errors.New("with --external, give the command after --: podnet exec --external -- COMMAND")
				}
				code, err := e.execExternal(cmd, args, stdin)
				if err == nil && code != 0 {
					err = exitError{code}
				}
				return err
			}
			dash := cmd.ArgsLenAtDash()
			if dash < 0 || dash >= len(args) {
				if len(args) < 2 {
					return errors.New("you must specify at least one command for the container")
				}
				dash = 1
			}
			podName := args[0]
			if t, n, ok := strings.Cut(podName, "/"); ok {
				if t != "pod" && t != "pods" && t != "po" {
					return fmt.Errorf("podnet exec supports pods only, not %q", t)
				}
				podName = n
			}
			code, err := e.execInPod(cmd, podName, container, args[dash:], stdin, tty)
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "container name (default: the first)")
	cmd.Flags().BoolVarP(&stdin, "stdin", "i", false, "pass stdin to the command")
	cmd.Flags().BoolVarP(&tty, "tty", "t", false, "stdin is a TTY")
	cmd.Flags().BoolVar(&external, "external", false, "run the command on the external host (outside the cluster, on the node network)")
	return cmd
}

func newLogs(e *env) *cobra.Command {
	var container, selector string
	var follow, prefix bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs (POD | TYPE/NAME | -l SELECTOR) [-c CONTAINER] [-f]",
		Short: "Print a container's output",
		Args: func(cmd *cobra.Command, args []string) error {
			if selector == "" && len(args) != 1 {
				return errors.New("expected POD or TYPE/NAME, or -l SELECTOR")
			}
			if selector != "" && len(args) > 0 {
				return errors.New("only a selector (-l) or a POD name is allowed")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var pods []*corev1.Pod
			var err error
			if selector != "" {
				// kubectl shows the last 10 lines per pod with a selector.
				if !cmd.Flags().Changed("tail") {
					tail = 10
				}
				pods, err = e.selectPods(cmd.Context(), selector)
			} else {
				var pod *corev1.Pod
				pod, err = e.logsTarget(cmd.Context(), args[0])
				pods = []*corev1.Pod{pod}
			}
			if err != nil {
				return err
			}
			if follow && len(pods) > 1 {
				return errors.New("-f follows one pod; name it instead of selecting several")
			}
			for _, pod := range pods {
				if err := e.podLogs(cmd.Context(), pod, container, tail, follow, prefix); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "container name (default: the first)")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "label selector: print the logs of every matching pod")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream the output")
	cmd.Flags().BoolVar(&prefix, "prefix", false, "prefix each line with [pod/NAME/CONTAINER]")
	cmd.Flags().IntVar(&tail, "tail", -1, "lines of recent output to show (-1: all; 10 per pod with a selector)")
	return cmd
}

// logsTarget is the pod behind POD or TYPE/NAME (for a workload, one of
// its running pods, as kubectl picks one).
func (e *env) logsTarget(ctx context.Context, ref string) (*corev1.Pod, error) {
	pod, _, err := e.resolvePod(ctx, ref)
	return pod, err
}

// selectPods lists the namespace's pods matching a label selector, by name.
func (e *env) selectPods(ctx context.Context, selector string) ([]*corev1.Pod, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Errorf("unable to parse selector %q: %v", selector, err)
	}
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	objs, err := c.List(ctx, source.Pod)
	if err != nil {
		return nil, err
	}
	var pods []*corev1.Pod
	for _, o := range objs {
		if p := o.(*corev1.Pod); p.Namespace == e.ns() && sel.Matches(labels.Set(p.Labels)) {
			pods = append(pods, p)
		}
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("no resources found in %s namespace.", e.ns())
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods, nil
}

func (e *env) podLogs(ctx context.Context, pod *corev1.Pod, container string, tail int, follow, prefix bool) error {
	ctr, err := e.pickContainer(pod, container)
	if err != nil {
		return err
	}
	p := filepath.Join(nodeagent.SandboxDir(lab.NodePodsDir(e.stateDir(), pod.Spec.NodeName), pod), ctr.Name+".log")
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("container %q in pod %q is waiting to start: ContainerCreating", ctr.Name, pod.Name)
	}
	defer f.Close()
	out := e.out
	if prefix {
		pw := &prefixWriter{w: e.out, prefix: fmt.Sprintf("[pod/%s/%s] ", pod.Name, ctr.Name), bol: true}
		out = pw
	}
	if tail >= 0 {
		if err := printTail(f, out, tail); err != nil {
			return err
		}
	} else if _, err := io.Copy(out, f); err != nil {
		return err
	}
	c, _ := e.client()
	for follow {
		if _, err := io.Copy(out, f); err != nil {
			return err
		}
		if _, err := c.Get(ctx, source.Pod, pod.Namespace, pod.Name); err != nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// prefixWriter starts every line with prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	bol    bool // at the beginning of a line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var buf bytes.Buffer
	for _, c := range b {
		if p.bol {
			buf.WriteString(p.prefix)
		}
		buf.WriteByte(c)
		p.bol = c == '\n'
	}
	if _, err := p.w.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

func printTail(r io.Reader, w io.Writer, n int) error {
	var lines []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return sc.Err()
}

// waitPodRunning waits until the pod runs (or fails).
func (e *env) waitPodRunning(cmd *cobra.Command, name string, timeout time.Duration) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	for {
		o, err := c.Get(ctx, source.Pod, e.ns(), name)
		if err == nil {
			pod := o.(*corev1.Pod)
			switch pod.Status.Phase {
			case corev1.PodRunning:
				return nil
			case corev1.PodFailed, corev1.PodSucceeded:
				return fmt.Errorf("pod %s/%s ended: %s", e.ns(), name, pod.Status.Phase)
			}
			for _, cs := range pod.Status.ContainerStatuses {
				if w := cs.State.Waiting; w != nil && w.Reason == "ErrImagePull" {
					return fmt.Errorf("pod %s/%s: %s", e.ns(), name, w.Message)
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for pod %s/%s to run", e.ns(), name)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func newWait(e *env) *cobra.Command {
	var forCond, selector string
	var timeout time.Duration
	var all bool
	cmd := &cobra.Command{
		Use:   "wait (TYPE NAME | TYPE/NAME | TYPE -l SELECTOR | TYPE --all) --for=condition=Ready",
		Short: "Wait for pods to reach a condition",
		RunE: func(cmd *cobra.Command, args []string) error {
			cond, ok := strings.CutPrefix(forCond, "condition=")
			if !ok || !strings.EqualFold(cond, "Ready") {
				return fmt.Errorf("unsupported --for %q: podnet waits for condition=Ready", forCond)
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			for {
				refs, err := e.resolveRefs(cmd, c, args, selector, all)
				if err != nil {
					return err
				}
				pending := ""
				for _, r := range refs {
					if r.kind != source.Pod {
						return fmt.Errorf("podnet wait supports pods, not %s", r.kind)
					}
					o, err := c.Get(ctx, source.Pod, r.namespace, r.name)
					if err != nil || !podReady(o.(*corev1.Pod)) {
						pending = r.name
						break
					}
				}
				if pending == "" && len(refs) > 0 {
					for _, r := range refs {
						fmt.Fprintf(e.out, "pod/%s condition met\n", r.name)
					}
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("timed out waiting for the condition on pods/%s", pending)
				case <-time.After(50 * time.Millisecond):
				}
			}
		},
	}
	cmd.Flags().StringVar(&forCond, "for", "", "the condition to wait for: condition=Ready")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "label selector")
	cmd.Flags().BoolVar(&all, "all", false, "all pods in the namespace")
	cmd.Flags().BoolVarP(&e.allNS, "all-namespaces", "A", false, "with --all or -l: across all namespaces")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait")
	return cmd
}

// newAgnhost runs the e2e test image's program on this machine (the
// agnhost image runs the same code inside pods).
func newAgnhost(e *env) *cobra.Command {
	return &cobra.Command{
		Use:                "agnhost SUBCOMMAND [FLAGS]",
		Short:              "Test servers and probes: netexec, serve-hostname, connect, pause (as the agnhost image)",
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if code := agnhost.Main(args, e.out, e.errw); code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
}
