package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/podnet/podnet/pkg/source"
)

// lbRoutes is the health checking a cloud load balancer does for
// externalTrafficPolicy: Local (kube-proxy's healthCheckNodePort): on the
// external host, the address of such a Service is routed only through the
// nodes that have a ready endpoint of it, since the others drop its traffic.
// Other LoadBalancer addresses follow the pool's route to every node.
type lbRoutes struct {
	src     source.Source
	netns   string            // the external host's namespace path
	nodeIPs map[string]string // node name → its address
	log     *slog.Logger

	mu      sync.Mutex
	current map[string][]string // LB address → next hops now routed
	wake    chan struct{}
}

func (r *lbRoutes) Run(ctx context.Context) {
	r.wake = make(chan struct{}, 1)
	r.current = map[string][]string{}
	cancel := r.src.Subscribe(func(ev source.Event) {
		if ev.Kind == source.Service || ev.Kind == source.EndpointSlice {
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	for {
		if err := r.sync(); err != nil {
			r.log.Warn("routing LoadBalancer addresses to nodes with endpoints", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
	}
}

// want is, for every LB address of a Local Service that has ready
// endpoints, the addresses of the nodes holding them.
func (r *lbRoutes) want() map[string][]string {
	nodesOf := map[string]map[string]bool{} // namespace/service → nodes
	for _, o := range r.src.List(source.EndpointSlice) {
		s := o.(*discoveryv1.EndpointSlice)
		key := s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]
		for _, ep := range s.Endpoints {
			if ep.NodeName != nil && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) {
				if nodesOf[key] == nil {
					nodesOf[key] = map[string]bool{}
				}
				nodesOf[key][*ep.NodeName] = true
			}
		}
	}
	out := map[string][]string{}
	for _, o := range r.src.List(source.Service) {
		svc := o.(*corev1.Service)
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
			continue
		}
		var hops []string
		for node := range nodesOf[svc.Namespace+"/"+svc.Name] {
			if ip, ok := r.nodeIPs[node]; ok {
				hops = append(hops, ip)
			}
		}
		if len(hops) == 0 {
			continue // nowhere healthy: the pool route applies, and drops
		}
		slices.Sort(hops)
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ip := net.ParseIP(ing.IP); ip != nil && ip.To4() != nil {
				out[ing.IP] = hops
			}
		}
	}
	return out
}

func (r *lbRoutes) sync() error {
	want := r.want()
	r.mu.Lock()
	defer r.mu.Unlock()
	return ns.WithNetNSPath(r.netns, func(ns.NetNS) error {
		for ip, hops := range want {
			if slices.Equal(r.current[ip], hops) {
				continue
			}
			route := &netlink.Route{Dst: &net.IPNet{IP: net.ParseIP(ip).To4(), Mask: net.CIDRMask(32, 32)}}
			if len(hops) == 1 {
				route.Gw = net.ParseIP(hops[0])
			} else {
				for _, h := range hops {
					route.MultiPath = append(route.MultiPath, &netlink.NexthopInfo{Gw: net.ParseIP(h)})
				}
			}
			if err := netlink.RouteReplace(route); err != nil {
				return fmt.Errorf("route %s via %v: %w", ip, hops, err)
			}
			r.current[ip] = hops
		}
		for ip := range r.current {
			if _, ok := want[ip]; ok {
				continue
			}
			dst := &net.IPNet{IP: net.ParseIP(ip).To4(), Mask: net.CIDRMask(32, 32)}
			if err := netlink.RouteDel(&netlink.Route{Dst: dst}); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("removing route %s: %w", ip, err)
			}
			delete(r.current, ip)
		}
		return nil
	})
}
