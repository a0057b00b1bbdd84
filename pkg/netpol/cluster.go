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
func FromSource(src source.Source) *Cluster {
	c := &Cluster{Namespaces: map[string]map[string]string{}, Nodes: map[string][]netip.Addr{}}
	for _, k := range []source.Kind{source.Namespace, source.Node, source.Service, source.Pod, source.NetworkPolicy,
		source.AdminNetworkPolicy, source.BaselineAdminNetworkPolicy} {
		for _, o := range src.List(k) {
			c.add(o)
		}
	}
	c.finish()
	return c
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
		c.Pods = append(c.Pods, podFrom(o))
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
	slices.SortFunc(c.Pods, func(a, b *Pod) int { return strings.Compare(a.Key(), b.Key()) })
	slices.SortFunc(c.Policies, func(a, b *networkingv1.NetworkPolicy) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	c.finishAdmin()
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
