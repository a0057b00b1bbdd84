package cli

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

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
// columns destinations (both by index in m.Pods); "." allowed, "X" denied,
// "-" not evaluated (the destination does not declare that port).
type grid struct {
	pp   netpol.PortProto
	pods []string
	m    *netpol.Matrix
}

func (g *grid) mark(from, to int) string {
	c, ok := g.m.At(from, to, g.pp)
	switch {
	case !ok:
		return "-"
	case c.Allowed:
		return "."
	}
	return "X"
}

func grids(m *netpol.Matrix) []*grid {
	var out []*grid
	for _, pp := range m.Ports() {
		out = append(out, &grid{pp: pp, pods: m.Pods, m: m})
	}
	return out
}

// writeMatrix prints a matrix of any size in time linear in its cells,
// buffered, without holding a second copy of it: a million verdicts are a
// normal input (1,000 pods).
func writeMatrix(out io.Writer, format string, m *netpol.Matrix) error {
	w := bufio.NewWriterSize(out, 1<<16)
	if err := writeMatrixTo(w, format, m); err != nil {
		return err
	}
	return w.Flush()
}

func writeMatrixTo(w *bufio.Writer, format string, m *netpol.Matrix) error {
	switch format {
	case "json":
		return writeCellsJSON(w, m.Len(), m.Len()/max(len(m.Pods), 1), m.Cells())
	case "yaml":
		return writeCellsYAML(w, m.Len(), m.Cells())
	case "table", "":
		gs := grids(m)
		if len(gs) == 0 {
			fmt.Fprintln(w, "No pod declares a port to evaluate; name some with --ports 80/TCP.")
			return nil
		}
		for i, g := range gs {
			if i > 0 {
				w.WriteByte('\n')
			}
			writeGridTable(w, g)
		}
		return nil
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write([]string{"from", "to", "port", "protocol", "allowed"})
		row := make([]string, 5)
		for c := range m.Cells() {
			row[0], row[1], row[2], row[3], row[4] = c.From, c.To, strconv.Itoa(int(c.Port)), string(c.Protocol), strconv.FormatBool(c.Allowed)
			cw.Write(row)
		}
		cw.Flush()
		return cw.Error()
	case "md":
		for i, g := range grids(m) {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "**%s** (rows: from, columns: to; `.` allowed, `X` denied, `-` port not declared)\n\n", g.pp)
			esc := strings.NewReplacer("|", `\|`)
			w.WriteString("| from \\ to |")
			for _, p := range g.pods {
				w.WriteString(" " + p + " |")
			}
			fmt.Fprintf(w, "\n|%s\n", strings.Repeat(" --- |", len(g.pods)+1))
			for i, from := range g.pods {
				w.WriteString("| " + esc.Replace(from) + " |")
				for j := range g.pods {
					w.WriteString(" " + g.mark(i, j) + " |")
				}
				w.WriteByte('\n')
			}
		}
		return nil
	case "dot":
		return writeDot(w, m.Pods, allowedEdges(m.Cells()), nil)
	case "svg":
		return writeMatrixSVG(w, grids(m))
	case "html":
		return writeMatrixHTML(w, grids(m))
	}
	return unknownFormat(format)
}

// writeGridTable prints one grid as text/tabwriter would with the settings
// of writeRows (padding 1, spaces), but with the column widths known up
// front, so nothing is buffered: the first column is as wide as the
// longest source, each other as wide as its destination's name.
func writeGridTable(w *bufio.Writer, g *grid) {
	first := utf8.RuneCountInString(g.pp.String())
	for _, p := range g.pods {
		first = max(first, utf8.RuneCountInString(p))
	}
	pad := func(s string, width int) {
		w.WriteString(s)
		for n := utf8.RuneCountInString(s); n < width+1; n++ {
			w.WriteByte(' ')
		}
	}
	// Every cell but a line's last is padded to its column's width.
	line := func(head string, cell func(j int) string) {
		last := len(g.pods) - 1
		if last < 0 {
			w.WriteString(head)
			w.WriteByte('\n')
			return
		}
		pad(head, first)
		for j := 0; j < last; j++ {
			pad(cell(j), max(utf8.RuneCountInString(g.pods[j]), 1))
		}
		w.WriteString(cell(last))
		w.WriteByte('\n')
	}
	line(g.pp.String(), func(j int) string { return g.pods[j] })
	for i, from := range g.pods {
		line(from, func(j int) string { return g.mark(i, j) })
	}
}

// writeCellsJSON prints cells exactly as json.MarshalIndent(cells, "", "  ")
// followed by a newline would, one cell at a time. Every source's row of
// a matrix has the same destinations and ports (rowLen cells), so the text
// after "from" is made once per column and reused for every row.
func writeCellsJSON(w *bufio.Writer, n, rowLen int, cells iter.Seq[netpol.Cell]) error {
	if n == 0 {
		_, err := w.WriteString("[]\n")
		return err
	}
	var b bytes.Buffer
	column := func(c netpol.Cell) string {
		b.Reset()
		bw := bufio.NewWriter(&b)
		bw.WriteString(",\n    \"to\": ")
		writeJSONString(bw, c.To)
		fmt.Fprintf(bw, ",\n    \"port\": %d,\n    \"protocol\": ", c.Port)
		writeJSONString(bw, string(c.Protocol))
		bw.WriteString(",\n    \"allowed\": ")
		bw.Flush()
		return b.String()
	}
	columns := make([]string, 0, rowLen)
	var from, head string
	i := 0
	w.WriteString("[\n")
	for c := range cells {
		if i == 0 || c.From != from {
			from = c.From
			b.Reset()
			bw := bufio.NewWriter(&b)
			bw.WriteString("  {\n    \"from\": ")
			writeJSONString(bw, c.From)
			bw.Flush()
			head = b.String()
		}
		col := i % rowLen
		if col == len(columns) {
			columns = append(columns, column(c))
		}
		w.WriteString(head)
		w.WriteString(columns[col])
		if c.Allowed {
			w.WriteString("true")
		} else {
			w.WriteString("false")
		}
		if i++; i < n {
			w.WriteString("\n  },\n")
		} else {
			w.WriteString("\n  }\n")
		}
	}
	_, err := w.WriteString("]\n")
	return err
}

// writeJSONString writes s as encoding/json would. Pod names need no
// escapes (validation keeps them to DNS characters), so the common case is
// a copy between quotes.
func writeJSONString(w *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			w.Write(b)
			return
		}
	}
	w.WriteByte('"')
	w.WriteString(s)
	w.WriteByte('"')
}

// writeCellsYAML prints cells exactly as sigs.k8s.io/yaml would (keys in
// order, strings quoted where YAML 1.1 would misread them), one at a time.
func writeCellsYAML(w *bufio.Writer, n int, cells iter.Seq[netpol.Cell]) error {
	if n == 0 {
		_, err := w.WriteString("[]\n")
		return err
	}
	scalar := map[string]string{}
	q := func(s string) (string, error) {
		if v, ok := scalar[s]; ok {
			return v, nil
		}
		b, err := yaml.Marshal(s)
		if err != nil {
			return "", err
		}
		scalar[s] = strings.TrimSuffix(string(b), "\n")
		return scalar[s], nil
	}
	for c := range cells {
		from, err := q(c.From)
		if err != nil {
			return err
		}
		to, err := q(c.To)
		if err != nil {
			return err
		}
		proto, err := q(string(c.Protocol))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "- allowed: %t\n  from: %s\n  port: %d\n  protocol: %s\n  to: %s\n", c.Allowed, from, c.Port, proto, to)
	}
	return nil
}

// allowedEdges groups allowed cells by pod pair, labelled with their ports,
// leaving out a pod's connections to itself.
func allowedEdges(cells iter.Seq[netpol.Cell]) map[[2]string][]string {
	edges := map[[2]string][]string{}
	for c := range cells {
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
