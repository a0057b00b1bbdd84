package dns

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Compile builds the Zone for in. It is pure: the same inputs give the same
// Zone, whatever order the objects come in.
func Compile(in Inputs) *Zone { return build(nil, in, nil) }

// ServiceKey names a Service: its namespace and name.
type ServiceKey struct{ Namespace, Name string }

// Update builds the Zone for in from old, recompiling only the Services in
// changed: those whose Service object or EndpointSlices changed since old
// was compiled (a Service that is gone is simply left out). Everything else is
// shared with old, which stays valid. It answers exactly as Compile(in)
// would, provided changed is complete; a different configuration compiles
// from scratch.
func Update(old *Zone, in Inputs, changed []ServiceKey) *Zone {
	if old == nil || !sameConfig(old.cfg, in.Config.withDefaults()) {
		return Compile(in)
	}
	set := make(map[serviceKey]bool, len(changed))
	for _, k := range changed {
		set[serviceKey{k.Namespace, k.Name}] = true
	}
	return build(old, in, set)
}

// OwnerOf returns the Service an EndpointSlice (namespace/name) fed when
// the zone was compiled, so a slice whose service-name label changed can
// have its old Service recompiled too.
func (z *Zone) OwnerOf(namespace, slice string) (ServiceKey, bool) {
	k, ok := z.sliceOwner[namespace+"/"+slice]
	return ServiceKey{k.namespace, k.name}, ok
}

func sameConfig(a, b Config) bool {
	return a.Zone == b.Zone && *a.TTL == *b.TTL && a.Pods == b.Pods && slices.Equal(a.ReverseZones, b.ReverseZones) &&
		slices.Equal(a.Fallthrough, b.Fallthrough) && a.EndpointPodNames == b.EndpointPodNames &&
		a.NoEndpoints == b.NoEndpoints && a.IgnoreEmptyService == b.IgnoreEmptyService && a.DNSService == b.DNSService
}

// build compiles in. With old, only the Services in changed are compiled;
// the rest, and their PTRs, are carried over.
func build(old *Zone, in Inputs, changed map[serviceKey]bool) *Zone {
	cfg := in.Config.withDefaults()
	z := &Zone{cfg: cfg, ttl: *cfg.TTL, serial: in.Serial, sliceOwner: make(map[string]serviceKey, len(in.EndpointSlices))}
	compiles := func(k serviceKey) bool { return old == nil || changed[k] }
	dropped := map[netip.Addr]bool{} // cluster IPs whose Service was recompiled
	if old == nil {
		z.services = make(map[serviceKey]*service, len(in.Services))
		z.servicePTR = make(map[netip.Addr]serviceKey, len(in.Services))
		z.endpointPTR = map[netip.Addr][]string{}
	} else {
		z.services = maps.Clone(old.services)
		z.servicePTR = maps.Clone(old.servicePTR)
		z.endpointPTR = maps.Clone(old.endpointPTR)
		for k := range changed {
			if svc := old.services[k]; svc != nil {
				z.dropPTRs(k, svc, dropped)
				delete(z.services, k)
			}
		}
	}

	var svcs []*corev1.Service
	for _, s := range in.Services {
		if compiles(serviceKey{s.Namespace, s.Name}) {
			svcs = append(svcs, s)
		}
	}
	slices.SortFunc(svcs, func(a, b *corev1.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	publishNotReady := make(map[serviceKey]bool, len(svcs))
	for _, s := range svcs {
		key := serviceKey{s.Namespace, s.Name}
		z.services[key] = compileService(s, cfg.Zone)
		publishNotReady[key] = s.Spec.PublishNotReadyAddresses
	}

	var ess []*discoveryv1.EndpointSlice
	for _, es := range in.EndpointSlices {
		key := serviceKey{es.Namespace, es.Labels[discoveryv1.LabelServiceName]}
		z.sliceOwner[es.Namespace+"/"+es.Name] = key
		if compiles(key) && !cfg.NoEndpoints {
			ess = append(ess, es)
		}
	}
	slices.SortFunc(ess, func(a, b *discoveryv1.EndpointSlice) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for _, es := range ess {
		key := serviceKey{es.Namespace, es.Labels[discoveryv1.LabelServiceName]}
		svc := z.services[key]
		if svc == nil || svc.external != "" || !publishKnown(publishNotReady, key) {
			continue
		}
		svc.endpoints = appendEndpoints(svc.endpoints, es, publishNotReady[key], cfg.EndpointPodNames)
	}

	// PTRs: a cluster IP names its Service (the first by namespace/name if
	// two claim one); an endpoint IP names each (ready endpoint, Service)
	// pair, in name order. reverse() asks for cluster IPs first.
	for _, s := range svcs {
		key := serviceKey{s.Namespace, s.Name}
		for _, ip := range z.services[key].clusterIP {
			if owner, taken := z.servicePTR[ip]; !taken || key.less(owner) {
				z.servicePTR[ip] = key
			}
		}
	}
	// A cluster IP whose owner went away passes to the next Service that
	// claims it, if any (only manifests given as they are can have two).
	for ip := range dropped {
		if _, ok := z.servicePTR[ip]; ok {
			continue
		}
		for key, svc := range z.services {
			if owner, taken := z.servicePTR[ip]; slices.Contains(svc.clusterIP, ip) && (!taken || key.less(owner)) {
				z.servicePTR[ip] = key
			}
		}
	}
	touched := map[netip.Addr]bool{}
	for _, s := range svcs {
		svc := z.services[serviceKey{s.Namespace, s.Name}]
		svc.endpoints = sortEndpoints(svc.endpoints)
		for i := range svc.endpoints {
			ep := &svc.endpoints[i]
			ep.fqdn = ep.label + "." + svc.fqdn
			// Never append into a list old still uses.
			list := z.endpointPTR[ep.addr]
			z.endpointPTR[ep.addr] = append(list[:len(list):len(list)], ep.fqdn)
			touched[ep.addr] = true
		}
	}
	for addr := range touched {
		slices.Sort(z.endpointPTR[addr])
	}

	z.namespaces = make(map[string]struct{}, len(in.Namespaces))
	for _, ns := range in.Namespaces {
		z.namespaces[ns.Name] = struct{}{}
	}
	for k := range z.services {
		z.namespaces[k.namespace] = struct{}{}
	}
	if cfg.Pods == PodsVerified {
		z.podIPs = compilePodIPs(in.Pods)
	}
	return z
}

// publishKnown reports whether the Service key was compiled in this build.
func publishKnown(m map[serviceKey]bool, k serviceKey) bool {
	_, ok := m[k]
	return ok
}

// dropPTRs removes svc's reverse records, copying every list it changes
// (old zones share them), and notes the cluster IPs it owned.
func (z *Zone) dropPTRs(key serviceKey, svc *service, dropped map[netip.Addr]bool) {
	for _, ip := range svc.clusterIP {
		if z.servicePTR[ip] == key {
			delete(z.servicePTR, ip)
			dropped[ip] = true
		}
	}
	for _, ep := range svc.endpoints {
		list := z.endpointPTR[ep.addr]
		kept := make([]string, 0, len(list))
		for _, n := range list {
			if n != ep.fqdn {
				kept = append(kept, n)
			}
		}
		if len(kept) == 0 {
			delete(z.endpointPTR, ep.addr)
		} else {
			z.endpointPTR[ep.addr] = kept
		}
	}
}

func compileService(s *corev1.Service, zone string) *service {
	svc := &service{fqdn: s.Name + "." + s.Namespace + ".svc." + zone}
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		// An externalName that is an IP is not served, as in CoreDNS: a CNAME
		// must name a host.
		if _, err := netip.ParseAddr(s.Spec.ExternalName); err != nil && s.Spec.ExternalName != "" {
			svc.external = canonical(s.Spec.ExternalName)
		}
		return svc
	}
	ips := s.Spec.ClusterIPs
	if len(ips) == 0 && s.Spec.ClusterIP != "" {
		ips = []string{s.Spec.ClusterIP}
	}
	for _, ip := range ips {
		if ip == corev1.ClusterIPNone {
			svc.headless = true
			break
		}
		if a, err := netip.ParseAddr(ip); err == nil {
			svc.clusterIP = append(svc.clusterIP, a.Unmap())
		}
	}
	svc.ports = make([]port, 0, len(s.Spec.Ports))
	for _, p := range s.Spec.Ports {
		svc.ports = append(svc.ports, port{
			name:  strings.ToLower(p.Name),
			proto: strings.ToLower(string(p.Protocol)),
			port:  uint16(p.Port),
		})
	}
	return svc
}

// appendEndpoints adds the published addresses of es. A nil ready condition
// means unknown and counts as ready (EndpointSlice API doc); with
// publishNotReadyAddresses every address is published, as the EndpointSlice
// controller itself would mark them ready.
func appendEndpoints(eps []endpoint, es *discoveryv1.EndpointSlice, publishNotReady, podNames bool) []endpoint {
	if es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6 {
		return eps
	}
	ports := make([]port, 0, len(es.Ports))
	for _, p := range es.Ports {
		if p.Port == nil {
			continue
		}
		pp := port{port: uint16(*p.Port), proto: "tcp"}
		if p.Name != nil {
			pp.name = strings.ToLower(*p.Name)
		}
		if p.Protocol != nil {
			pp.proto = strings.ToLower(string(*p.Protocol))
		}
		ports = append(ports, pp)
	}
	for _, e := range es.Endpoints {
		ready := e.Conditions.Ready == nil || *e.Conditions.Ready || publishNotReady
		if !ready {
			continue
		}
		for _, a := range e.Addresses {
			addr, err := netip.ParseAddr(a)
			if err != nil {
				continue
			}
			addr = addr.Unmap()
			eps = append(eps, endpoint{label: endpointLabel(e, addr, podNames), addr: addr, ports: ports})
		}
	}
	return eps
}

// endpointLabel is the hostname; else, with endpoint_pod_names, the name of
// the pod behind it if that fits in a label (CoreDNS checks the same 63
// characters); else the dashed IP.
func endpointLabel(e discoveryv1.Endpoint, addr netip.Addr, podNames bool) string {
	switch {
	case e.Hostname != nil && *e.Hostname != "":
		return strings.ToLower(*e.Hostname)
	case podNames && e.TargetRef != nil && e.TargetRef.Name != "" && len(e.TargetRef.Name) <= 63:
		return strings.ToLower(e.TargetRef.Name)
	}
	return dashedIP(addr)
}

// sortEndpoints orders endpoints by address and drops repeats of one address
// (an endpoint may sit in two slices while the controller moves it).
func sortEndpoints(eps []endpoint) []endpoint {
	slices.SortStableFunc(eps, func(a, b endpoint) int { return a.addr.Compare(b.addr) })
	return slices.CompactFunc(eps, func(a, b endpoint) bool { return a.addr == b.addr })
}

// dashedIP is an endpoint's label when it has no hostname: dots (or colons)
// become dashes, and a trailing dash gets a 0 so the label is valid, as
// CoreDNS writes it.
func dashedIP(a netip.Addr) string {
	if a.Is4() {
		return strings.ReplaceAll(a.String(), ".", "-")
	}
	s := strings.ReplaceAll(a.String(), ":", "-")
	if strings.HasSuffix(s, "-") {
		s += "0"
	}
	if strings.HasPrefix(s, "-") {
		s = "0" + s
	}
	return s
}

// compilePodIPs indexes the IPs of pods that are not finished, as CoreDNS's
// "pods verified" does.
func compilePodIPs(pods []*corev1.Pod) map[string]map[netip.Addr]struct{} {
	out := map[string]map[netip.Addr]struct{}{}
	for _, p := range pods {
		switch p.Status.Phase {
		case corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown:
			continue
		}
		for _, ip := range p.Status.PodIPs {
			a, err := netip.ParseAddr(ip.IP)
			if err != nil {
				continue
			}
			if out[p.Namespace] == nil {
				out[p.Namespace] = map[netip.Addr]struct{}{}
			}
			out[p.Namespace][a.Unmap()] = struct{}{}
		}
	}
	return out
}
