package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/apiserver"
	"github.com/podnet/podnet/pkg/cni"
	"github.com/podnet/podnet/pkg/images"
	"github.com/podnet/podnet/pkg/nodeagent"
	"github.com/podnet/podnet/pkg/proxy"
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
	agent   *nodeagent.Agent
	proxier *proxy.Proxier
}

func newNodeParts(cfg Config, topo Topology, i int, st *store.Store, api *apiserver.Server, catalog *images.Catalog, reg *prometheus.Registry, log *slog.Logger) (*nodeParts, error) {
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
	nft, err := proxy.NewInNetns(nodeNetns, knftables.IPv4Family, "podnet-proxy")
	if err != nil {
		return nil, err
	}
	nodeLog := log.With("node", name)
	proxier := proxy.NewProxier(st, nft, proxy.Config{
		NodeName:     name,
		ServiceCIDRs: []netip.Prefix{netip.MustParsePrefix(serviceCIDR)},
		ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix(clusterCIDR)},
		NodeIPs:      []netip.Addr{netip.MustParseAddr(NodeIP(i))},
		Logger:       nodeLog,
	}, prometheus.WrapRegistererWith(prometheus.Labels{"node": name}, reg))
	podsDir := NodePodsDir(cfg.StateDir, name)
	if err := os.MkdirAll(podsDir, 0o700); err != nil {
		return nil, err
	}
	agent := nodeagent.New(st, api, nodeagent.Config{
		Node: name, NodeNetns: nodeNetns, NodeIP: NodeIP(i), PodsDir: podsDir,
		NetnsPrefix: topo.NetnsPrefix(), Self: cfg.Self, ClusterDNS: ClusterDNSIP, ClusterDomain: cfg.ClusterDomain,
		APIHost: "10.96.0.1", APISocket: SocketPath(cfg.StateDir), Catalog: catalog, Network: runtime,
		Clock: clock.RealClock{}, Log: nodeLog,
	})
	return &nodeParts{agent: agent, proxier: proxier}, nil
}
