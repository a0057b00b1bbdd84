// Command labbench measures the lab's performance targets on a real lab, as
// a user would see them, and prints one line per figure:
//
//	up     podnet up + apply of examples/frontend-backend, until every pod is
//	       Ready and the backend Service answers HTTP from the frontend pod
//	scale  100 pods behind 20 Services, from apply to all Ready; daemon RSS
//	svc    apply of a Service → its ClusterIP answering HTTP from a pod
//
// It needs root, brings up its own lab (default name "bench") under a
// temporary state root and takes it down afterwards. The only traffic it
// sends is from a lab pod's namespace to lab addresses.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netns"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/podnet/podnet/pkg/labapi"
	"github.com/podnet/podnet/pkg/source"
)

type bench struct {
	podnet, lab, stateRoot string
	nodes                  int
	client                 *labapi.Client
}

func main() {
	podnet := flag.String("podnet", "bin/podnet", "the podnet binary")
	labName := flag.String("lab", "bench", "name of the lab the benchmark creates")
	runs := flag.Int("runs", 5, "repetitions (up: whole labs; svc: Services)")
	example := flag.String("example", "examples/frontend-backend", "manifests for the up benchmark")
	nodes := flag.Int("nodes", 1, "nodes of the lab")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: labbench [flags] up|scale|svc")
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "labbench needs root: it brings up a real lab")
		os.Exit(2)
	}
	bin, err := filepath.Abs(*podnet)
	if err != nil {
		fail(err)
	}
	b := &bench{podnet: bin, lab: *labName, nodes: *nodes}
	switch flag.Arg(0) {
	case "up":
		err = b.up(*example, *runs)
	case "scale":
		err = b.scale()
	case "svc":
		err = b.svc(*runs)
	default:
		err = fmt.Errorf("unknown benchmark %q", flag.Arg(0))
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "labbench:", err)
	os.Exit(1)
}

// start brings up a fresh lab under a new state root.
func (b *bench) start() error {
	dir, err := os.MkdirTemp("", "podnet-bench-")
	if err != nil {
		return err
	}
	b.stateRoot = dir
	b.client = labapi.NewClient(filepath.Join(dir, b.lab, "api.sock"))
	return b.cli("up", "--nodes", strconv.Itoa(b.nodes))
}

// stop takes the lab down and removes its state root.
func (b *bench) stop() {
	b.cli("down")
	os.RemoveAll(b.stateRoot)
}

func (b *bench) cli(args ...string) error {
	cmd := exec.Command(b.podnet, append([]string{"--lab", b.lab, "--state-root", b.stateRoot}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("podnet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (b *bench) up(example string, runs int) error {
	var took []time.Duration
	for range runs {
		t0 := time.Now()
		if err := b.start(); err != nil {
			return err
		}
		err := func() error {
			if err := b.cli("apply", "-f", example); err != nil {
				return err
			}
			if err := b.waitReady(30 * time.Second); err != nil {
				return err
			}
			ip, err := b.clusterIP("default", "backend")
			if err != nil {
				return err
			}
			return b.waitHTTP("default", "frontend", ip+":80", 30*time.Second)
		}()
		d := time.Since(t0)
		b.stop()
		if err != nil {
			return err
		}
		took = append(took, d)
	}
	fmt.Printf("up (%d node(s)) + apply %s until Ready and answering: median %s, min %s, max %s (%d runs)\n",
		b.nodes, example, median(took), slices.Min(took).Round(time.Millisecond), slices.Max(took).Round(time.Millisecond), runs)
	return nil
}

func (b *bench) scale() error {
	const services, perService = 20, 5
	if err := b.start(); err != nil {
		return err
	}
	defer b.stop()
	if err := b.waitReady(30 * time.Second); err != nil {
		return err
	}
	base, err := b.status()
	if err != nil {
		return err
	}
	var objs []source.Object
	for i := range services {
		name := fmt.Sprintf("app%02d", i)
		objs = append(objs, deployment(name, perService), service(name))
	}
	t0 := time.Now()
	if _, err := b.client.Apply(context.Background(), objs, false); err != nil {
		return err
	}
	want := base.Pods + services*perService
	for {
		s, err := b.status()
		if err != nil {
			return err
		}
		if s.Pods == want && s.PodsReady == want {
			break
		}
		if time.Since(t0) > 120*time.Second {
			return fmt.Errorf("after 120s: %d of %d pods ready", s.PodsReady, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(t0)
	s, _ := b.status()
	rss, err := rssOf(s.PID)
	if err != nil {
		return err
	}
	fmt.Printf("%d pods behind %d Services, apply to all Ready: %s; daemon RSS %d MiB (%d pods in the lab)\n",
		services*perService, services, took.Round(time.Millisecond), rss>>20, s.Pods)
	return nil
}

func (b *bench) svc(runs int) error {
	if err := b.start(); err != nil {
		return err
	}
	defer b.stop()
	ctx := context.Background()
	client := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "3600"}}}}}
	if _, err := b.client.Apply(ctx, []source.Object{deployment("target", 1), client}, false); err != nil {
		return err
	}
	if err := b.waitReady(30 * time.Second); err != nil {
		return err
	}
	var took []time.Duration
	for i := range runs {
		svc := service(fmt.Sprintf("target%03d", i))
		svc.Spec.Selector = map[string]string{"app": "target"}
		t0 := time.Now()
		if _, err := b.client.Apply(ctx, []source.Object{svc}, false); err != nil {
			return err
		}
		ip, err := b.clusterIP("default", svc.Name)
		if err != nil {
			return err
		}
		if err := b.waitHTTP("default", "client", ip+":80", 10*time.Second); err != nil {
			return err
		}
		took = append(took, time.Since(t0))
	}
	slices.Sort(took)
	fmt.Printf("Service apply to ClusterIP answering from a pod: p50 %s, p99 %s, max %s (%d Services)\n",
		median(took), percentile(took, 0.99), slices.Max(took).Round(100*time.Microsecond), runs)
	return nil
}

func (b *bench) status() (labapi.LabStatus, error) {
	return b.client.Status(context.Background())
}

func (b *bench) waitReady(limit time.Duration) error {
	t0 := time.Now()
	for {
		s, err := b.status()
		if err == nil && s.Pods > 0 && s.Pods == s.PodsReady {
			return nil
		}
		if time.Since(t0) > limit {
			return fmt.Errorf("pods not Ready after %s: %+v %v", limit, s, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *bench) clusterIP(namespace, name string) (string, error) {
	o, err := b.client.Get(context.Background(), source.Service, namespace, name)
	if err != nil {
		return "", err
	}
	return o.(*corev1.Service).Spec.ClusterIP, nil
}

// waitHTTP retries an HTTP GET from inside a pod's network namespace until
// an answer arrives: the packet path a pod's own curl takes.
func (b *bench) waitHTTP(namespace, pod, addr string, limit time.Duration) error {
	path := filepath.Join("/run/netns", "pn-"+b.lab+"-"+namespace+"."+pod)
	t0 := time.Now()
	var err error
	for time.Since(t0) < limit {
		if err = httpGetIn(path, addr); err == nil {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("%s from pod %s/%s: %v", addr, namespace, pod, err)
}

func httpGetIn(nsPath, addr string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromPath(nsPath)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return err
	}
	// The socket belongs to the namespace it was created in; the thread can
	// go back at once. A ClusterIP with no rules yet drops the SYN, so a
	// short timeout keeps the measurement's resolution at a few ms.
	conn, dialErr := net.DialTimeout("tcp", addr, 5*time.Millisecond)
	if err := netns.Set(orig); err != nil {
		panic(fmt.Sprintf("cannot return to the original network namespace: %v", err))
	}
	if dialErr != nil {
		return dialErr
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\nHost: bench\r\n\r\n"); err != nil {
		return err
	}
	line := make([]byte, 12)
	if _, err := io.ReadFull(conn, line); err != nil {
		return err
	}
	if !strings.HasPrefix(string(line), "HTTP/1.1 200") {
		return fmt.Errorf("answer %q", line)
	}
	return nil
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx",
					Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}},
			},
		},
	}
}

func service(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}}},
	}
}

func rssOf(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted)-1) * p)
	return sorted[i].Round(100 * time.Microsecond)
}
