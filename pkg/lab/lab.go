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

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/apiserver"
	"github.com/podnet/podnet/pkg/cni"
	"github.com/podnet/podnet/pkg/controller"
	"github.com/podnet/podnet/pkg/images"
	"github.com/podnet/podnet/pkg/labapi"
	"github.com/podnet/podnet/pkg/netpol/enforce"
	"github.com/podnet/podnet/pkg/nodeagent"
	"github.com/podnet/podnet/pkg/proxy"
	"github.com/podnet/podnet/pkg/source"
	"github.com/podnet/podnet/pkg/store"
)

// Config describes a lab.
type Config struct {
	Name          string
	StateDir      string // e.g. /var/lib/podnet/<name>
	Self          string // the podnet executable
	ClusterDomain string
	Log           *slog.Logger
}

// Paths of a lab's state directory.
func SocketPath(stateDir string) string { return filepath.Join(stateDir, "api.sock") }
func PodsDir(stateDir string) string    { return filepath.Join(stateDir, "pods") }
func pidPath(stateDir string) string    { return filepath.Join(stateDir, "daemon.pid") }

const serviceCIDR = "10.96.0.0/12"

// NodeName is the lab's first node, named as kind names its control plane.
func NodeName(lab string) string { return lab + "-control-plane" }

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

	topo := Topology{Lab: cfg.Name, ServiceCIDR: serviceCIDR}
	if err := topo.Build(1); err != nil {
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
	node := NodeName(cfg.Name)
	if err := bootstrap(st, api, cfg, node); err != nil {
		return err
	}

	catalog, err := images.NewCatalog(filepath.Join(cfg.StateDir, "images"), cfg.Self)
	if err != nil {
		return err
	}
	network := cni.Network{
		Name: "podnet", Bridge: "cni0", Subnet: netip.MustParsePrefix(PodCIDR(0)),
		BinDir: filepath.Join(cfg.StateDir, "cni", "bin"), ConfDir: filepath.Join(cfg.StateDir, "cni", "net.d"),
		CacheDir: filepath.Join(cfg.StateDir, "cni", "cache"), IPAMDir: filepath.Join(cfg.StateDir, "cni", "ipam"),
	}
	if err := cni.InstallPlugins(network.BinDir, cfg.Self); err != nil {
		return err
	}
	if _, err := network.WriteConfList(); err != nil {
		return err
	}
	nodeNetns := netnsPath(topo.NodeNetns(0))
	runtime, err := cni.NewRuntime(network, nodeNetns)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	nft, err := proxy.NewInNetns(nodeNetns, knftables.IPv4Family, "podnet-proxy")
	if err != nil {
		return err
	}
	proxier := proxy.NewProxier(st, nft, proxy.Config{
		NodeName:     node,
		ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix(serviceCIDR)},
		ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")},
		NodeIPs:      []netip.Addr{netip.MustParseAddr(NodeIP(0))},
		Logger:       log,
	}, reg)
	// NetworkPolicy for this node's pods, in the node's netns.
	netpolEnforcer, err := enforce.New(st, node, nodeNetns, log)
	if err != nil {
		return err
	}
	netpolEnforcer.RegisterMetrics(reg)
	ctrl := controller.NewManager(st, api, controller.Config{Clock: clock.RealClock{}})
	agent := nodeagent.New(st, api, nodeagent.Config{
		Node: node, NodeNetns: nodeNetns, NodeIP: NodeIP(0), PodsDir: PodsDir(cfg.StateDir),
		NetnsPrefix: topo.NetnsPrefix(), Self: cfg.Self, ClusterDNS: ClusterDNSIP, ClusterDomain: cfg.ClusterDomain,
		APIHost: "10.96.0.1", APISocket: SocketPath(cfg.StateDir), Catalog: catalog, Network: runtime,
		Clock: clock.RealClock{}, Log: log,
	})

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
		Status: func() labapi.LabStatus { return status(st, cfg, node, started) },
	})}
	go srv.Serve(ln)

	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	run(proxier.Run)
	run(netpolEnforcer.Run)
	run(ctrl.Run)
	run(agent.Run)
	log.Info("lab running", "lab", cfg.Name, "socket", SocketPath(cfg.StateDir))
	<-ctx.Done()
	wg.Wait()
	if teardown {
		agent.Teardown(context.Background())
		err := topo.Remove(1)
		srv.Close()
		os.RemoveAll(cfg.StateDir)
		return err
	}
	srv.Close()
	os.Remove(pidPath(cfg.StateDir))
	return nil
}

// bootstrap creates the node and the cluster DNS objects on first start.
func bootstrap(st *store.Store, api *apiserver.Server, cfg Config, node string) error {
	if _, ok := st.Get(source.Node, "", node); !ok {
		if _, err := st.Create(nodeObject(cfg.Name, 0, node)); err != nil {
			return err
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

func status(src source.Source, cfg Config, node string, started time.Time) labapi.LabStatus {
	s := labapi.LabStatus{Name: cfg.Name, PID: os.Getpid(), StateDir: cfg.StateDir, Nodes: []string{node},
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
	entries, _ := os.ReadDir(PodsDir(cfg.StateDir))
	var errs []error
	for _, e := range entries {
		parts := strings.Split(e.Name(), "_")
		if len(parts) != 3 {
			continue
		}
		nodeagent.RemovePod(filepath.Join(PodsDir(cfg.StateDir), e.Name()))
	}
	if err := topo.Remove(1); err != nil {
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
