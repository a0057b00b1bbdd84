package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/utils/clock"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/apiserver"
	"github.com/podnet/podnet/pkg/cni"
	"github.com/podnet/podnet/pkg/events"
	"github.com/podnet/podnet/pkg/images"
	"github.com/podnet/podnet/pkg/netpol/enforce"
	"github.com/podnet/podnet/pkg/nftns"
	"github.com/podnet/podnet/pkg/nodeagent"
	"github.com/podnet/podnet/pkg/proxy"
	"github.com/podnet/podnet/pkg/proxy/healthcheck"
	"github.com/podnet/podnet/pkg/store"
)

// shape is what a lab was made with and keeps across daemon restarts.
type shape struct {
	Nodes int `json:"nodes"`
}

func shapePath(stateDir string) string { return filepath.Join(stateDir, "lab.json") }

func readShape(stateDir string) (shape, error) {
	var sh shape
	data, err := os.ReadFile(shapePath(stateDir))
	if err != nil {
		return sh, err
	}
	if err := json.Unmarshal(data, &sh); err != nil {
		return sh, fmt.Errorf("%s: %w", shapePath(stateDir), err)
	}
	if sh.Nodes < 1 || sh.Nodes > MaxNodes {
		return sh, fmt.Errorf("%s: nodes %d out of range", shapePath(stateDir), sh.Nodes)
	}
	return sh, nil
}

// CheckNodes says whether a lab whose state is in stateDir can come up with
// the requested number of nodes (0: whatever it has).
func CheckNodes(stateDir string, nodes int) error {
	if nodes < 0 || nodes > MaxNodes {
		return fmt.Errorf("--nodes must be between 1 and %d", MaxNodes)
	}
	sh, err := readShape(stateDir)
	if err != nil || nodes == 0 || nodes == sh.Nodes {
		return nil
	}
	return fmt.Errorf("this lab was made with %d node(s); take it down first to change that", sh.Nodes)
}

// loadShape returns the recorded shape of an existing lab, or records the
// requested one for a new lab. A lab cannot change its node count: its
// Node objects, pod ranges and routes are made for it.
func loadShape(stateDir string, nodes int) (shape, error) {
	if err := CheckNodes(stateDir, nodes); err != nil {
		return shape{}, err
	}
	sh, err := readShape(stateDir)
	if err == nil {
		return sh, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return sh, err
	}
	if nodes == 0 {
		nodes = 1
	}
	sh = shape{Nodes: nodes}
	data, _ := json.Marshal(sh)
	return sh, os.WriteFile(shapePath(stateDir), data, 0o600)
}

// NodePodsDir holds the pod directories of one node.
func NodePodsDir(stateDir, node string) string { return filepath.Join(PodsDir(stateDir), node) }

// nodeParts is what runs for one node: its kubelet (node agent) and its
// service proxy, each bound to the node's network namespace.
type nodeParts struct {
	agent    *nodeagent.Agent
	proxier  *proxy.Proxier
	enforcer *enforce.Enforcer // NetworkPolicy for this node's pods
	// health answers LoadBalancer health checks on healthCheckNodePorts.
	health *healthcheck.Server
	// proxyHTTP serves the proxy's metrics (:10249) and health (:10256) on
	// the node IP, inside the node's namespace, as kube-proxy does on a node.
	proxyHTTP []net.Listener
	reg       *prometheus.Registry
}

const (
	proxyMetricsPort = 10249
	proxyHealthzPort = 10256
)

// listenIn opens a TCP listener in a network namespace: the socket belongs
// to the namespace it was made in, whatever thread later serves it.
func listenIn(netnsPath, addr string) (net.Listener, error) {
	var ln net.Listener
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	return ln, err
}

// close releases what newNodeParts opened, for a start that fails later.
func (n *nodeParts) close() {
	for _, ln := range n.proxyHTTP {
		ln.Close()
	}
}

// serveProxyHTTP answers /metrics and /healthz until ctx ends. Healthy
// means the proxy has programmed the node at least once.
func (n *nodeParts) serveProxyHTTP(ctx context.Context) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-n.proxier.Synced():
			fmt.Fprintln(w, "ok")
		default:
			http.Error(w, "the service proxy has not programmed this node yet", http.StatusServiceUnavailable)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	for _, ln := range n.proxyHTTP {
		go srv.Serve(ln)
	}
	<-ctx.Done()
	srv.Close()
}

func newNodeParts(cfg Config, topo Topology, i int, st *store.Store, api *apiserver.Server, catalog *images.Catalog, log *slog.Logger) (*nodeParts, error) {
	name := NodeName(cfg.Name, i)
	nodeNetns := netnsPath(topo.NodeNetns(i))
	cniDir := filepath.Join(cfg.StateDir, "cni")
	network := cni.Network{
		Name: "podnet", Bridge: "cni0", Subnet: netip.MustParsePrefix(PodCIDR(i)),
		BinDir:   filepath.Join(cniDir, "bin"),
		ConfDir:  filepath.Join(cniDir, name, "net.d"),
		CacheDir: filepath.Join(cniDir, name, "cache"),
		IPAMDir:  filepath.Join(cniDir, name, "ipam"),
	}
	if _, err := network.WriteConfList(); err != nil {
		return nil, err
	}
	runtime, err := cni.NewRuntime(network, nodeNetns)
	if err != nil {
		return nil, err
	}
	nft, err := nftns.New(nodeNetns, knftables.IPv4Family, "podnet-proxy")
	if err != nil {
		return nil, err
	}
	netlinkConn, err := nftns.NewNetlink(nodeNetns)
	if err != nil {
		return nil, err
	}
	nodeLog := log.With("node", name)
	reg := prometheus.NewRegistry()
	proxier := proxy.NewProxier(st, nft, proxy.Config{
		NodeName:     name,
		ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix(serviceCIDR)},
		ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix(clusterCIDR)},
		NodeIPs:      []netip.Addr{netip.MustParseAddr(NodeIP(i))},
		Logger:       nodeLog,
		Conntrack:    proxy.NewConntrackInNetns(nodeNetns),
		Netlink:      &proxy.Netlink{Conn: netlinkConn, Table: "podnet-proxy"},
	}, reg)
	enforcer, err := enforce.New(st, name, nodeNetns, nodeLog)
	if err != nil {
		return nil, fmt.Errorf("network policy: %w", err)
	}
	enforcer.RegisterMetrics(reg)
	var lns []net.Listener
	for _, port := range []int{proxyMetricsPort, proxyHealthzPort} {
		ln, err := listenIn(nodeNetns, net.JoinHostPort(NodeIP(i), strconv.Itoa(port)))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("proxy metrics and health: %w", err)
		}
		lns = append(lns, ln)
	}
	podsDir := NodePodsDir(cfg.StateDir, name)
	if err := os.MkdirAll(podsDir, 0o700); err != nil {
		return nil, err
	}
	agent := nodeagent.New(st, api, nodeagent.Config{
		Node: name, NodeNetns: nodeNetns, NodeIP: NodeIP(i), PodsDir: podsDir,
		NetnsPrefix: topo.NetnsPrefix(), Self: cfg.Self, ClusterDNS: ClusterDNSIP, ClusterDomain: cfg.ClusterDomain,
		APIHost: "10.96.0.1", APISocket: SocketPath(cfg.StateDir), Catalog: catalog, Network: runtime,
		Clock: clock.RealClock{}, Log: nodeLog, Events: events.New(st, api, "kubelet", name, clock.RealClock{}),
	})
	health := healthcheck.New(st, name, func(addr string) (net.Listener, error) { return listenIn(nodeNetns, addr) },
		func() bool {
			select {
			case <-proxier.Synced():
				return true
			default:
				return false
			}
		}, nodeLog)
	return &nodeParts{agent: agent, proxier: proxier, enforcer: enforcer, health: health, proxyHTTP: lns, reg: reg}, nil
}
