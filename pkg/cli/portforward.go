package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/podnet/podnet/pkg/lab"
	"github.com/podnet/podnet/pkg/nodeagent"
	"github.com/podnet/podnet/pkg/sandbox"
	"github.com/podnet/podnet/pkg/source"
)

// portPair is one LOCAL:REMOTE argument.
type portPair struct {
	local  int // 0: pick a free port
	remote int
	name   string // a named remote port (service port or container port name)
}

func parsePortPair(arg string) (portPair, error) {
	local, remote, found := strings.Cut(arg, ":")
	if !found {
		if _, err := strconv.Atoi(local); err != nil {
			return portPair{}, fmt.Errorf("error parsing port %q: a named port needs a local port (LOCAL:NAME)", arg)
		}
		remote = local
	}
	var p portPair
	if n, err := strconv.Atoi(remote); err == nil && n > 0 && n < 65536 {
		p.remote = n
	} else if remote != "" && err != nil {
		p.name = remote
	} else {
		return p, fmt.Errorf("error parsing port %q: remote port must be > 0 and < 65536", arg)
	}
	if local == "" {
		return p, nil
	}
	n, err := strconv.Atoi(local)
	if err != nil || n < 0 || n > 65535 {
		return p, fmt.Errorf("error parsing local port %q: must be 0-65535", local)
	}
	if !found && p.name != "" {
		return p, fmt.Errorf("error parsing port %q: a named port needs a local port (LOCAL:NAME)", arg)
	}
	p.local = n
	return p, nil
}

func newPortForward(e *env) *cobra.Command {
	var address string
	cmd := &cobra.Command{
		Use:   "port-forward TYPE/NAME [LOCAL_PORT:]REMOTE_PORT [...]",
		Short: "Forward local ports on this machine's loopback to a pod",
		Long: `Listen on local ports (loopback by default) and carry each TCP connection into
the lab, to a pod: the named pod, or one pod of a service, deployment, replicaset or
statefulset. For a service, REMOTE_PORT is a service port, translated to its target
port on the pod, as kubectl does.`,
		Example: "  podnet port-forward service/test-app 8080:80\n  podnet port-forward pod/web :80",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var pairs []portPair
			for _, a := range args[1:] {
				p, err := parsePortPair(a)
				if err != nil {
					return err
				}
				pairs = append(pairs, p)
			}
			pod, remotes, err := e.forwardTarget(cmd.Context(), args[0], pairs)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return e.forward(ctx, pod, address, pairs, remotes)
		},
	}
	cmd.Flags().StringVar(&address, "address", "localhost", "address to listen on: localhost or an IP of this machine's loopback")
	return cmd
}

// forwardTarget finds the pod behind TYPE/NAME and the pod port each pair
// reaches.
func (e *env) forwardTarget(ctx context.Context, ref string, pairs []portPair) (*corev1.Pod, []int, error) {
	pod, svc, err := e.resolvePod(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	if pod.Status.Phase != corev1.PodRunning {
		return nil, nil, fmt.Errorf("unable to forward port because pod is not running. Current status=%s", pod.Status.Phase)
	}
	var remotes []int
	for _, p := range pairs {
		port, err := podPort(pod, svc, p)
		if err != nil {
			return nil, nil, err
		}
		remotes = append(remotes, port)
	}
	return pod, remotes, nil
}

// resolvePod finds the pod behind POD or TYPE/NAME: the pod itself, or a
// running pod a service, deployment, replicaset or statefulset selects
// (with the service, whose ports map to the pod's).
func (e *env) resolvePod(ctx context.Context, ref string) (*corev1.Pod, *corev1.Service, error) {
	c, err := e.client()
	if err != nil {
		return nil, nil, err
	}
	typ, name, ok := strings.Cut(ref, "/")
	if !ok {
		typ, name = "pod", ref
	}
	kind, err := forwardKind(typ)
	if err != nil {
		return nil, nil, err
	}
	obj, err := c.Get(ctx, kind, e.ns(), name)
	if err != nil {
		return nil, nil, err
	}
	var pod *corev1.Pod
	var svc *corev1.Service
	switch o := obj.(type) {
	case *corev1.Pod:
		pod = o
	case *corev1.Service:
		svc = o
		if len(o.Spec.Selector) == 0 {
			return nil, nil, fmt.Errorf("invalid service '%s': Service is defined without a selector", name)
		}
		pod, err = e.firstRunningPod(ctx, labels.SelectorFromSet(o.Spec.Selector))
	default:
		var sel *metav1.LabelSelector
		switch w := o.(type) {
		case *appsv1.Deployment:
			sel = w.Spec.Selector
		case *appsv1.ReplicaSet:
			sel = w.Spec.Selector
		case *appsv1.StatefulSet:
			sel = w.Spec.Selector
		}
		s, serr := metav1.LabelSelectorAsSelector(sel)
		if serr != nil {
			return nil, nil, serr
		}
		pod, err = e.firstRunningPod(ctx, s)
	}
	if err != nil {
		return nil, nil, err
	}
	return pod, svc, nil
}

func forwardKind(typ string) (source.Kind, error) {
	switch typ {
	case "pod", "pods", "po":
		return source.Pod, nil
	case "service", "services", "svc":
		return source.Service, nil
	case "deployment", "deployments", "deploy":
		return source.Deployment, nil
	case "replicaset", "replicasets", "rs":
		return source.ReplicaSet, nil
	case "statefulset", "statefulsets", "sts":
		return source.StatefulSet, nil
	}
	return "", fmt.Errorf("cannot attach to %s: not implemented", typ)
}

// firstRunningPod picks a running pod the selector matches, preferring
// ready ones and then the oldest, as kubectl's pod chooser does.
func (e *env) firstRunningPod(ctx context.Context, sel labels.Selector) (*corev1.Pod, error) {
	c, _ := e.client()
	objs, err := c.List(ctx, source.Pod)
	if err != nil {
		return nil, err
	}
	var pods []*corev1.Pod
	for _, o := range objs {
		p := o.(*corev1.Pod)
		if p.Namespace == e.ns() && sel.Matches(labels.Set(p.Labels)) && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			pods = append(pods, p)
		}
	}
	if len(pods) == 0 {
		return nil, errors.New("timed out waiting for the condition: no running pod matches")
	}
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		if ra, rb := podReady(a), podReady(b); ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	return pods[0], nil
}

// podPort translates a pair's remote port to the pod's port: through the
// Service's targetPort for services, by container port name for names.
func podPort(pod *corev1.Pod, svc *corev1.Service, p portPair) (int, error) {
	byName := func(name string) (int, bool) {
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == name {
					return int(cp.ContainerPort), true
				}
			}
		}
		return 0, false
	}
	if svc == nil {
		if p.name == "" {
			return p.remote, nil
		}
		if n, ok := byName(p.name); ok {
			return n, nil
		}
		return 0, fmt.Errorf("Pod '%s' does not have a named port '%s'", pod.Name, p.name)
	}
	for _, sp := range svc.Spec.Ports {
		if (p.name != "" && sp.Name != p.name) || (p.name == "" && int(sp.Port) != p.remote) {
			continue
		}
		if sp.TargetPort.IntValue() > 0 {
			return sp.TargetPort.IntValue(), nil
		}
		if sp.TargetPort.StrVal == "" {
			return int(sp.Port), nil
		}
		if n, ok := byName(sp.TargetPort.StrVal); ok {
			return n, nil
		}
		return 0, fmt.Errorf("Pod '%s' does not have a named port '%s'", pod.Name, sp.TargetPort.StrVal)
	}
	want := strconv.Itoa(p.remote)
	if p.name != "" {
		want = p.name
	}
	return 0, fmt.Errorf("Service %s does not have a service port %s", svc.Name, want)
}

// forward listens on each local port and relays connections to the pod's
// port, dialled from inside the pod's network namespace to its loopback, as
// kubelet's port forwarding does.
func (e *env) forward(ctx context.Context, pod *corev1.Pod, address string, pairs []portPair, remotes []int) error {
	sb, alive := sandbox.Load(nodeagent.SandboxDir(lab.NodePodsDir(e.stateDir(), pod.Spec.NodeName), pod))
	if !alive {
		return fmt.Errorf("unable to forward: pod %s has no running sandbox", pod.Name)
	}
	netnsPath := fmt.Sprintf("/proc/%d/ns/net", sb.PID)
	host := address
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		// Listening beyond loopback would open the lab to the host's network.
		return fmt.Errorf("--address %q: only loopback addresses are supported", address)
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i, p := range pairs {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p.local)))
		if err != nil {
			return fmt.Errorf("unable to listen on port %d: %v", p.local, err)
		}
		lns = append(lns, ln)
		fmt.Fprintf(e.out, "Forwarding from %s -> %d\n", ln.Addr(), remotes[i])
	}
	var wg sync.WaitGroup
	for i, ln := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := ln.Addr().(*net.TCPAddr).Port
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(e.out, "Handling connection for %d\n", local)
				go e.relay(conn, netnsPath, remotes[i])
			}
		}()
	}
	<-ctx.Done()
	for _, ln := range lns {
		ln.Close()
	}
	wg.Wait()
	return nil
}

func (e *env) relay(conn net.Conn, netnsPath string, port int) {
	defer conn.Close()
	var upstream net.Conn
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		var err error
		upstream, err = net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
		return err
	})
	if err != nil {
		fmt.Fprintf(e.errw, "E%s portforward: an error occurred forwarding to port %d: %v\n", time.Now().Format("0102 15:04:05"), port, err)
		return
	}
	defer upstream.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(upstream, conn)
	go pipe(conn, upstream)
	<-done
	<-done
}
