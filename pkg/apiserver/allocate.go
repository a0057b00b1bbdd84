package apiserver

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// allocate gives svc its ClusterIP and NodePorts, keeping what old (the stored
// version, nil on create) already holds. It returns a function that undoes
// exactly what this call reserved.
func (s *Server) allocate(svc, old *corev1.Service) (_ func(), err error) {
	var gotIPs []netip.Addr
	var gotPorts []int
	undo := func() {
		for _, ip := range gotIPs {
			s.ips.Release(ip)
		}
		for _, p := range gotPorts {
			s.ports.Release(p)
		}
	}
	defer func() {
		if err != nil {
			undo()
		}
	}()

	oldIP := ""
	if old != nil {
		oldIP = old.Spec.ClusterIP
	}
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		svc.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
	case svc.Spec.ClusterIP == "" && oldIP != "" && oldIP != corev1.ClusterIPNone:
		// Apply without a clusterIP keeps the allocated one.
		svc.Spec.ClusterIP = oldIP
	case svc.Spec.ClusterIP == "":
		ip, err := s.ips.AllocateNext()
		if err != nil {
			return nil, invalidService(svc, field.NewPath("spec", "clusterIPs"), []string{}, err.Error())
		}
		gotIPs = append(gotIPs, ip)
		svc.Spec.ClusterIP = ip.String()
	case svc.Spec.ClusterIP != oldIP:
		if old != nil && oldIP != "" {
			return nil, invalidService(svc, field.NewPath("spec", "clusterIPs").Index(0), []string{svc.Spec.ClusterIP}, "may not change once set")
		}
		ip, perr := netip.ParseAddr(svc.Spec.ClusterIP)
		if perr == nil {
			perr = s.ips.Allocate(ip)
		}
		if perr != nil {
			return nil, invalidService(svc, field.NewPath("spec", "clusterIPs"), []string{svc.Spec.ClusterIP},
				fmt.Sprintf("failed to allocate IP %s: %v", svc.Spec.ClusterIP, perr))
		}
		gotIPs = append(gotIPs, ip)
	}
	if svc.Spec.ClusterIP != "" {
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone || len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		}
	}
	if oldIP != "" && oldIP != corev1.ClusterIPNone && svc.Spec.ClusterIP != oldIP {
		if ip, err := netip.ParseAddr(oldIP); err == nil {
			defer func() {
				if err == nil {
					s.ips.Release(ip)
				}
			}()
		}
	}

	oldPorts := map[int32]bool{}
	oldByKey := map[string]int32{}
	if old != nil {
		for _, p := range old.Spec.Ports {
			if p.NodePort != 0 {
				oldPorts[p.NodePort] = true
				oldByKey[portKey(p)] = p.NodePort
			}
		}
	}
	wantsNodePorts := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	keep := map[int32]bool{}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		switch {
		case !wantsNodePorts:
			p.NodePort = 0
		case p.NodePort == 0 && oldByKey[portKey(*p)] != 0:
			p.NodePort = oldByKey[portKey(*p)]
			keep[p.NodePort] = true
		case p.NodePort == 0:
			n, err := s.ports.AllocateNext()
			if err != nil {
				return nil, invalidService(svc, path, 0, err.Error())
			}
			gotPorts = append(gotPorts, n)
			p.NodePort = int32(n)
		case oldPorts[p.NodePort]:
			keep[p.NodePort] = true
		default:
			if err := s.ports.Allocate(int(p.NodePort)); err != nil {
				return nil, invalidService(svc, path, p.NodePort, err.Error())
			}
			gotPorts = append(gotPorts, int(p.NodePort))
		}
	}
	for p := range oldPorts {
		if !keep[p] {
			defer func() {
				if err == nil {
					s.ports.Release(int(p))
				}
			}()
		}
	}
	got, release, err := s.allocateHealthCheckNodePort(svc, old)
	if err != nil {
		return nil, err
	}
	if got != 0 {
		gotPorts = append(gotPorts, got)
	}
	if release != 0 {
		defer func() {
			if err == nil {
				s.ports.Release(release)
			}
		}()
	}
	return undo, nil
}

// NeedsHealthCheckNodePort is the API server's rule: only a LoadBalancer
// with externalTrafficPolicy Local has a health check port, through which a
// load balancer learns which nodes hold endpoints.
func NeedsHealthCheckNodePort(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// allocateHealthCheckNodePort gives svc its spec.healthCheckNodePort from
// the NodePort range, keeps the one old holds, and wipes it when svc no
// longer needs one. It returns the port it reserved and the port to free
// once the write succeeds (0 for none).
func (s *Server) allocateHealthCheckNodePort(svc, old *corev1.Service) (got, release int, err error) {
	path := field.NewPath("spec", "healthCheckNodePort")
	oldPort := int32(0)
	if old != nil && NeedsHealthCheckNodePort(old) {
		oldPort = old.Spec.HealthCheckNodePort
	}
	want := svc.Spec.HealthCheckNodePort
	switch {
	case !NeedsHealthCheckNodePort(svc):
		// Changing the type or the policy wipes it, as upstream does.
		svc.Spec.HealthCheckNodePort = 0
		return 0, int(oldPort), nil
	case want == 0 && oldPort != 0, want != 0 && want == oldPort:
		svc.Spec.HealthCheckNodePort = oldPort
		return 0, 0, nil
	case oldPort != 0:
		return 0, 0, apierrors.NewInvalid(schema.GroupKind{Kind: "Service"}, svc.Name, field.ErrorList{
			field.Forbidden(path, "field is immutable")})
	case want == 0:
		n, err := s.ports.AllocateNext()
		if err != nil {
			return 0, 0, invalidService(svc, path, 0, err.Error())
		}
		svc.Spec.HealthCheckNodePort = int32(n)
		return n, 0, nil
	default:
		if err := s.ports.Allocate(int(want)); err != nil {
			return 0, 0, invalidService(svc, path, want, err.Error())
		}
		return int(want), 0, nil
	}
}

func portKey(p corev1.ServicePort) string {
	return fmt.Sprintf("%s/%d/%s", p.Name, p.Port, p.Protocol)
}

// releaseAll frees what a deleted Service held.
func (s *Server) releaseAll(svc *corev1.Service) {
	if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil {
		s.ips.Release(ip)
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			s.ports.Release(int(p.NodePort))
		}
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		s.ports.Release(int(svc.Spec.HealthCheckNodePort))
	}
}
