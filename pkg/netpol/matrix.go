package netpol

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Cell is one verdict of a matrix.
type Cell struct {
	From     string          `json:"from"`
	To       string          `json:"to"`
	Port     int32           `json:"port"`
	Protocol corev1.Protocol `json:"protocol"`
	Allowed  bool            `json:"allowed"`
}

// Matrix is every pod × pod × port verdict, sorted by source, destination,
// protocol and port.
type Matrix struct {
	Pods  []string // every pod, sorted
	Cells []Cell
}

// PortsFor is what the matrix probes on destination p: the given ports if
// any, else the ports p declares, else the target ports of its Services.
func PortsFor(p *Pod, given []PortProto) []PortProto {
	if len(given) > 0 {
		return given
	}
	var out []PortProto
	for _, cp := range p.Ports {
		pp := PortProto{Port: cp.Port, Protocol: cp.Protocol}
		if !slices.Contains(out, pp) {
			out = append(out, pp)
		}
	}
	if len(out) == 0 {
		out = append(out, p.ServicePorts...)
	}
	slices.SortFunc(out, comparePortProto)
	return out
}

func comparePortProto(a, b PortProto) int {
	if a.Protocol != b.Protocol {
		if a.Protocol < b.Protocol {
			return -1
		}
		return 1
	}
	return int(a.Port - b.Port)
}

type classPair struct {
	from, to int
	pp       PortProto
}

// Matrix evaluates every pair of pods on PortsFor(destination, ports).
// Pairs of classes are evaluated once and shared by their members.
func (e *Engine) Matrix(ports []PortProto) *Matrix {
	m := &Matrix{}
	for _, p := range e.Cluster.Pods {
		m.Pods = append(m.Pods, p.Key())
	}
	cache := map[classPair]bool{}
	dstPorts := make([][]PortProto, len(e.Cluster.Pods))
	for i, dst := range e.Cluster.Pods {
		dstPorts[i] = PortsFor(dst, ports)
	}
	for _, src := range e.Cluster.Pods {
		sc := e.classOf[src]
		for i, dst := range e.Cluster.Pods {
			dc := e.classOf[dst]
			for _, pp := range dstPorts[i] {
				cell := Cell{From: src.Key(), To: dst.Key(), Port: pp.Port, Protocol: pp.Protocol}
				if src == dst {
					cell.Allowed = true
				} else {
					k := classPair{sc.id, dc.id, pp}
					allowed, ok := cache[k]
					if !ok {
						a, b := sc.rep, dc.rep
						if a == b {
							b = sc.members[1] // two pods of one class
						}
						allowed = e.Allowed(PodEndpoint(a), PodEndpoint(b), pp.Port, pp.Protocol)
						cache[k] = allowed
					}
					cell.Allowed = allowed
				}
				m.Cells = append(m.Cells, cell)
			}
		}
	}
	return m
}
