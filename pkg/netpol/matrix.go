package netpol

import (
	"iter"
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
// protocol and port: every source has the same row, every pod as a
// destination on PortsFor that pod. It keeps one bit per verdict (a
// million verdicts are a normal matrix: 1,000 pods); Cells reads them out.
type Matrix struct {
	Pods []string // every pod, sorted

	// Every source's row of cells has the same layout: destination j's
	// ports start at colStart[j] of the row, in the order of dstPorts[j].
	dstPorts [][]PortProto
	colStart []int
	rowLen   int
	allowed  podSet // by cell number: source × rowLen + column
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

// Matrix evaluates every pair of pods on PortsFor(destination, ports).
//
// Rather than deciding pair by pair, it asks the model, per port, which
// pods each pod's egress lets it reach and which pods each pod's ingress
// lets in (decideAll, shared by the pods of a class); a cell is allowed
// when both sets say so, or when a pod reaches itself. The answers are
// exactly Allowed's (TestMatrixEqualsPairByPair).
func (e *Engine) Matrix(ports []PortProto) *Matrix {
	pods := e.Cluster.Pods
	m := &Matrix{Pods: make([]string, len(pods)), dstPorts: make([][]PortProto, len(pods)), colStart: make([]int, len(pods))}
	var all []PortProto
	for j, p := range pods {
		m.Pods[j] = p.Key()
		m.dstPorts[j] = PortsFor(p, ports)
		m.colStart[j] = m.rowLen
		m.rowLen += len(m.dstPorts[j])
		for _, pp := range m.dstPorts[j] {
			if !slices.Contains(all, pp) {
				all = append(all, pp)
			}
		}
	}
	// egress[k][i]: the pods pod i may send to on port all[k];
	// ingress[k][j]: the pods pod j may receive from on it.
	egress, ingress := make([][]podSet, len(all)), make([][]podSet, len(all))
	for k, pp := range all {
		egress[k], ingress[k] = make([]podSet, len(pods)), make([]podSet, len(pods))
		for i, p := range pods {
			egress[k][i] = e.decideAll(Egress, p, pp)
		}
		for j, p := range pods {
			if slices.Contains(m.dstPorts[j], pp) {
				ingress[k][j] = e.decideAll(Ingress, p, pp)
			}
		}
	}
	portIdx := make([][]int, len(pods))
	for j := range pods {
		for _, pp := range m.dstPorts[j] {
			portIdx[j] = append(portIdx[j], slices.Index(all, pp))
		}
	}
	m.allowed = newPodSet(m.Len())
	cell := 0
	for i := range pods {
		for j := range pods {
			for _, k := range portIdx[j] {
				if i == j || egress[k][i].has(j) && ingress[k][j].has(i) {
					m.allowed.add(cell)
				}
				cell++
			}
		}
	}
	return m
}

// Len is the number of cells.
func (m *Matrix) Len() int { return len(m.Pods) * m.rowLen }

// Cells yields every cell in order.
func (m *Matrix) Cells() iter.Seq[Cell] {
	return func(yield func(Cell) bool) {
		cell := 0
		for _, from := range m.Pods {
			for j, to := range m.Pods {
				for _, pp := range m.dstPorts[j] {
					if !yield(Cell{From: from, To: to, Port: pp.Port, Protocol: pp.Protocol, Allowed: m.allowed.has(cell)}) {
						return
					}
					cell++
				}
			}
		}
	}
}

// Ports lists every port the matrix evaluates on some destination, sorted.
func (m *Matrix) Ports() []PortProto {
	var out []PortProto
	for _, pps := range m.dstPorts {
		for _, pp := range pps {
			if !slices.Contains(out, pp) {
				out = append(out, pp)
			}
		}
	}
	slices.SortFunc(out, comparePortProto)
	return out
}

// At is the cell of source Pods[from] to destination Pods[to] on pp; ok is
// false when the destination is not evaluated on pp.
func (m *Matrix) At(from, to int, pp PortProto) (c Cell, ok bool) {
	n := slices.Index(m.dstPorts[to], pp)
	if n < 0 {
		return Cell{}, false
	}
	allowed := m.allowed.has(from*m.rowLen + m.colStart[to] + n)
	return Cell{From: m.Pods[from], To: m.Pods[to], Port: pp.Port, Protocol: pp.Protocol, Allowed: allowed}, true
}
