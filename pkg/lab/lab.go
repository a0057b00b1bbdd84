// Package lab runs a podnet lab: the daemon that holds cluster state and runs
// the controllers, the node agent, the service proxy and the API, on a
// topology of network namespaces that carry the lab's name.
package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"

	"github.com/podnet/podnet/pkg/apiserver"
	"github.com/podnet/podnet/pkg/cni"
	"github.com/podnet/podnet/pkg/controller"
	"github.com/podnet/podnet/pkg/events"
	"github.com/podnet/podnet/pkg/images"
	"github.com/podnet/podnet/pkg/labapi"
	"github.com/podnet/podnet/pkg/nodeagent"
	"github.com/podnet/podnet/pkg/source"
	"github.com/podnet/podnet/pkg/store"
)

// Config describes a lab.
type Config struct {
	Name          string
	StateDir      string // e.g. /var/lib/podnet/<name>
	Self          string // the podnet executable
	ClusterDomain string
	// Nodes is how many nodes a new lab gets (default 1); a lab that
	// exists keeps the number it was made with (see shape).
	Nodes int
	Log   *slog.Logger
}

// DaemonLog is the daemon's log file in the state directory, written by `up`.
const DaemonLog = "daemon.log"

// Paths of a lab's state directory.
func SocketPath(stateDir string) string { return filepath.Join(stateDir, "api.sock") }
func PodsDir(stateDir string) string    { return filepath.Join(stateDir, "pods") }
func pidPath(stateDir string) string    { return filepath.Join(stateDir, "daemon.pid") }

const (
	serviceCIDR = "10.96.0.0/12"
	clusterCIDR = "10.244.0.0/16" // every node's pod range is a /24 of it
)

// NodeName is node i's name, as kind names them: <lab>-control-plane,
// <lab>-worker, <lab>-worker2, ...
func NodeName(lab string, i int) string {
	switch i {
	case 0:
		return lab + "-control-plane"
	case 1:
		return lab + "-worker"
	}
	return fmt.Sprintf("%s-worker%d", lab, i)
}

// Run is the daemon: it builds or adopts the lab and serves until ctx ends
// or a client asks it to shut down. With a teardown request it removes
// everything the lab made before returning.
func Run(ctx context.Context, cfg Config) error {
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := os.MkdirAll(PodsDir(cfg.StateDir), 0o700); err != nil {
		return err
	}
	ln, err := labapi.Listen(SocketPath(cfg.StateDir))
	if err != nil {
		return err
	}
	defer ln.Close()
	os.WriteFile(pidPath(cfg.StateDir), []byte(strconv.Itoa(os.Getpid())), 0o644)
	serving := false
	defer func() {
		if !serving { // a failed start leaves no pid file behind
			os.Remove(pidPath(cfg.StateDir))
		}
	}()

	// A new lab has neither a recorded shape nor stored objects.
	_, shapeErr := readShape(cfg.StateDir)
	_, stateErr := os.Stat(filepath.Join(cfg.StateDir, "state"))
	fresh := errors.Is(shapeErr, os.ErrNotExist) && errors.Is(stateErr, os.ErrNotExist)
	sh, err := loadShape(cfg.StateDir, cfg.Nodes)
	if err != nil {
		return err
	}
	topo := Topology{Lab: cfg.Name, ServiceCIDR: serviceCIDR}
	var nodes []*nodeParts
	defer func() {
		if serving {
			return
		}
		for _, n := range nodes {
			n.close()
		}
		// A new lab that failed to start leaves nothing behind but its log,
		// so the next `up` starts clean (with any node count). An existing
		// lab keeps its namespaces: its pods live in them.
		if fresh {
			topo.Remove(sh.Nodes)
			entries, _ := os.ReadDir(cfg.StateDir)
			for _, e := range entries {
				if e.Name() != DaemonLog && e.Name() != filepath.Base(SocketPath(cfg.StateDir)) {
					os.RemoveAll(filepath.Join(cfg.StateDir, e.Name()))
				}
			}
		}
	}()
	if err := topo.Build(sh.Nodes); err != nil {
		return fmt.Errorf("building the lab network: %w", err)
	}
	st, err := store.New(filepath.Join(cfg.StateDir, "state"), clock.RealClock{})
	if err != nil {
		return err
	}
	api, err := apiserver.New(st, apiserver.Config{ServiceCIDR: netip.MustParsePrefix(serviceCIDR)})
	if err != nil {
		return err
	}
	if err := bootstrap(st, api, cfg, sh.Nodes); err != nil {
		return err
	}
	catalog, err := images.NewCatalog(filepath.Join(cfg.StateDir, "images"), cfg.Self)
	if err != nil {
		return err
	}
	if err := cni.InstallPlugins(filepath.Join(cfg.StateDir, "cni", "bin"), cfg.Self); err != nil {
		return err
	}
	for i := range sh.Nodes {
		n, err := newNodeParts(cfg, topo, i, st, api, catalog, log)
		if err != nil {
			return fmt.Errorf("node %s: %w", NodeName(cfg.Name, i), err)
		}
		nodes = append(nodes, n)
	}
	ctrl := controller.NewManager(st, api, controller.Config{Clock: clock.RealClock{}})
	lbs := &loadBalancers{src: st, w: api, pool: netip.MustParsePrefix(LoadBalancerPool),
		events: events.New(st, api, "service-controller", "", clock.RealClock{})}
	routes := &lbRoutes{src: st, netns: netnsPath(topo.ExternalNetns()), nodeIPs: map[string]string{}, log: log}
	for i := range sh.Nodes {
		routes.nodeIPs[NodeName(cfg.Name, i)] = NodeIP(i)
	}

	started := time.Now()
	var teardown bool
	var once sync.Once
	shutdown := func(td bool) {
		once.Do(func() {
			teardown = td
			cancel()
		})
	}
	srv := &http.Server{Handler: labapi.Handler(labapi.Backend{
		Source: st, API: api, Shutdown: shutdown,
		Status: func() labapi.LabStatus { return status(st, cfg, sh.Nodes, started) },
	})}
	go srv.Serve(ln)
	serving = true

	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	run(ctrl.Run)
	run(lbs.Run)
	run(routes.Run)
	run(func(ctx context.Context) { events.Collect(ctx, st, api, clock.RealClock{}, time.Minute) })
	for _, n := range nodes {
		run(n.proxier.Run)
		run(n.enforcer.Run)
		run(n.agent.Run)
		run(n.serveProxyHTTP)
		run(n.health.Run)
	}
	log.Info("lab running", "lab", cfg.Name, "nodes", sh.Nodes, "socket", SocketPath(cfg.StateDir))
	<-ctx.Done()
	wg.Wait()
	if teardown {
		var tw sync.WaitGroup
		for _, n := range nodes {
			tw.Add(1)
			go func() { defer tw.Done(); n.agent.Teardown(context.Background()) }()
		}
		tw.Wait()
		err := topo.Remove(sh.Nodes)
		srv.Close()
		os.RemoveAll(cfg.StateDir)
		return err
	}
	srv.Close()
	os.Remove(pidPath(cfg.StateDir))
	return nil
}

// bootstrap creates the nodes and the cluster DNS objects on first start.
func bootstrap(st *store.Store, api *apiserver.Server, cfg Config, nodes int) error {
	for i := range nodes {
		name := NodeName(cfg.Name, i)
		if _, ok := st.Get(source.Node, "", name); !ok {
			if _, err := st.Create(nodeObject(cfg.Name, i, name)); err != nil {
				return err
			}
		}
	}
	var missing []source.Object
	for _, o := range dnsObjects(cfg.ClusterDomain) {
		k, _ := source.KindOf(o)
		if _, ok := st.Get(k, o.GetNamespace(), o.GetName()); !ok {
			missing = append(missing, o)
		}
	}
	if len(missing) > 0 {
		if _, err := api.Apply(missing, false); err != nil {
			return fmt.Errorf("creating cluster DNS: %w", err)
		}
	}
	return nil
}

func status(src source.Source, cfg Config, nodes int, started time.Time) labapi.LabStatus {
	var names []string
	for i := range nodes {
		names = append(names, NodeName(cfg.Name, i))
	}
	s := labapi.LabStatus{Name: cfg.Name, PID: os.Getpid(), StateDir: cfg.StateDir, Nodes: names,
		Services: len(src.List(source.Service)), Started: started.Format(time.RFC3339)}
	for _, o := range src.List(source.Pod) {
		s.Pods++
		for _, c := range o.(*corev1.Pod).Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				s.PodsReady++
			}
		}
	}
	return s
}

// Cleanup removes what a lab whose daemon is gone left behind: its pods'
// processes, sandboxes and network attachments, its namespaces and its state
// directory. Everything is found by the lab's own records and names.
func Cleanup(cfg Config) error {
	topo := Topology{Lab: cfg.Name, ServiceCIDR: serviceCIDR}
	// A lab whose record is gone is removed as if it had every node it can
	// have; missing namespaces are skipped.
	nodes := MaxNodes
	if sh, err := readShape(cfg.StateDir); err == nil {
		nodes = sh.Nodes
	}
	var errs []error
	nodeDirs, _ := os.ReadDir(PodsDir(cfg.StateDir))
	for _, nd := range nodeDirs {
		dir := filepath.Join(PodsDir(cfg.StateDir), nd.Name())
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if parts := strings.Split(e.Name(), "_"); len(parts) == 3 {
				nodeagent.RemovePod(filepath.Join(dir, e.Name()))
			}
		}
	}
	if err := topo.Remove(nodes); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(cfg.StateDir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func kernelVersion() string {
	data, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(data))
}
