// Package nodeagent is the lab's kubelet: for every pod bound to its node it
// makes a sandbox, attaches it to the pod network through CNI, runs the
// containers as host programs inside it, probes them, and reports status
// (pod IP, readiness) back through the API. It adopts what a previous run
// left (sandboxes and processes outlive the daemon) and removes what no pod
// claims any more.
package nodeagent

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/podnet/podnet/pkg/events"
	"github.com/podnet/podnet/pkg/images"
	"github.com/podnet/podnet/pkg/source"
)

// Network attaches sandboxes to the pod network (CNI ADD/DEL).
type Network interface {
	Add(ctx context.Context, containerID, netnsPath, ifname string, requestIP netip.Addr, podNamespace, podName string) (netip.Addr, error)
	Del(ctx context.Context, containerID, netnsPath, ifname string) error
}

// Config says which node the agent runs and where its pods live.
type Config struct {
	Node          string
	NodeNetns     string // path of the node's network namespace (probes start there)
	NodeIP        string // status.hostIP
	PodsDir       string // one directory per pod
	NetnsPrefix   string // pods' netns names start with it, e.g. "pn-demo-"
	Self          string // the podnet executable
	ClusterDNS    string // 10.96.0.10
	ClusterDomain string // cluster.local
	APIHost       string // the kubernetes Service IP, for KUBERNETES_SERVICE_HOST
	APISocket     string // the lab API, given to DNS pods
	Catalog       *images.Catalog
	Network       Network
	Clock         clock.Clock
	Log           *slog.Logger
	// Events records what kubelet reports about pods (Pulled, Created,
	// Started, BackOff, Unhealthy, Failed); nil records nothing.
	Events *events.Recorder
}

// Agent runs the pods of one node.
type Agent struct {
	cfg Config
	src source.Source
	w   source.Writer

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	wg      sync.WaitGroup
}

// New returns an agent; Run starts it.
func New(src source.Source, w source.Writer, cfg Config) *Agent {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Agent{cfg: cfg, src: src, w: w, workers: map[types.UID]*podWorker{}}
}

// Run handles pods until ctx ends. It leaves pods running when it returns:
// a restarted agent adopts them. Use Teardown to remove them.
func (a *Agent) Run(ctx context.Context) {
	cancel := a.src.Subscribe(func(ev source.Event) {
		if ev.Kind != source.Pod {
			return
		}
		pod := ev.Object.(*corev1.Pod)
		if pod.Spec.NodeName != a.cfg.Node {
			return
		}
		if ev.Type == source.Deleted {
			a.stopWorker(pod.UID)
			return
		}
		a.ensureWorker(ctx, pod)
	})
	defer cancel()
	a.sweep()
	for _, o := range a.src.List(source.Pod) {
		if pod := o.(*corev1.Pod); pod.Spec.NodeName == a.cfg.Node {
			a.ensureWorker(ctx, pod)
		}
	}
	<-ctx.Done()
	cancel() // no new workers from here on
	a.mu.Lock()
	for _, w := range a.workers {
		w.detach()
	}
	a.mu.Unlock()
	a.wg.Wait()
}

func (a *Agent) ensureWorker(ctx context.Context, pod *corev1.Pod) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w, ok := a.workers[pod.UID]; ok {
		w.poke()
		return
	}
	w := newPodWorker(a, pod)
	a.workers[pod.UID] = w
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		w.loop(ctx)
		a.mu.Lock()
		if a.workers[pod.UID] == w {
			delete(a.workers, pod.UID)
		}
		a.mu.Unlock()
	}()
}

func (a *Agent) stopWorker(uid types.UID) {
	a.mu.Lock()
	w, ok := a.workers[uid]
	a.mu.Unlock()
	if ok {
		w.remove()
	}
}

// podDir is <pods>/<namespace>_<name>_<uid>.
func (a *Agent) podDir(pod *corev1.Pod) string {
	return filepath.Join(a.cfg.PodsDir, pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
}

// netnsName names a pod's network namespace after the lab and the pod, so
// `ip netns list` tells whose it is; long names fall back to the pod's UID.
func (a *Agent) netnsName(pod *corev1.Pod) string {
	name := a.cfg.NetnsPrefix + pod.Namespace + "." + pod.Name
	if len(name) > 200 {
		name = a.cfg.NetnsPrefix + string(pod.UID)
	}
	return name
}

// SandboxDir is where the pod's sandbox record lives, for `podnet exec`.
func SandboxDir(podsDir string, pod *corev1.Pod) string {
	return filepath.Join(podsDir, pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
}

// sweep removes pod directories (and their sandboxes, processes and network
// attachments) that no pod of this node claims: pods deleted while the
// daemon was down.
func (a *Agent) sweep() {
	entries, err := os.ReadDir(a.cfg.PodsDir)
	if err != nil {
		return
	}
	live := map[string]bool{}
	for _, o := range a.src.List(source.Pod) {
		pod := o.(*corev1.Pod)
		live[string(pod.UID)] = pod.Spec.NodeName == a.cfg.Node
	}
	for _, e := range entries {
		parts := strings.Split(e.Name(), "_")
		if !e.IsDir() || len(parts) != 3 || live[parts[2]] {
			continue
		}
		a.cfg.Log.Info("removing leftover pod", "dir", e.Name())
		removePodDir(context.Background(), a.cfg.Network, filepath.Join(a.cfg.PodsDir, e.Name()), parts[2], true)
	}
}

// Teardown removes every pod of this node at once (the lab is going down):
// processes are killed without grace.
func (a *Agent) Teardown(ctx context.Context) {
	a.mu.Lock()
	ws := make([]*podWorker, 0, len(a.workers))
	for _, w := range a.workers {
		ws = append(ws, w)
	}
	a.mu.Unlock()
	for _, w := range ws {
		w.kill()
	}
	entries, _ := os.ReadDir(a.cfg.PodsDir)
	var wg sync.WaitGroup
	for _, e := range entries {
		parts := strings.Split(e.Name(), "_")
		if !e.IsDir() || len(parts) != 3 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			removePodDir(ctx, a.cfg.Network, filepath.Join(a.cfg.PodsDir, e.Name()), parts[2], true)
		}()
	}
	wg.Wait()
}

// RemovePod tears down a pod directory left by a daemon that is gone: its
// processes, its sandbox and the directory. The pod network goes with the
// node namespace, so no CNI DEL is needed here.
func RemovePod(dir string) {
	removePodDir(context.Background(), noNetwork{}, dir, "", true)
}

type noNetwork struct{}

func (noNetwork) Add(context.Context, string, string, string, netip.Addr, string, string) (netip.Addr, error) {
	return netip.Addr{}, nil
}
func (noNetwork) Del(context.Context, string, string, string) error { return nil }
