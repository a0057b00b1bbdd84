package printers

import (
	"fmt"
	"strconv"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podnet/podnet/pkg/source"
)

func endpointSliceColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(), column("AddressType"), column("Ports"), column("Endpoints"), column("Age"),
	}
}

func endpointSliceRow(o source.Object, c cellContext) ([]any, error) {
	s, err := typed[*discoveryv1.EndpointSlice](o)
	if err != nil {
		return nil, err
	}
	var ports []string
	for _, p := range s.Ports {
		switch {
		case p.Port != nil:
			ports = append(ports, strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			ports = append(ports, *p.Name)
		default:
			ports = append(ports, "*")
		}
	}
	var addrs []string
	for _, e := range s.Endpoints {
		addrs = append(addrs, e.Addresses...)
	}
	return []any{
		s.Name, string(s.AddressType), listWithMore(ports), listWithMore(addrs), c.age(s.CreationTimestamp),
	}, nil
}

// listWithMore shows three items then "+ N more...", or "<unset>" for none.
func listWithMore(items []string) string {
	if len(items) == 0 {
		return "<unset>"
	}
	if len(items) > listMax {
		return fmt.Sprintf("%s + %d more...", strings.Join(items[:listMax], ","), len(items)-listMax)
	}
	return strings.Join(items, ",")
}

func networkPolicyColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameColumn(), column("Pod-Selector"), column("Age")}
}

func networkPolicyRow(o source.Object, c cellContext) ([]any, error) {
	np, err := typed[*networkingv1.NetworkPolicy](o)
	if err != nil {
		return nil, err
	}
	return []any{np.Name, metav1.FormatLabelSelector(&np.Spec.PodSelector), c.age(np.CreationTimestamp)}, nil
}

func ingressColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(), column("Class"), column("Hosts"), column("Address"), column("Ports"), column("Age"),
	}
}

func ingressRow(o source.Object, c cellContext) ([]any, error) {
	ing, err := typed[*networkingv1.Ingress](o)
	if err != nil {
		return nil, err
	}
	class := "<none>"
	if ing.Spec.IngressClassName != nil {
		class = *ing.Spec.IngressClassName
	}
	var addrs []string
	for _, in := range ing.Status.LoadBalancer.Ingress {
		addrs = append(addrs, firstNonEmpty(in.IP, in.Hostname))
	}
	ports := "80"
	if len(ing.Spec.TLS) > 0 {
		ports = "80, 443"
	}
	return []any{
		ing.Name, class, ingressHosts(ing.Spec.Rules), clip(sortedUnique(addrs), c.wide), ports,
		c.age(ing.CreationTimestamp),
	}, nil
}

// ingressHosts lists the first three rules' hosts; "*" when none names one.
func ingressHosts(rules []networkingv1.IngressRule) string {
	var list []string
	more := false
	for _, r := range rules {
		if len(list) == listMax {
			more = true
		}
		if !more && r.Host != "" {
			list = append(list, r.Host)
		}
	}
	if len(list) == 0 {
		return "*"
	}
	if more {
		return fmt.Sprintf("%s + %d more...", strings.Join(list, ","), len(rules)-listMax)
	}
	return strings.Join(list, ",")
}
