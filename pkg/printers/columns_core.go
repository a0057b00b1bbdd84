package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/podnet/podnet/pkg/source"
)

// loadBalancerWidth is where kubectl clips EXTERNAL-IP and ADDRESS unless -o wide.
const loadBalancerWidth = 16

// listMax is how many endpoints kubectl lists before "+ N more...".
const listMax = 3

func serviceColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(), column("Type"), column("Cluster-IP"), column("External-IP"),
		column("Port(s)"), column("Age"), wideColumn("Selector"),
	}
}

func serviceRow(o source.Object, c cellContext) ([]any, error) {
	svc, err := typed[*corev1.Service](o)
	if err != nil {
		return nil, err
	}
	clusterIP := "<none>"
	if len(svc.Spec.ClusterIPs) > 0 {
		clusterIP = svc.Spec.ClusterIPs[0]
	} else if svc.Spec.ClusterIP != "" {
		clusterIP = svc.Spec.ClusterIP
	}
	ports := servicePorts(svc.Spec.Ports)
	if ports == "" {
		ports = "<none>"
	}
	return []any{
		svc.Name, string(serviceType(svc)), clusterIP, serviceExternalIP(svc, c.wide),
		ports, c.age(svc.CreationTimestamp), labels.FormatLabels(svc.Spec.Selector),
	}, nil
}

// serviceType is the type the API server defaults an empty one to.
func serviceType(svc *corev1.Service) corev1.ServiceType {
	if svc.Spec.Type == "" {
		return corev1.ServiceTypeClusterIP
	}
	return svc.Spec.Type
}

func servicePorts(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, p := range ports {
		proto := protocolOrTCP(p.Protocol)
		if p.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, proto)
		} else {
			pieces[i] = fmt.Sprintf("%d/%s", p.Port, proto)
		}
	}
	return strings.Join(pieces, ",")
}

func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func serviceExternalIP(svc *corev1.Service, wide bool) string {
	switch serviceType(svc) {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		var addrs []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			addrs = append(addrs, firstNonEmpty(in.IP, in.Hostname))
		}
		lb := clip(sortedUnique(addrs), wide)
		if len(svc.Spec.ExternalIPs) > 0 {
			var all []string
			if lb != "" {
				all = strings.Split(lb, ",")
			}
			return strings.Join(append(all, svc.Spec.ExternalIPs...), ",")
		}
		if lb != "" {
			return lb
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sortedUnique joins the distinct non-empty strings in order, as a string set
// prints.
func sortedUnique(in []string) string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func clip(s string, wide bool) string {
	if !wide && len(s) > loadBalancerWidth {
		return s[:loadBalancerWidth-3] + "..."
	}
	return s
}

func endpointsColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameColumn(), column("Endpoints"), column("Age")}
}

func endpointsRow(o source.Object, c cellContext) ([]any, error) {
	ep, err := typed[*corev1.Endpoints](o)
	if err != nil {
		return nil, err
	}
	return []any{ep.Name, formatEndpoints(ep), c.age(ep.CreationTimestamp)}, nil
}

// formatEndpoints lists ready address:port pairs, first three then a count.
func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	var list []string
	more := false
	count := 0
	add := func(s string) {
		count++
		if len(list) == listMax {
			more = true
			return
		}
		list = append(list, s)
	}
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			// Headless services may have no ports.
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	ret := strings.Join(list, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", ret, count-listMax)
	}
	return ret
}

func namespaceColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameColumn(), column("Status"), column("Age")}
}

func namespaceRow(o source.Object, c cellContext) ([]any, error) {
	ns, err := typed[*corev1.Namespace](o)
	if err != nil {
		return nil, err
	}
	return []any{ns.Name, string(ns.Status.Phase), c.age(ns.CreationTimestamp)}, nil
}

func nodeColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(), column("Status"), column("Roles"), column("Age"), column("Version"),
		wideColumn("Internal-IP"), wideColumn("External-IP"), wideColumn("OS-Image"),
		wideColumn("Kernel-Version"), wideColumn("Container-Runtime"),
	}
}

func nodeRow(o source.Object, c cellContext) ([]any, error) {
	node, err := typed[*corev1.Node](o)
	if err != nil {
		return nil, err
	}
	roles := strings.Join(nodeRoles(node), ",")
	info := node.Status.NodeInfo
	return []any{
		node.Name, nodeStatus(node), orNone(roles), c.age(node.CreationTimestamp), info.KubeletVersion,
		nodeAddress(node, corev1.NodeInternalIP), nodeAddress(node, corev1.NodeExternalIP),
		orUnknown(info.OSImage), orUnknown(info.KernelVersion), orUnknown(info.ContainerRuntimeVersion),
	}, nil
}

func nodeStatus(node *corev1.Node) string {
	var status []string
	for _, cond := range node.Status.Conditions {
		if cond.Type != corev1.NodeReady {
			continue
		}
		if cond.Status == corev1.ConditionTrue {
			status = append(status, string(cond.Type))
		} else {
			status = append(status, "Not"+string(cond.Type))
		}
	}
	if len(status) == 0 {
		status = append(status, "Unknown")
	}
	if node.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}
	return strings.Join(status, ",")
}

// nodeRoles reads node-role.kubernetes.io/<role> and kubernetes.io/role labels.
func nodeRoles(node *corev1.Node) []string {
	const rolePrefix, roleLabel = "node-role.kubernetes.io/", "kubernetes.io/role"
	var roles []string
	for k, v := range node.Labels {
		switch {
		case strings.HasPrefix(k, rolePrefix) && len(k) > len(rolePrefix):
			roles = append(roles, strings.TrimPrefix(k, rolePrefix))
		case k == roleLabel && v != "":
			roles = append(roles, v)
		}
	}
	return uniqueNonEmpty(roles)
}

// uniqueNonEmpty is the sorted set of the non-empty strings.
func uniqueNonEmpty(in []string) []string {
	s := sortedUnique(in)
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func nodeAddress(node *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range node.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

func configMapColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameColumn(), column("Data"), column("Age")}
}

func configMapRow(o source.Object, c cellContext) ([]any, error) {
	cm, err := typed[*corev1.ConfigMap](o)
	if err != nil {
		return nil, err
	}
	return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), c.age(cm.CreationTimestamp)}, nil
}

func secretColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameColumn(), column("Type"), column("Data"), column("Age")}
}

func secretRow(o source.Object, c cellContext) ([]any, error) {
	s, err := typed[*corev1.Secret](o)
	if err != nil {
		return nil, err
	}
	typ := s.Type
	if typ == "" {
		typ = corev1.SecretTypeOpaque // the API server's default
	}
	return []any{s.Name, string(typ), int64(secretKeys(s)), c.age(s.CreationTimestamp)}, nil
}

// secretKeys counts data keys; stringData is merged into data by the API
// server on write, so a manifest's stringData counts too.
func secretKeys(s *corev1.Secret) int {
	n := len(s.Data)
	for k := range s.StringData {
		if _, dup := s.Data[k]; !dup {
			n++
		}
	}
	return n
}

// eventColumns are the API server's columns for events (kubectl get events).
func eventColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		column("Last Seen"), column("Type"), column("Reason"), column("Object"),
		wideColumn("Subobject"), wideColumn("Source"), column("Message"),
		wideColumn("First Seen"), wideColumn("Count"), {Name: "Name", Type: "string", Format: "name", Priority: 1},
	}
}

func eventRow(o source.Object, c cellContext) ([]any, error) {
	ev, err := typed[*corev1.Event](o)
	if err != nil {
		return nil, err
	}
	first, last := c.age(ev.FirstTimestamp), c.age(ev.LastTimestamp)
	if ev.LastTimestamp.IsZero() {
		last = c.age(ev.CreationTimestamp)
	}
	if ev.Count > 1 {
		last = fmt.Sprintf("%s (x%d over %s)", last, ev.Count, first)
	}
	src := ev.Source.Component
	if ev.Source.Host != "" {
		src += ", " + ev.Source.Host
	}
	object := strings.ToLower(ev.InvolvedObject.Kind) + "/" + ev.InvolvedObject.Name
	return []any{last, ev.Type, ev.Reason, object, ev.InvolvedObject.FieldPath, src, strings.TrimSpace(ev.Message),
		first, int64(ev.Count), ev.Name}, nil
}
