package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"github.com/podnet/podnet/pkg/netpol"
)

// writeData prints v as json or yaml; ok is false for other formats.
func writeData(w io.Writer, format string, v any) (ok bool, err error) {
	switch format {
	case "json":
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return true, err
		}
		_, err = fmt.Fprintf(w, "%s\n", data)
		return true, err
	case "yaml":
		// sigs.k8s.io/yaml quotes strings YAML 1.1 would read as booleans
		// (a namespace called "y"), so the output reads back the same.
		data, err := yaml.Marshal(v)
		if err != nil {
			return true, err
		}
		_, err = w.Write(data)
		return true, err
	}
	return false, nil
}

// writeRows prints a table (kubectl style), csv or markdown.
func writeRows(w io.Writer, format string, header []string, rows [][]string) error {
	switch format {
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
		upper := make([]string, len(header))
		for i, h := range header {
			upper[i] = strings.ToUpper(h)
		}
		fmt.Fprintln(tw, strings.Join(upper, "\t"))
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		return tw.Flush()
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(header)
		cw.WriteAll(rows)
		return cw.Error()
	case "md":
		writeMarkdown(w, header, rows)
		return nil
	}
	return unknownFormat(format)
}

func unknownFormat(format string) error {
	return fmt.Errorf("unable to match a printer suitable for the output format %q", format)
}

func writeMarkdown(w io.Writer, header []string, rows [][]string) {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	fmt.Fprintf(w, "| %s |\n", strings.Join(header, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat(" --- |", len(header)))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = esc(c)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}

// grid is one port/protocol of a matrix as a truth table: rows are sources,
// columns destinations; "." allowed, "X" denied, "-" not evaluated (the
// destination does not declare that port).
type grid struct {
	pp    netpol.PortProto
	pods  []string
	cells map[[2]string]bool
}

func (g *grid) mark(from, to string) string {
	allowed, ok := g.cells[[2]string{from, to}]
	switch {
	case !ok:
		return "-"
	case allowed:
		return "."
	}
	return "X"
}

func grids(m *netpol.Matrix) []*grid {
	byPort := map[netpol.PortProto]*grid{}
	var order []netpol.PortProto
	for _, c := range m.Cells {
		pp := netpol.PortProto{Port: c.Port, Protocol: c.Protocol}
		g := byPort[pp]
		if g == nil {
			g = &grid{pp: pp, pods: m.Pods, cells: map[[2]string]bool{}}
			byPort[pp] = g
			order = append(order, pp)
		}
		g.cells[[2]string{c.From, c.To}] = c.Allowed
	}
	slices.SortFunc(order, func(a, b netpol.PortProto) int {
		if a.Protocol != b.Protocol {
			return strings.Compare(string(a.Protocol), string(b.Protocol))
		}
		return int(a.Port - b.Port)
	})
	out := make([]*grid, len(order))
	for i, pp := range order {
		out[i] = byPort[pp]
	}
	return out
}

func writeMatrix(w io.Writer, format string, m *netpol.Matrix) error {
	cells := m.Cells
	if cells == nil {
		cells = []netpol.Cell{}
	}
	if ok, err := writeData(w, format, cells); ok {
		return err
	}
	switch format {
	case "table", "":
		gs := grids(m)
		if len(gs) == 0 {
			fmt.Fprintln(w, "No pod declares a port to evaluate; name some with --ports 80/TCP.")
			return nil
		}
		for i, g := range gs {
			if i > 0 {
				fmt.Fprintln(w)
			}
			tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
			fmt.Fprintf(tw, "%s\t%s\n", g.pp, strings.Join(g.pods, "\t"))
			for _, from := range g.pods {
				row := make([]string, len(g.pods))
				for j, to := range g.pods {
					row[j] = g.mark(from, to)
				}
				fmt.Fprintf(tw, "%s\t%s\n", from, strings.Join(row, "\t"))
			}
			tw.Flush()
		}
		return nil
	case "csv":
		rows := make([][]string, len(cells))
		for i, c := range cells {
			rows[i] = []string{c.From, c.To, fmt.Sprint(c.Port), string(c.Protocol), fmt.Sprint(c.Allowed)}
		}
		return writeRows(w, "csv", []string{"from", "to", "port", "protocol", "allowed"}, rows)
	case "md":
		for i, g := range grids(m) {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "**%s** (rows: from, columns: to; `.` allowed, `X` denied, `-` port not declared)\n\n", g.pp)
			var rows [][]string
			for _, from := range g.pods {
				row := []string{from}
				for _, to := range g.pods {
					row = append(row, g.mark(from, to))
				}
				rows = append(rows, row)
			}
			writeMarkdown(w, append([]string{"from \\ to"}, g.pods...), rows)
		}
		return nil
	case "dot":
		return writeDot(w, m.Pods, allowedEdges(cells), nil)
	case "svg":
		return writeMatrixSVG(w, grids(m))
	case "html":
		return writeMatrixHTML(w, grids(m))
	}
	return unknownFormat(format)
}

// allowedEdges groups allowed cells by pod pair, labelled with their ports,
// leaving out a pod's connections to itself.
func allowedEdges(cells []netpol.Cell) map[[2]string][]string {
	edges := map[[2]string][]string{}
	for _, c := range cells {
		if c.Allowed && c.From != c.To {
			k := [2]string{c.From, c.To}
			edges[k] = append(edges[k], fmt.Sprintf("%s %d", c.Protocol, c.Port))
		}
	}
	return edges
}

// writeDot prints a Graphviz digraph; removed edges (diff) are red and dashed.
func writeDot(w io.Writer, pods []string, added, removed map[[2]string][]string) error {
	fmt.Fprintln(w, "digraph connectivity {")
	fmt.Fprintln(w, "  rankdir=LR;")
	fmt.Fprintln(w, "  node [shape=box, style=rounded];")
	byNS := map[string][]string{}
	var nss []string
	for _, p := range pods {
		ns, _, _ := strings.Cut(p, "/")
		if _, ok := byNS[ns]; !ok {
			nss = append(nss, ns)
		}
		byNS[ns] = append(byNS[ns], p)
	}
	for i, ns := range nss {
		fmt.Fprintf(w, "  subgraph cluster_%d {\n    label=%q;\n", i, ns)
		for _, p := range byNS[ns] {
			fmt.Fprintf(w, "    %q;\n", p)
		}
		fmt.Fprintln(w, "  }")
	}
	edge := func(edges map[[2]string][]string, attrs string) {
		keys := make([][2]string, 0, len(edges))
		for k := range edges {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b [2]string) int {
			if c := strings.Compare(a[0], b[0]); c != 0 {
				return c
			}
			return strings.Compare(a[1], b[1])
		})
		for _, k := range keys {
			fmt.Fprintf(w, "  %q -> %q [label=%q%s];\n", k[0], k[1], strings.Join(edges[k], ","), attrs)
		}
	}
	if removed == nil {
		edge(added, "")
	} else {
		edge(added, ", color=green4")
		edge(removed, ", color=red, style=dashed")
	}
	fmt.Fprintln(w, "}")
	return nil
}

func writeExplanations(w io.Writer, format string, xs []netpol.Explanation) error {
	if ok, err := writeData(w, format, xs); ok {
		return err
	}
	if format != "table" && format != "" {
		return unknownFormat(format)
	}
	for i, x := range xs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprint(w, x.Text())
	}
	return nil
}

func writeFindings(w io.Writer, format string, fs []netpol.Finding) error {
	if fs == nil {
		fs = []netpol.Finding{}
	}
	if ok, err := writeData(w, format, fs); ok {
		return err
	}
	if len(fs) == 0 && (format == "table" || format == "") {
		fmt.Fprintln(w, "No findings.")
		return nil
	}
	rows := make([][]string, len(fs))
	for i, f := range fs {
		rows[i] = []string{f.Policy, f.Field, f.Check, f.Message}
	}
	return writeRows(w, format, []string{"policy", "field", "check", "message"}, rows)
}

func writeChanges(w io.Writer, format string, cs []netpol.Change) error {
	if cs == nil {
		cs = []netpol.Change{}
	}
	if ok, err := writeData(w, format, cs); ok {
		return err
	}
	if format == "dot" {
		added, removed := map[[2]string][]string{}, map[[2]string][]string{}
		var pods []string
		for _, c := range cs {
			target := added
			if c.Change == "removed" {
				target = removed
			}
			k := [2]string{c.From, c.To}
			target[k] = append(target[k], fmt.Sprintf("%s %d", c.Protocol, c.Port))
			for _, p := range k {
				if !slices.Contains(pods, p) {
					pods = append(pods, p)
				}
			}
		}
		slices.Sort(pods)
		return writeDot(w, pods, added, removed)
	}
	if len(cs) == 0 && (format == "table" || format == "") {
		fmt.Fprintln(w, "No connectivity changes.")
		return nil
	}
	rows := make([][]string, len(cs))
	for i, c := range cs {
		sign := "+"
		if c.Change == "removed" {
			sign = "-"
		}
		rows[i] = []string{sign, c.From, c.To, fmt.Sprintf("%d/%s", c.Port, c.Protocol), c.Change}
	}
	return writeRows(w, format, []string{"", "from", "to", "port", "change"}, rows)
}
