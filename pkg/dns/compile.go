package dns

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Compile builds the Zone for in. It is pure: the same inputs give the same
// Zone, whatever order the objects come in.
func Compile(in Inputs) *Zone {
	cfg := in.Config.withDefaults()
	z := &Zone{
		cfg:         cfg,
		ttl:         *cfg.TTL,
		serial:      in.Serial,
		namespaces:  make(map[string]struct{}, len(in.Namespaces)),
		services:    make(map[serviceKey]*service, len(in.Services)),
		servicePTR:  make(map[netip.Addr]string, len(in.Services)),
		endpointPTR: map[netip.Addr][]string{},
	}
	for _, ns := range in.Namespaces {
		z.namespaces[ns.Name] = struct{}{}
	}

	svcs := slices.Clone(in.Services)
	slices.SortFunc(svcs, func(a, b *corev1.Service) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	publishNotReady := make(map[serviceKey]bool, len(svcs))
	for _, s := range svcs {
		key := serviceKey{s.Namespace, s.Name}
		z.namespaces[s.Namespace] = struct{}{}
		z.services[key] = compileService(s, cfg.Zone)
		publishNotReady[key] = s.Spec.PublishNotReadyAddresses
	}

	ess := slices.Clone(in.EndpointSlices)
	slices.SortFunc(ess, func(a, b *discoveryv1.EndpointSlice) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	if cfg.NoEndpoints {
		ess = nil
	}
	for _, es := range ess {
		key := serviceKey{es.Namespace, es.Labels[discoveryv1.LabelServiceName]}
		svc := z.services[key]
		if svc == nil || svc.external != "" {
			continue
		}
		svc.endpoints = appendEndpoints(svc.endpoints, es, publishNotReady[key], cfg.EndpointPodNames)
	}

	// PTRs: every cluster IP first, so a Service's IP is never answered with an
	// endpoint's name; then one name per (ready endpoint, Service) pair.
	for _, s := range svcs {
		svc := z.services[serviceKey{s.Namespace, s.Name}]
		for _, ip := range svc.clusterIP {
			if _, taken := z.servicePTR[ip]; !taken {
				z.servicePTR[ip] = svc.fqdn
			}
		}
	}
	for _, s := range svcs {
		svc := z.services[serviceKey{s.Namespace, s.Name}]
		svc.endpoints = sortEndpoints(svc.endpoints)
		for i := range svc.endpoints {
			ep := &svc.endpoints[i]
			ep.fqdn = ep.label + "." + svc.fqdn
			z.endpointPTR[ep.addr] = append(z.endpointPTR[ep.addr], ep.fqdn)
		}
	}

	if cfg.Pods == PodsVerified {
		z.podIPs = compilePodIPs(in.Pods)
	}
	return z
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
