package dns

import (
	"fmt"
	"regexp"
	"strings"

	mdns "github.com/miekg/dns"
)

// Rewrite is one "rewrite name" rule of CoreDNS's rewrite plugin: the query
// name is changed before it is answered, and the question (and, for exact
// rules or with AnswerAuto, the answers' owner names) changed back in the
// reply, so the client never sees the rewrite.
type Rewrite struct {
	// Match is exact, prefix, suffix, substring or regex.
	Match    string
	From, To string
	// AnswerAuto reverts answer owner names for every match type ("answer
	// auto"); exact rules always do.
	AnswerAuto bool
	// AnswerFrom/AnswerTo is "answer name FROM TO": a regex replacement on
	// answer owner names.
	AnswerFrom, AnswerTo string
	// Continue evaluates the next rule after this one matched ("continue");
	// by default the first match stops.
	Continue bool

	re, answerRe *regexp.Regexp
}

// groupRefs are CoreDNS's "{1}" references to regex groups; Go writes them
// "${1}".
var groupRefs = regexp.MustCompile(`\{(\d+)\}`)

// compile checks the rule and prepares its regular expressions.
func (r Rewrite) compile() (Rewrite, error) {
	switch r.Match {
	case "exact", "prefix", "suffix", "substring":
		if r.Match != "substring" {
			r.From, r.To = strings.ToLower(r.From), strings.ToLower(r.To)
		}
		if r.Match == "exact" || r.Match == "suffix" {
			r.From, r.To = mdns.Fqdn(r.From), mdns.Fqdn(r.To)
		}
	case "regex":
		re, err := regexp.Compile(r.From)
		if err != nil {
			return r, fmt.Errorf("rewrite regex %q: %w", r.From, err)
		}
		r.re = re
		r.To = groupRefs.ReplaceAllString(r.To, "$${$1}")
	default:
		return r, fmt.Errorf("rewrite name: match type %q: must be exact, prefix, suffix, substring or regex", r.Match)
	}
	if r.AnswerFrom != "" {
		re, err := regexp.Compile(r.AnswerFrom)
		if err != nil {
			return r, fmt.Errorf("rewrite answer name regex %q: %w", r.AnswerFrom, err)
		}
		r.answerRe = re
		r.AnswerTo = groupRefs.ReplaceAllString(r.AnswerTo, "$${$1}")
	}
	return r, nil
}

// apply returns the rewritten name (lower-case, fully qualified) and
// whether the rule matched.
func (r *Rewrite) apply(name string) (string, bool) {
	switch r.Match {
	case "exact":
		if name == r.From {
			return r.To, true
		}
	case "prefix":
		if rest, ok := strings.CutPrefix(name, r.From); ok {
			return r.To + rest, true
		}
	case "suffix":
		if rest, ok := strings.CutSuffix(name, r.From); ok {
			return rest + r.To, true
		}
	case "substring":
		if strings.Contains(name, r.From) {
			return strings.Replace(name, r.From, r.To, 1), true
		}
	case "regex":
		if m := r.re.FindStringSubmatchIndex(name); m != nil {
			out := r.re.ExpandString(nil, r.To, name, m)
			return mdns.Fqdn(string(out)), true
		}
	}
	return name, false
}

// rewriteName runs the rules over qname. It returns the name to answer and
// a function that restores the client's view on the reply.
func rewriteName(rules []Rewrite, qname string) (string, func(*mdns.Msg)) {
	name := strings.ToLower(qname)
	var revertAnswers bool
	var answerRules []*Rewrite
	changed := false
	for i := range rules {
		r := &rules[i]
		out, ok := r.apply(name)
		if !ok {
			continue
		}
		name, changed = out, true
		revertAnswers = revertAnswers || r.Match == "exact" || r.AnswerAuto
		if r.answerRe != nil {
			answerRules = append(answerRules, r)
		}
		if !r.Continue {
			break
		}
	}
	if !changed {
		return qname, nil
	}
	rewritten := name
	return rewritten, func(m *mdns.Msg) {
		for i := range m.Question {
			m.Question[i].Name = qname
		}
		for _, rr := range m.Answer {
			h := rr.Header()
			switch {
			case revertAnswers && strings.EqualFold(h.Name, rewritten):
				h.Name = qname
			default:
				for _, ar := range answerRules {
					if ar.answerRe.MatchString(h.Name) {
						h.Name = mdns.Fqdn(ar.answerRe.ReplaceAllString(h.Name, ar.AnswerTo))
					}
				}
			}
		}
	}
}

// CheckRewrite reports whether r is a valid rule, as a Corefile parser
// needs to know before anything is applied.
func CheckRewrite(r Rewrite) (Rewrite, error) { return r.compile() }
