package dns

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	mdns "github.com/miekg/dns"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	"github.com/podnet/podnet/pkg/source"
)

// answers renders every answer a zone gives for the names of both zones:
// each Service's name, SRV and endpoint names, every PTR, every namespace.
func answers(zs ...*Zone) []string {
	var names []string
	var addrs []netip.Addr
	nss := map[string]bool{}
	for _, z := range zs {
		for k, svc := range z.services {
			names = append(names, svc.fqdn, "_http._tcp."+svc.fqdn)
			for _, ep := range svc.endpoints {
				names = append(names, ep.fqdn)
			}
			nss[k.namespace] = true
		}
		for ip := range z.servicePTR {
			addrs = append(addrs, ip)
		}
		for ip := range z.endpointPTR {
			addrs = append(addrs, ip)
		}
		for ns := range z.namespaces {
			nss[ns] = true
		}
	}
	for ns := range nss {
		names = append(names, ns+".svc.cluster.local.")
	}
	for _, a := range addrs {
		r, _ := mdns.ReverseAddr(a.String())
		names = append(names, r)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var out []string
	for _, n := range names {
		for _, qt := range []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypeSRV, mdns.TypePTR} {
			r := zs[0].Lookup(n, qt)
			out = append(out, fmt.Sprintf("%s %s %s %q %q", n, mdns.TypeToString[qt], mdns.RcodeToString[r.Rcode], zoneLines(r.Answer), zoneLines(r.Extra)))
		}
	}
	return out
}

// TestUpdateAnswersAsCompile applies random changes (Services added,
// changed and deleted; endpoints added, turned unready, moved to another
// Service by relabelling their slice, deleted) and checks after each that
// the incrementally updated zone answers every name exactly as a zone
// compiled from scratch.
func TestUpdateAnswersAsCompile(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	st := source.NewStatic(clusterObjects()...)
	in := func() Inputs {
		var objs []source.Object
		for _, k := range []source.Kind{source.Namespace, source.Service, source.EndpointSlice} {
			objs = append(objs, st.List(k)...)
		}
		return inputsOf(Config{}, objs)
	}
	z := Compile(in())
	for step := range 300 {
		var changed []ServiceKey
		name := fmt.Sprintf("s%d", r.IntN(8))
		ns := []string{"default", "remote", "fresh"}[r.IntN(3)]
		switch op := r.IntN(6); op {
		case 0: // a ClusterIP Service, maybe with a new IP
			st.Set(clusterIPService(ns, name, []string{fmt.Sprintf("10.96.9.%d", r.IntN(20)+1)}, tcpPort("http", 80)))
			changed = append(changed, ServiceKey{ns, name})
		case 1: // the same name turned headless
			st.Set(headlessService(ns, name, tcpPort("http", 80)))
			changed = append(changed, ServiceKey{ns, name})
		case 2: // delete the Service
			st.Delete(headlessService(ns, name))
			changed = append(changed, ServiceKey{ns, name})
		case 3, 4: // a slice for it, perhaps taken from another Service
			slice := fmt.Sprintf("slice%d", r.IntN(6))
			if old, ok := z.OwnerOf(ns, slice); ok {
				changed = append(changed, old)
			}
			var eps []discoveryv1.Endpoint
			for i := range r.IntN(3) {
				host := ""
				if r.IntN(2) == 0 {
					host = fmt.Sprintf("h%d", i)
				}
				eps = append(eps, endpoint4(fmt.Sprintf("10.244.9.%d", r.IntN(10)+1), host, ptr.To(r.IntN(4) > 0)))
			}
			st.Set(endpointSlice(ns, slice, name, discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{slicePort("http", 8080)}, eps...))
			changed = append(changed, ServiceKey{ns, name})
		case 5: // delete a slice
			slice := fmt.Sprintf("slice%d", r.IntN(6))
			if old, ok := z.OwnerOf(ns, slice); ok {
				changed = append(changed, old)
			}
			st.Delete(endpointSlice(ns, slice, name, discoveryv1.AddressTypeIPv4, nil))
		}
		if r.IntN(10) == 0 {
			st.Set(namespace("fresh"))
		}
		next := in()
		inc := Update(z, next, changed)
		full := Compile(next)
		if a, b := answers(inc, full), answers(full, inc); !slices.Equal(a, b) {
			for i := range min(len(a), len(b)) {
				if a[i] != b[i] {
					t.Fatalf("step %d: the updated zone answers\n%s\nwhere a compiled one answers\n%s", step, a[i], b[i])
				}
			}
			t.Fatalf("step %d: %d vs %d answers", step, len(a), len(b))
		}
		z = inc
	}
}
