// Package netpol is podnet's one model of NetworkPolicy (networking.k8s.io/v1):
// which connections a set of policies allows between pods and addresses.
//
// Everything that reasons about policy uses it: the matrix, explain, lint and
// diff commands, verify (which compares it with real probes) and the tests of
// the nftables compiler. It never touches the kernel.
package netpol

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	policyv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/source"
)

// Cluster is the snapshot the model evaluates: pods as they are (labels, IP,
// node, container ports), namespace labels, node addresses and policies.
type Cluster struct {
	// Namespaces maps a namespace name to its labels.
	Namespaces map[string]map[string]string
	Pods       []*Pod
	Nodes      map[string][]netip.Addr
	Policies   []*networkingv1.NetworkPolicy
	// AdminPolicies are the AdminNetworkPolicies in precedence order
	// (priority, then name); Baseline is the BaselineAdminNetworkPolicy,
	// nil without one; NodeLabels are what ANP nodes peers select on.
	AdminPolicies []*policyv1alpha1.AdminNetworkPolicy
	Baseline      *policyv1alpha1.BaselineAdminNetworkPolicy
	NodeLabels    map[string]map[string]string

	services []*corev1.Service
}

// Pod is what policy evaluation needs of a pod.
type Pod struct {
	Namespace, Name string
	Labels          map[string]string
	IP              netip.Addr // invalid while the pod has none
	Node            string
	Ports           []ContainerPort
	// ServicePorts are the target ports of the Services selecting a pod
	// that declares no ports: what the matrix probes by default then.
	ServicePorts []PortProto

	source *corev1.Pod // what it was made from
	class  string      // classKey, once worked out
}

// PortProto is a port number and protocol.
type PortProto struct {
	Port     int32
	Protocol corev1.Protocol
}

func (pp PortProto) String() string { return fmt.Sprintf("%d/%s", pp.Port, pp.Protocol) }

// ContainerPort is one port a pod declares.
type ContainerPort struct {
	Name     string
	Port     int32
	Protocol corev1.Protocol
}

// Key is "namespace/name".
func (p *Pod) Key() string { return p.Namespace + "/" + p.Name }

// FromObjects builds a Cluster from objects taken as given, like a snapshot:
// when the same object appears twice, the later one wins, as with
// successive applies. Policies are defaulted as the API server would
// (policyTypes, protocol TCP); namespaces that pods or policies name but the
// input lacks are assumed to exist with only their
// kubernetes.io/metadata.name label. Host-network pods are left out: they
// carry their node's address and are node traffic, not pods, to policy.
func FromObjects(objs []source.Object) *Cluster {
	last := map[string]source.Object{}
	var order []string
	for _, o := range objs {
		k, err := source.KindOf(o)
		if err != nil {
			continue
		}
		key := string(k) + "/" + source.Key(o)
		if _, seen := last[key]; !seen {
			order = append(order, key)
		}
		last[key] = o
	}
	c := &Cluster{Namespaces: map[string]map[string]string{}, Nodes: map[string][]netip.Addr{}}
	for _, key := range order {
		c.add(last[key])
	}
	c.finish()
	return c
}

// FromSource builds a Cluster from the current state of src.
func FromSource(src source.Source) *Cluster { return (*Cache)(nil).FromSource(src) }

// Cache carries what a model derives from each object (a pod's facts, a
// policy defaulted and compiled into matchers) from one model to the next.
// It is keyed by the objects themselves: sources hand out objects that are
// never changed in place (a change is a new object, as with informers), so
// a model rebuilt after one change redoes the work of that object only. A
// Cache serves one goroutine's successive models; a nil *Cache caches
// nothing.
type Cache struct {
	pods     map[*corev1.Pod]*Pod
	policies map[*networkingv1.NetworkPolicy]*networkingv1.NetworkPolicy // source → defaulted
	compiled map[*networkingv1.NetworkPolicy]*policy                     // defaulted → compiled
}

// FromSource is the package's FromSource, reusing what earlier calls
// derived from objects that have not changed.
func (k *Cache) FromSource(src source.Source) *Cluster {
	c := &Cluster{Namespaces: map[string]map[string]string{}, Nodes: map[string][]netip.Addr{}}
	var pods map[*corev1.Pod]*Pod
	var policies map[*networkingv1.NetworkPolicy]*networkingv1.NetworkPolicy
	if k != nil {
		pods, policies = map[*corev1.Pod]*Pod{}, map[*networkingv1.NetworkPolicy]*networkingv1.NetworkPolicy{}
	}
	for _, kind := range []source.Kind{source.Namespace, source.Node, source.Service, source.Pod, source.NetworkPolicy,
		source.AdminNetworkPolicy, source.BaselineAdminNetworkPolicy} {
		for _, o := range src.List(kind) {
			switch o := o.(type) {
			case *corev1.Pod:
				if p, ok := k.pod(o); ok {
					pods[o] = p
					c.Pods = append(c.Pods, p)
					continue
				}
			case *networkingv1.NetworkPolicy:
				if np, ok := k.policy(o); ok {
					policies[o] = np
					c.Policies = append(c.Policies, np)
					continue
				}
			}
			c.add(o)
			if k == nil {
				continue
			}
			switch o := o.(type) {
			case *corev1.Pod:
				if n := len(c.Pods); n > 0 && c.Pods[n-1].source == o {
					pods[o] = c.Pods[n-1]
				}
			case *networkingv1.NetworkPolicy:
				policies[o] = c.Policies[len(c.Policies)-1]
			}
		}
	}
	if k != nil {
		k.pods, k.policies = pods, policies
	}
	c.finish()
	return c
}

func (k *Cache) pod(o *corev1.Pod) (*Pod, bool) {
	if k == nil {
		return nil, false
	}
	p, ok := k.pods[o]
	return p, ok
}

func (k *Cache) policy(o *networkingv1.NetworkPolicy) (*networkingv1.NetworkPolicy, bool) {
	if k == nil {
		return nil, false
	}
	np, ok := k.policies[o]
	return np, ok
}

func (c *Cluster) add(o source.Object) {
	if c.addAdmin(o) {
		return
	}
	switch o := o.(type) {
	case *corev1.Namespace:
		lbl := map[string]string{corev1.LabelMetadataName: o.Name}
		for k, v := range o.Labels {
			lbl[k] = v
		}
		c.Namespaces[o.Name] = lbl
	case *corev1.Node:
		var ips []netip.Addr
		for _, a := range o.Status.Addresses {
			if ip, err := netip.ParseAddr(a.Address); err == nil && (a.Type == corev1.NodeInternalIP || a.Type == corev1.NodeExternalIP) {
				ips = append(ips, ip)
			}
		}
		c.Nodes[o.Name] = ips
	case *corev1.Pod:
		if o.Spec.HostNetwork || o.Status.Phase == corev1.PodSucceeded || o.Status.Phase == corev1.PodFailed {
			return
		}
		p := podFrom(o)
		p.source = o
		c.Pods = append(c.Pods, p)
	case *networkingv1.NetworkPolicy:
		np := o.DeepCopy()
		manifest.Default(np)
		if np.Namespace == "" {
			np.Namespace = "default"
		}
		c.Policies = append(c.Policies, np)
	case *corev1.Service:
		c.services = append(c.services, o)
	}
}

func podFrom(o *corev1.Pod) *Pod {
	p := &Pod{Namespace: o.Namespace, Name: o.Name, Labels: o.Labels, Node: o.Spec.NodeName}
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	if ip, err := netip.ParseAddr(o.Status.PodIP); err == nil {
		p.IP = ip
	}
	for _, ctr := range o.Spec.Containers {
		for _, cp := range ctr.Ports {
			proto := cp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			p.Ports = append(p.Ports, ContainerPort{Name: cp.Name, Port: cp.ContainerPort, Protocol: proto})
		}
	}
	return p
}

// finish fills in implied namespaces and sorts pods and policies, so every
// output is in a stable order.
func (c *Cluster) finish() {
	implied := func(ns string) {
		if _, ok := c.Namespaces[ns]; !ok {
			c.Namespaces[ns] = map[string]string{corev1.LabelMetadataName: ns}
		}
	}
	for _, p := range c.Pods {
		implied(p.Namespace)
	}
	for _, np := range c.Policies {
		implied(np.Namespace)
	}
	for _, p := range c.Pods {
		if len(p.Ports) == 0 {
			p.ServicePorts = c.servicePorts(p)
		}
	}
	// By "namespace/name": names cannot contain "/", so comparing the
	// parts in turn gives the same order without building keys.
	slices.SortFunc(c.Pods, func(a, b *Pod) int { return cmpKey(a.Namespace, a.Name, b.Namespace, b.Name) })
	slices.SortFunc(c.Policies, func(a, b *networkingv1.NetworkPolicy) int {
		return cmpKey(a.Namespace, a.Name, b.Namespace, b.Name)
	})
	c.finishAdmin()
}

func cmpKey(ns1, name1, ns2, name2 string) int {
	if c := strings.Compare(ns1, ns2); c != 0 {
		return c
	}
	return strings.Compare(name1, name2)
}

// servicePorts lists the numeric target ports of Services selecting p.
func (c *Cluster) servicePorts(p *Pod) []PortProto {
	var out []PortProto
	for _, svc := range c.services {
		ns := svc.Namespace
		if ns == "" {
			ns = "default"
		}
		if ns != p.Namespace || len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(p.Labels)) {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			pp := PortProto{Port: sp.Port, Protocol: sp.Protocol}
			if pp.Protocol == "" {
				pp.Protocol = corev1.ProtocolTCP
			}
			switch {
			case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
				continue // a name only a declared port could resolve
			case sp.TargetPort.IntVal != 0:
				pp.Port = sp.TargetPort.IntVal
			}
			if !slices.Contains(out, pp) {
				out = append(out, pp)
			}
		}
	}
	return out
}

// Pod returns the pod "namespace/name".
func (c *Cluster) Pod(key string) *Pod {
	for _, p := range c.Pods {
		if p.Key() == key {
			return p
		}
	}
	return nil
}
