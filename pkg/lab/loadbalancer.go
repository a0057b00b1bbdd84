package lab

import (
	"context"
	"fmt"
	"net/netip"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"github.com/podnet/podnet/pkg/events"
	"github.com/podnet/podnet/pkg/source"
)

// loadBalancers is the lab's cloud provider: it gives every LoadBalancer
// Service an address from the pool in status.loadBalancer.ingress (what
// `get svc` shows as EXTERNAL-IP) and takes it back when the Service stops
// being one. The nodes' proxies make the address answer; the external host
// routes the pool to the nodes.
type loadBalancers struct {
	src    source.Source
	w      source.Writer
	pool   netip.Prefix
	events *events.Recorder

	mu      sync.Mutex
	pending []svcKey
	waiting map[svcKey]bool // LoadBalancers the pool could not serve yet
	wake    chan struct{}
}

func (l *loadBalancers) Run(ctx context.Context) {
	l.wake = make(chan struct{}, 1)
	l.waiting = map[svcKey]bool{}
	cancel := l.src.Subscribe(func(ev source.Event) {
		if ev.Kind != source.Service {
			return
		}
		if ev.Type != source.Deleted {
			l.enqueue(keyOf(ev.Object))
		}
		// An address may have come free: try the waiting ones again.
		if svc := ev.Object.(*corev1.Service); ev.Type == source.Deleted || svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			l.retryWaiting()
		}
	})
	defer cancel()
	for _, o := range l.src.List(source.Service) {
		l.enqueue(keyOf(o))
	}
	for {
		l.mu.Lock()
		keys := l.pending
		l.pending = nil
		l.mu.Unlock()
		for _, k := range keys {
			// A full pool or a taken address is reported as an event and
			// tried again when an address comes free or the Service changes.
			err := l.sync(k)
			l.mu.Lock()
			if err != nil {
				l.waiting[k] = true
			} else {
				delete(l.waiting, k)
			}
			l.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
	}
}

type svcKey struct{ Namespace, Name string }

func keyOf(o source.Object) svcKey { return svcKey{o.GetNamespace(), o.GetName()} }

func (l *loadBalancers) retryWaiting() {
	l.mu.Lock()
	keys := make([]svcKey, 0, len(l.waiting))
	for k := range l.waiting {
		keys = append(keys, k)
	}
	l.mu.Unlock()
	for _, k := range keys {
		l.enqueue(k)
	}
}

func (l *loadBalancers) enqueue(k svcKey) {
	l.mu.Lock()
	l.pending = append(l.pending, k)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *loadBalancers) sync(k svcKey) error {
	o, ok := l.src.Get(source.Service, k.Namespace, k.Name)
	if !ok {
		return nil
	}
	svc := o.(*corev1.Service)
	want, err := l.ingressFor(svc)
	if err != nil {
		l.events.Eventf(svc, "", corev1.EventTypeWarning, "SyncLoadBalancerFailed", "Error syncing load balancer: failed to ensure load balancer: %v", err)
		return err
	}
	if apiequality.Semantic.DeepEqual(want, svc.Status.LoadBalancer.Ingress) {
		return nil
	}
	if len(want) > 0 {
		l.events.Eventf(svc, "", corev1.EventTypeNormal, "EnsuringLoadBalancer", "Ensuring load balancer")
	}
	upd := svc.DeepCopy()
	upd.Status.LoadBalancer.Ingress = want
	_, err = l.w.Update(upd)
	switch {
	case err == nil && len(want) > 0:
		l.events.Eventf(svc, "", corev1.EventTypeNormal, "EnsuredLoadBalancer", "Ensured load balancer")
	case err == nil:
		l.events.Eventf(svc, "", corev1.EventTypeNormal, "DeletedLoadBalancer", "Deleted load balancer")
	}
	return err
}

// ingressFor is the ingress a Service should show: none unless it is a
// LoadBalancer; its current address if it still fits; else the address it
// asks for (spec.loadBalancerIP) or the lowest free one.
func (l *loadBalancers) ingressFor(svc *corev1.Service) ([]corev1.LoadBalancerIngress, error) {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return nil, nil
	}
	if cls := svc.Spec.LoadBalancerClass; cls != nil && *cls != "" {
		return svc.Status.LoadBalancer.Ingress, nil // another controller's
	}
	vip := corev1.LoadBalancerIPModeVIP
	cur := svc.Status.LoadBalancer.Ingress
	used := l.used(svc)
	if len(cur) == 1 {
		// Kept unless another Service holds it too (a status written by
		// hand or restored): then this one moves.
		if a, err := netip.ParseAddr(cur[0].IP); err == nil && l.usable(a) && !used[a] &&
			(svc.Spec.LoadBalancerIP == "" || svc.Spec.LoadBalancerIP == cur[0].IP) {
			return []corev1.LoadBalancerIngress{{IP: cur[0].IP, IPMode: &vip}}, nil
		}
	}
	if req := svc.Spec.LoadBalancerIP; req != "" {
		a, err := netip.ParseAddr(req)
		if err != nil || !l.usable(a) || used[a] {
			return nil, fmt.Errorf("service %s/%s: loadBalancerIP %s is not free in the lab's pool %s", svc.Namespace, svc.Name, req, l.pool)
		}
		return []corev1.LoadBalancerIngress{{IP: a.String(), IPMode: &vip}}, nil
	}
	for a := l.pool.Addr().Next(); l.usable(a); a = a.Next() {
		if !used[a] {
			return []corev1.LoadBalancerIngress{{IP: a.String(), IPMode: &vip}}, nil
		}
	}
	return nil, fmt.Errorf("service %s/%s: the lab's LoadBalancer pool %s is exhausted", svc.Namespace, svc.Name, l.pool)
}

// usable excludes the pool's first and last address, as a subnet's network
// and broadcast addresses.
func (l *loadBalancers) usable(a netip.Addr) bool {
	if !l.pool.Contains(a) || a == l.pool.Addr() {
		return false
	}
	return l.pool.Contains(a.Next())
}

// used is every pool address another Service holds.
func (l *loadBalancers) used(except *corev1.Service) map[netip.Addr]bool {
	used := map[netip.Addr]bool{}
	for _, o := range l.src.List(source.Service) {
		s := o.(*corev1.Service)
		if s.UID == except.UID {
			continue
		}
		for _, in := range s.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil {
				used[a] = true
			}
		}
	}
	return used
}
