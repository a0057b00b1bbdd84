package cni

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
)

// Runtime attaches pods to one node's network the way a container runtime
// does for kubelet: it reads the network's configuration list and runs the
// plugins through libcni, caching results in the network's CacheDir.
type Runtime struct {
	list   *libcni.NetworkConfigList
	cni    *libcni.CNIConfig
	nodeNS string
}

// NewRuntime loads the configuration list named n.Name from n.ConfDir (write
// it first with WriteConfList). Plugins run in the network namespace at
// nodeNetnsPath, the node the pods belong to.
func NewRuntime(n Network, nodeNetnsPath string) (*Runtime, error) {
	list, err := libcni.LoadNetworkConf(n.ConfDir, n.Name)
	if err != nil {
		return nil, fmt.Errorf("load network %q from %q: %w", n.Name, n.ConfDir, err)
	}
	return &Runtime{
		list:   list,
		cni:    libcni.NewCNIConfigWithCacheDir([]string{n.BinDir}, n.CacheDir, nil),
		nodeNS: nodeNetnsPath,
	}, nil
}

// inNode runs f with the calling OS thread in the node's namespace. libcni
// starts each plugin with os/exec from the calling goroutine, and a forked
// child inherits the namespaces of the thread that forked it; ns.Do keeps
// the goroutine locked to that thread, so the plugin starts in the node
// namespace. (The bridge tests check this: the bridge appears in the node
// namespace and not in the test's own.)
func (r *Runtime) inNode(f func() error) error {
	node, err := ns.GetNS(r.nodeNS)
	if err != nil {
		return fmt.Errorf("failed to open node netns %q: %w", r.nodeNS, err)
	}
	defer node.Close()
	return node.Do(func(ns.NetNS) error { return f() })
}

func runtimeConf(containerID, podNetnsPath, ifname string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: containerID, NetNS: podNetnsPath, IfName: ifname}
}

// Add attaches the pod's sandbox and returns its address. A valid requestIP
// asks IPAM for that address (the "ips" capability), so a restarted pod can
// keep its IP. The CNI args are kubelet's.
func (r *Runtime) Add(ctx context.Context, containerID, podNetnsPath, ifname string, requestIP netip.Addr, podNs, podName string) (netip.Addr, error) {
	rt := runtimeConf(containerID, podNetnsPath, ifname)
	rt.Args = [][2]string{
		{"IgnoreUnknown", "1"},
		{"K8S_POD_NAMESPACE", podNs},
		{"K8S_POD_NAME", podName},
		{"K8S_POD_INFRA_CONTAINER_ID", containerID},
	}
	if requestIP.IsValid() {
		rt.CapabilityArgs = map[string]any{"ips": []string{requestIP.String()}}
	}
	var res types.Result
	err := r.inNode(func() error {
		var err error
		res, err = r.cni.AddNetworkList(ctx, r.list, rt)
		return err
	})
	if err != nil {
		return netip.Addr{}, fmt.Errorf("CNI ADD %s/%s (container %q): %w", podNs, podName, containerID, err)
	}
	return podAddress(res, podNetnsPath, ifname)
}

// podAddress picks the address of the sandbox interface from a result.
func podAddress(res types.Result, podNetnsPath, ifname string) (netip.Addr, error) {
	cur, err := current.NewResultFromResult(res)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, ipc := range cur.IPs {
		if ipc.Interface == nil || *ipc.Interface >= len(cur.Interfaces) {
			continue
		}
		iface := cur.Interfaces[*ipc.Interface]
		if iface.Name == ifname && iface.Sandbox == podNetnsPath {
			if a, ok := netip.AddrFromSlice(ipc.Address.IP); ok {
				return a.Unmap(), nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("CNI result has no address for %q in %q", ifname, podNetnsPath)
}

// Del detaches the pod. It succeeds when repeated and when the pod's
// namespace is already gone, releasing the address either way.
func (r *Runtime) Del(ctx context.Context, containerID, podNetnsPath, ifname string) error {
	rt := runtimeConf(containerID, podNetnsPath, ifname)
	return r.inNode(func() error {
		if err := r.cni.DelNetworkList(ctx, r.list, rt); err != nil {
			return fmt.Errorf("CNI DEL container %q: %w", containerID, err)
		}
		return nil
	})
}

// Check asks every plugin whether the attachment is still as ADD left it.
func (r *Runtime) Check(ctx context.Context, containerID, podNetnsPath, ifname string) error {
	rt := runtimeConf(containerID, podNetnsPath, ifname)
	return r.inNode(func() error {
		if err := r.cni.CheckNetworkList(ctx, r.list, rt); err != nil {
			return fmt.Errorf("CNI CHECK container %q: %w", containerID, err)
		}
		return nil
	})
}

// GC releases everything the plugins hold for attachments not in valid.
func (r *Runtime) GC(ctx context.Context, valid []types.GCAttachment) error {
	return r.inNode(func() error {
		return r.cni.GCNetworkList(ctx, r.list, &libcni.GCArgs{ValidAttachments: valid})
	})
}

// Status reports whether the plugins are ready to attach pods.
func (r *Runtime) Status(ctx context.Context) error {
	return r.inNode(func() error { return r.cni.GetStatusNetworkList(ctx, r.list) })
}
