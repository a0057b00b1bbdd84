package netpol

import (
	"fmt"
	"strings"
)

// explainAdmin says what the admin tiers did before NetworkPolicy had its
// say (or instead of it), for the side explain.go is writing.
func (e *Engine) explainAdmin(s *Side, subject, other Endpoint, dir Direction, prep, pp string, d Decision) {
	tr := d.Admin
	if tr == nil {
		return
	}
	say := func(format string, a ...any) { s.Sentences = append(s.Sentences, fmt.Sprintf(format, a...)) }
	if tr.Decided != nil {
		s.DecidedBy = tr.Decided.String()
	}
	if tr.Passed != nil {
		s.PassedBy = tr.Passed.String()
	}
	if len(tr.Selecting) > 0 {
		say("AdminNetworkPolicies selecting %s, in order of precedence: %s.", subject, strings.Join(tr.Selecting, ", "))
	}
	switch {
	case tr.Passed != nil:
		say("%s matches traffic %s %s on %s, so the remaining AdminNetworkPolicies are skipped and NetworkPolicy decides.", capital(tr.Passed.String()), prep, other, pp)
	case len(tr.Selecting) > 0 && (tr.Decided == nil || tr.Decided.Baseline):
		say("None of their %s rules matches, so NetworkPolicy decides.", lowerDir(dir))
	}
	switch d.Reason {
	case AdminAllows:
		say("Allowed: %s matches traffic %s %s on %s, whatever NetworkPolicy and the BaselineAdminNetworkPolicy say.", tr.Decided, prep, other, pp)
	case AdminDenies:
		say("Denied: %s matches traffic %s %s on %s, whatever NetworkPolicy says.", tr.Decided, prep, other, pp)
	case BaselineAllows, BaselineDenies:
		word := "Allowed"
		if d.Reason == BaselineDenies {
			word = "Denied"
		}
		say("No NetworkPolicy selects %s for %s, so %s decides.", subject, lowerDir(dir), tr.Decided.PolicyString())
		say("%s: %s matches traffic %s %s on %s.", word, tr.Decided, prep, other, pp)
	}
}

// explainBaselineMiss: the BANP selects the pod, nothing isolates it, and
// no baseline rule matched. false when the BANP was not consulted.
func (e *Engine) explainBaselineMiss(s *Side, subject Endpoint, dir Direction, verb string, d Decision) bool {
	if d.Admin == nil || !d.Admin.Baseline || e.admin.baseline == nil {
		return false
	}
	s.Sentences = append(s.Sentences, fmt.Sprintf("No NetworkPolicy selects %s for %s, and no %s rule of BaselineAdminNetworkPolicy %s matches, so it may %s anything.",
		subject, lowerDir(dir), lowerDir(dir), e.admin.baseline.name, verb))
	return true
}
