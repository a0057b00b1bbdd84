// Package snapshot serves DNS from manifests instead of a live cluster: the
// objects are taken as given, like a dump of a real cluster, and kept in a
// source.Static that follows the files as they change.
package snapshot

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/podnet/podnet/pkg/manifest"
	"github.com/podnet/podnet/pkg/source"
)

// Load reads manifests like kubectl -f, defaults and validates every object
// as apply does (the first invalid object fails the whole load), and adds an
// EndpointSlice for each Service with a selector that has none in the input,
// derived from the pods' status. EndpointSlices in the input are used as
// they are.
func Load(paths []string, recursive bool) ([]source.Object, error) {
	objs, err := manifest.ReadPaths(paths, recursive, strings.NewReader(""))
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		k, _ := source.KindOf(o)
		if source.Namespaced(k) && o.GetNamespace() == "" {
			o.SetNamespace("default")
		}
		manifest.Default(o)
		if errs := manifest.Validate(o, manifest.Options{}); len(errs) > 0 {
			return nil, manifest.ValidationError(o, errs)
		}
	}
	return append(objs, derive(objs)...), nil
}

// derive makes the EndpointSlices the input lacks. It follows the
// EndpointSlice controller's rules that DNS can see: a pod with an IP that has
// not finished is an endpoint; it is ready when its Ready condition is true
// (or always, with publishNotReadyAddresses); it carries its hostname when
// its subdomain names the Service.
func derive(objs []source.Object) []source.Object {
	have := map[string]bool{}
	var pods []*corev1.Pod
	var svcs []*corev1.Service
	for _, o := range objs {
		switch v := o.(type) {
		case *discoveryv1.EndpointSlice:
			have[v.Namespace+"/"+v.Labels[discoveryv1.LabelServiceName]] = true
		case *corev1.Pod:
			pods = append(pods, v)
		case *corev1.Service:
			svcs = append(svcs, v)
		}
	}
	var out []source.Object
	for _, svc := range svcs {
		if have[svc.Namespace+"/"+svc.Name] || len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		byFamily := map[discoveryv1.AddressType][]discoveryv1.Endpoint{}
		var ports []discoveryv1.EndpointPort
		for _, pod := range pods {
			if pod.Namespace != svc.Namespace || !sel.Matches(labels.Set(pod.Labels)) ||
				pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				continue
			}
			for _, ip := range podIPs(pod) {
				family := discoveryv1.AddressTypeIPv4
				if ip.Is6() {
					family = discoveryv1.AddressTypeIPv6
				}
				byFamily[family] = append(byFamily[family], endpointOf(svc, pod, ip))
			}
			if ports == nil {
				ports = portsOf(svc, pod)
			}
		}
		for _, family := range []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6} {
			if eps := byFamily[family]; len(eps) > 0 {
				out = append(out, &discoveryv1.EndpointSlice{
					ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name + "-" + strings.ToLower(string(family)),
						Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
					AddressType: family, Endpoints: eps, Ports: ports,
				})
			}
		}
	}
	return out
}

func podIPs(pod *corev1.Pod) []netip.Addr {
	var out []netip.Addr
	for _, s := range append([]string{pod.Status.PodIP}, ipStrings(pod.Status.PodIPs)...) {
		if ip, err := netip.ParseAddr(s); err == nil && !slices.Contains(out, ip.Unmap()) {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

func ipStrings(ips []corev1.PodIP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.IP
	}
	return out
}

func endpointOf(svc *corev1.Service, pod *corev1.Pod, ip netip.Addr) discoveryv1.Endpoint {
	ready := svc.Spec.PublishNotReadyAddresses
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	ep := discoveryv1.Endpoint{Addresses: []string{ip.String()}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name}}
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name {
		h := pod.Spec.Hostname
		ep.Hostname = &h
	}
	return ep
}

// portsOf resolves the Service's ports against one pod: a numeric
// targetPort as is, a named one through the pod's container ports.
func portsOf(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for _, sp := range svc.Spec.Ports {
		port := sp.TargetPort.IntVal
		if sp.TargetPort.StrVal != "" {
			port = 0
			for _, c := range pod.Spec.Containers {
				for _, cp := range c.Ports {
					if cp.Name == sp.TargetPort.StrVal && cp.Protocol == sp.Protocol {
						port = cp.ContainerPort
					}
				}
			}
		}
		if port == 0 {
			port = sp.Port
		}
		name, proto := sp.Name, sp.Protocol
		out = append(out, discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: &port})
	}
	return out
}

// Follow keeps st equal to what Load reads from paths, polling the files'
// modification times every interval until ctx ends. A load that fails
// leaves st as it was and is reported to errs; nothing is half-applied.
func Follow(ctx context.Context, paths []string, recursive bool, st *source.Static, interval time.Duration, errs io.Writer) {
	last := stamp(paths)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		now := stamp(paths)
		if now == last {
			continue
		}
		last = now
		objs, err := Load(paths, recursive)
		if err != nil {
			fmt.Fprintf(errs, "dns serve: manifests changed but were not applied: %v\n", err)
			continue
		}
		Replace(st, objs)
		fmt.Fprintf(errs, "dns serve: reloaded %d objects\n", len(objs))
	}
}

// Replace makes st hold exactly objs: changed and new objects are set,
// missing ones deleted.
func Replace(st *source.Static, objs []source.Object) {
	keep := map[source.Kind]map[string]bool{}
	for _, o := range objs {
		k, _ := source.KindOf(o)
		if keep[k] == nil {
			keep[k] = map[string]bool{}
		}
		keep[k][source.Key(o)] = true
		st.Set(o)
	}
	for _, k := range source.Kinds {
		for _, o := range st.List(k) {
			if !keep[k][source.Key(o)] {
				st.Delete(o)
			}
		}
	}
}

// stamp summarises the files under paths by name, size and time.
func stamp(paths []string) string {
	var b strings.Builder
	for _, p := range paths {
		_ = filepath.Walk(p, func(path string, info os.FileInfo, err error) error {
			if err == nil {
				fmt.Fprintf(&b, "%s %d %d\n", path, info.Size(), info.ModTime().UnixNano())
			}
			return nil
		})
	}
	return b.String()
}
