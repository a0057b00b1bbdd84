// Package corefile reads the subset of CoreDNS's Corefile that podnet's DNS
// server implements, and rejects everything else with an error naming the
// line, so a configuration is either applied whole or not at all.
package corefile

import (
	"fmt"
	"strings"
)

// token is one word of the Corefile with the line it is on.
type token struct {
	text   string
	line   int
	quoted bool
}

// lex splits a Corefile into lines of tokens. Words are separated by blanks,
// so a brace opens or closes a block only as a word of its own ("{1}" in a
// rewrite is a word); "#" starts a comment outside quotes; double quotes
// group words.
func lex(text string) ([][]token, error) {
	var lines [][]token
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		var line []token
		var cur strings.Builder
		inWord, inQuote := false, false
		flush := func(quoted bool) {
			if inWord || quoted {
				line = append(line, token{text: cur.String(), line: n, quoted: quoted})
			}
			cur.Reset()
			inWord = false
		}
		for j := 0; j < len(raw); j++ {
			c := raw[j]
			switch {
			case inQuote && c == '\\' && j+1 < len(raw):
				j++
				cur.WriteByte(raw[j])
			case inQuote && c == '"':
				inQuote = false
				flush(true)
			case inQuote:
				cur.WriteByte(c)
			case c == '"':
				flush(false)
				inQuote = true
			case c == '#':
				j = len(raw)
			case c == ' ' || c == '\t' || c == '\r':
				flush(false)
			default:
				cur.WriteByte(c)
				inWord = true
			}
		}
		if inQuote {
			return nil, fmt.Errorf("Corefile:%d: unterminated quote", n)
		}
		flush(false)
		if len(line) > 0 {
			lines = append(lines, line)
		}
	}
	return lines, nil
}

// directive is one configuration line, with the lines of its block.
type directive struct {
	name  string
	args  []token
	line  int
	block []directive
}

// serverBlock is "keys { directives }".
type serverBlock struct {
	keys []token
	line int
	body []directive
}

// group nests the lexed lines into server blocks and directive blocks.
func group(lines [][]token) ([]serverBlock, error) {
	var blocks []serverBlock
	i := 0
	for i < len(lines) {
		line := lines[i]
		keys := line
		hasOpen := len(line) > 0 && line[len(line)-1].text == "{" && !line[len(line)-1].quoted
		if !hasOpen {
			return nil, fmt.Errorf("Corefile:%d: expected a server block (\"%s {\")", line[0].line, joinTokens(line))
		}
		keys = line[:len(line)-1]
		if len(keys) == 0 {
			return nil, fmt.Errorf("Corefile:%d: a server block needs a zone, as in \".:53 {\"", line[0].line)
		}
		for _, k := range keys {
			if k.text == "{" || k.text == "}" {
				return nil, fmt.Errorf("Corefile:%d: unexpected %q", k.line, k.text)
			}
		}
		body, next, err := directives(lines, i+1, keys[0].line)
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, serverBlock{keys: keys, line: keys[0].line, body: body})
		i = next
	}
	return blocks, nil
}

// directives reads lines from i until the "}" that closes the block opened
// on line open; it returns the index after that "}".
func directives(lines [][]token, i, open int) ([]directive, int, error) {
	var out []directive
	for ; i < len(lines); i++ {
		line := lines[i]
		if len(line) == 1 && line[0].text == "}" && !line[0].quoted {
			return out, i + 1, nil
		}
		d := directive{name: line[0].text, line: line[0].line}
		args := line[1:]
		opens := len(args) > 0 && args[len(args)-1].text == "{" && !args[len(args)-1].quoted
		if opens {
			args = args[:len(args)-1]
		}
		for _, a := range args {
			if !a.quoted && (a.text == "{" || a.text == "}") {
				return nil, 0, fmt.Errorf("Corefile:%d: unexpected %q: a block opens at the end of a line and closes on a line of its own", a.line, a.text)
			}
		}
		if d.name == "{" || d.name == "}" {
			return nil, 0, fmt.Errorf("Corefile:%d: unexpected %q", d.line, d.name)
		}
		d.args = args
		if opens {
			block, next, err := directives(lines, i+1, d.line)
			if err != nil {
				return nil, 0, err
			}
			d.block = block
			i = next - 1
		}
		out = append(out, d)
	}
	return nil, 0, fmt.Errorf("Corefile:%d: the block opened here is never closed (missing \"}\")", open)
}

func joinTokens(ts []token) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.text
	}
	return strings.Join(s, " ")
}
