// Package trace walks a name through a resolv.conf the way a stub resolver
// does (ndots, search list, absolute name) and records every query, so a
// user can see why a lookup from a pod fails or what ndots:5 costs.
package trace

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"
)

// Resolv is the part of resolv.conf a stub resolver acts on.
type Resolv struct {
	Nameservers []string
	Search      []string
	Ndots       int
}

// ParseResolv reads resolv.conf as glibc does: nameservers accumulate, the
// last search (or domain) line wins, ndots defaults to 1 and is capped at 15.
func ParseResolv(text string) Resolv {
	r := Resolv{Ndots: 1}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			r.Nameservers = append(r.Nameservers, f[1])
		case "search", "domain":
			r.Search = f[1:]
		case "options":
			for _, o := range f[1:] {
				if v, ok := strings.CutPrefix(o, "ndots:"); ok {
					if n, err := strconv.Atoi(v); err == nil {
						r.Ndots = min(max(n, 0), 15)
					}
				}
			}
		}
	}
	return r
}

// Candidates lists the names a resolver tries for name, in order, and says
// why. A trailing dot means only the name itself; fewer dots than ndots
// means the search list first, then the name; otherwise the name first,
// then (glibc only; musl stops) the search list.
func Candidates(name string, r Resolv) (names []string, why string) {
	if strings.HasSuffix(name, ".") {
		return []string{name}, fmt.Sprintf("%q ends with a dot: it is absolute, the search list is not used", name)
	}
	dots := strings.Count(name, ".")
	var searched []string
	for _, s := range r.Search {
		if s == "." {
			continue
		}
		searched = append(searched, name+"."+strings.TrimSuffix(s, ".")+".")
	}
	if dots < r.Ndots {
		return append(searched, name+"."), fmt.Sprintf("%q has %d dot(s), fewer than ndots:%d: each search domain is tried first, then the name as is", name, dots, r.Ndots)
	}
	return append([]string{name + "."}, searched...), fmt.Sprintf("%q has %d dot(s), at least ndots:%d: the name is tried as is first; glibc then walks the search list, musl (busybox, alpine) does not", name, dots, r.Ndots)
}

// Step is one query of the walk.
type Step struct {
	Name   string
	Rcode  int
	Answer []mdns.RR
	Err    error
}

// Result is a whole walk.
type Result struct {
	Name  string // as asked
	Why   string
	Steps []Step
	// Found is the index of the step that answered, or -1.
	Found int
}

// Exchange sends one query and returns the reply.
type Exchange func(ctx context.Context, m *mdns.Msg) (*mdns.Msg, error)

// Walk resolves name for qtype through r, stopping at the first reply with
// records (NOERROR with an empty answer goes on, as glibc does).
func Walk(ctx context.Context, name string, qtype uint16, r Resolv, ex Exchange) Result {
	names, why := Candidates(name, r)
	res := Result{Name: name, Why: why, Found: -1}
	for _, n := range names {
		m := new(mdns.Msg)
		m.SetQuestion(n, qtype)
		m.SetEdns0(1232, false)
		reply, err := ex(ctx, m)
		st := Step{Name: n, Err: err}
		if err == nil {
			st.Rcode, st.Answer = reply.Rcode, reply.Answer
		}
		res.Steps = append(res.Steps, st)
		if err == nil && reply.Rcode == mdns.RcodeSuccess && len(reply.Answer) > 0 {
			res.Found = len(res.Steps) - 1
			break
		}
	}
	return res
}

// Print writes the walk as a user reads it. zone is the cluster domain, used
// to explain negative answers.
func Print(w io.Writer, res Result, qtype uint16, zone string) {
	fmt.Fprintf(w, "%s.\n", res.Why)
	for i, s := range res.Steps {
		switch {
		case s.Err != nil:
			fmt.Fprintf(w, "  %d. %-50s %-5s → error: %v\n", i+1, s.Name, mdns.TypeToString[qtype], s.Err)
		case len(s.Answer) > 0:
			fmt.Fprintf(w, "  %d. %-50s %-5s → %s\n", i+1, s.Name, mdns.TypeToString[qtype], mdns.RcodeToString[s.Rcode])
			for _, rr := range s.Answer {
				fmt.Fprintf(w, "       %s\n", strings.Join(strings.Fields(rr.String()), " "))
			}
		default:
			rc := mdns.RcodeToString[s.Rcode]
			if s.Rcode == mdns.RcodeSuccess {
				rc = "NODATA"
			}
			fmt.Fprintf(w, "  %d. %-50s %-5s → %s  (%s)\n", i+1, s.Name, mdns.TypeToString[qtype], rc, Explain(s.Name, s.Rcode, zone))
		}
	}
	if res.Found >= 0 {
		fmt.Fprintf(w, "Answered by query %d of %d.", res.Found+1, len(res.Steps))
		if res.Found > 0 {
			fmt.Fprintf(w, " The %d before it were wasted: a name with a trailing dot, or ndots lower than its dot count, asks once.", res.Found)
		}
		fmt.Fprintln(w)
		return
	}
	for i, s := range res.Steps {
		if s.Err == nil && s.Rcode == mdns.RcodeSuccess {
			fmt.Fprintf(w, "No %s record: %s exists (query %d) but has none of this type, so the resolver reports no data rather than no such name.\n",
				mdns.TypeToString[qtype], s.Name, i+1)
			return
		}
	}
	fmt.Fprintf(w, "Not found: all %d queries failed (a client asking A and AAAA sends %d).\n", len(res.Steps), 2*len(res.Steps))
	// A dotted name may be meant as absolute (an external name); then the
	// search list only cost queries.
	if abs := res.Name + "."; len(res.Steps) > 1 && strings.Contains(res.Name, ".") && !strings.HasSuffix(res.Name, ".") {
		fmt.Fprintf(w, "If %s is meant as an absolute name, write it %s: one query instead of %d.\n", res.Name, abs, len(res.Steps))
	}
}

// Explain says why a cluster DNS server gives rcode for name.
func Explain(name string, rcode int, zone string) string {
	zone = strings.ToLower(strings.TrimSuffix(zone, ".")) + "."
	lower := strings.ToLower(name)
	rel, inZone := strings.CutSuffix(lower, "."+zone)
	switch {
	case rcode == mdns.RcodeRefused:
		return "outside the cluster zone and the server has no upstream"
	case rcode == mdns.RcodeServerFailure:
		return "the server could not answer (upstream unreachable, or not synced)"
	case !inZone:
		if rcode == mdns.RcodeNameError {
			return "outside the cluster zone: the upstream says it does not exist"
		}
		return "outside the cluster zone"
	}
	labels := strings.Split(rel, ".")
	n := len(labels)
	if rcode == mdns.RcodeSuccess {
		return "the name exists but has no record of this type"
	}
	switch {
	case labels[n-1] != "svc" && labels[n-1] != "pod":
		return fmt.Sprintf("only svc.%s and pod.%s exist under the cluster zone", zone, zone)
	case n == 2:
		return fmt.Sprintf("no namespace %q", labels[0])
	case n == 3 && labels[n-1] == "svc":
		return fmt.Sprintf("no Service %q in namespace %q (or no namespace %q)", labels[0], labels[1], labels[1])
	case n == 3:
		return fmt.Sprintf("%q is not a dashed pod IP in namespace %q", labels[0], labels[1])
	case labels[n-1] == "pod":
		return "too many labels for a pod name (<dashed-ip>.<namespace>.pod)"
	case n == 4:
		return fmt.Sprintf("no Service %q in namespace %q, or no ready endpoint %q of it", labels[1], labels[2], labels[0])
	case n == 5 && strings.HasPrefix(labels[0], "_") && strings.HasPrefix(labels[1], "_"):
		return fmt.Sprintf("no port %s/%s on a Service %q in namespace %q", labels[0][1:], labels[1][1:], labels[2], labels[3])
	}
	ns := labels[n-2]
	return fmt.Sprintf("not a cluster name: under %s.svc only <service>, <endpoint>.<service> and _<port>._<proto>.<service> exist", ns)
}
