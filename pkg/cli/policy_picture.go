package cli

import (
	"fmt"
	"html"
	"io"
)

// Colours of the matrix pictures: allowed, denied, not evaluated.
const (
	colourAllowed = "#3c9a4a"
	colourDenied  = "#c8372d"
	colourNone    = "#dddddd"
)

func cellColour(mark string) string {
	switch mark {
	case ".":
		return colourAllowed
	case "X":
		return colourDenied
	}
	return colourNone
}

// writeMatrixSVG draws each port's truth table as a grid of squares, sources
// down the left, destinations along the top.
func writeMatrixSVG(w io.Writer, gs []*grid) error {
	const cell, label, gap = 16, 8 * 24, 40
	longest := 0
	for _, g := range gs {
		for _, p := range g.pods {
			longest = max(longest, len(p))
		}
	}
	labelW := min(label, 7*longest+10)
	n := 0
	if len(gs) > 0 {
		n = len(gs[0].pods)
	}
	blockH := labelW + n*cell + gap
	width := labelW + n*cell + 20
	height := len(gs)*blockH + 30
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="monospace" font-size="11">`+"\n", width, height)
	fmt.Fprintf(w, `<text x="4" y="14" font-size="12">green: allowed, red: denied, grey: port not declared by the destination</text>`+"\n")
	for b, g := range gs {
		top := 30 + b*blockH
		fmt.Fprintf(w, `<g><title>%s</title><text x="4" y="%d" font-weight="bold">%s</text>`+"\n", g.pp, top+12, g.pp)
		for j, to := range g.pods {
			x := labelW + j*cell + cell/2 + 4
			fmt.Fprintf(w, `<text transform="translate(%d,%d) rotate(-90)">%s</text>`+"\n", x, top+labelW-4, html.EscapeString(to))
		}
		for i, from := range g.pods {
			y := top + labelW + i*cell
			fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-4, y+cell-4, html.EscapeString(from))
			for j, to := range g.pods {
				mark := g.mark(i, j)
				fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="#fff"><title>%s -> %s %s: %s</title></rect>`+"\n",
					labelW+j*cell, y, cell, cell, cellColour(mark), html.EscapeString(from), html.EscapeString(to), g.pp, word(mark))
			}
		}
		fmt.Fprintln(w, "</g>")
	}
	_, err := fmt.Fprintln(w, "</svg>")
	return err
}

func word(mark string) string {
	switch mark {
	case ".":
		return "allowed"
	case "X":
		return "denied"
	}
	return "not evaluated"
}

// writeMatrixHTML is a standalone page: one coloured table per port, each
// cell titled with its verdict.
func writeMatrixHTML(w io.Writer, gs []*grid) error {
	fmt.Fprintln(w, `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>podnet policy matrix</title>
<style>
body{font-family:sans-serif} table{border-collapse:collapse;margin-bottom:2em}
td,th{border:1px solid #fff;font:12px monospace;padding:2px 4px;text-align:center}
th.to{writing-mode:vertical-rl;transform:rotate(180deg)} th.from{text-align:right}
td.a{background:`+colourAllowed+`;color:#fff} td.d{background:`+colourDenied+`;color:#fff} td.n{background:`+colourNone+`}
</style></head><body>
<h1>Policy matrix</h1><p>Rows: source pods. Columns: destination pods.
<span style="color:`+colourAllowed+`">&#9632;</span> allowed,
<span style="color:`+colourDenied+`">&#9632;</span> denied, grey: port not declared by the destination.</p>`)
	for _, g := range gs {
		fmt.Fprintf(w, "<h2>%s</h2>\n<table><tr><th></th>", g.pp)
		for _, to := range g.pods {
			fmt.Fprintf(w, `<th class="to">%s</th>`, html.EscapeString(to))
		}
		fmt.Fprintln(w, "</tr>")
		for i, from := range g.pods {
			fmt.Fprintf(w, `<tr><th class="from">%s</th>`, html.EscapeString(from))
			for j, to := range g.pods {
				mark := g.mark(i, j)
				class := map[string]string{".": "a", "X": "d", "-": "n"}[mark]
				fmt.Fprintf(w, `<td class="%s" title="%s -&gt; %s %s: %s">%s</td>`, class,
					html.EscapeString(from), html.EscapeString(to), g.pp, word(mark), mark)
			}
			fmt.Fprintln(w, "</tr>")
		}
		fmt.Fprintln(w, "</table>")
	}
	_, err := fmt.Fprintln(w, "</body></html>")
	return err
}
