package printers

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxAnnotationLen is where kubectl describe folds a long annotation.
const maxAnnotationLen = 140

// describeWriter writes kubectl describe's indented, tab-aligned lines: each
// level indents two spaces, and the whole text goes through one tabwriter
// (minwidth 0, tab 8, padding 2), flushed where kubectl flushes (before the
// events table) so that sections align as they do there.
type describeWriter struct {
	tw *tabwriter.Writer
}

func newDescribeWriter(w io.Writer) *describeWriter {
	return &describeWriter{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
}

func (d *describeWriter) write(level int, format string, args ...any) {
	fmt.Fprintf(d.tw, strings.Repeat("  ", level)+format, args...)
}

func (d *describeWriter) flush() error { return d.tw.Flush() }

// labelsMultiline prints "Title:\tk=v" with one label a line, sorted.
func (d *describeWriter) labelsMultiline(title string, m map[string]string) {
	d.write(0, "%s:\t", title)
	if len(m) == 0 {
		d.write(0, "<none>\n")
		return
	}
	for i, k := range sortedKeys(m) {
		if i != 0 {
			d.write(0, "\t")
		}
		d.write(0, "%s=%s\n", k, m[k])
	}
}

// annotationsMultiline prints annotations like kubectl, folding long or
// multi-line values, and hiding the last-applied-configuration annotation.
func (d *describeWriter) annotationsMultiline(title string, m map[string]string) {
	d.write(0, "%s:\t", title)
	var keys []string
	for _, k := range sortedKeys(m) {
		if k != corev1.LastAppliedConfigAnnotation {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		d.write(0, "<none>\n")
		return
	}
	for i, k := range keys {
		if i != 0 {
			d.write(0, "\t")
		}
		v := strings.TrimSuffix(m[k], "\n")
		if len(v)+len(k)+2 > maxAnnotationLen || strings.Contains(v, "\n") {
			d.write(0, "%s:\n", k)
			for _, line := range strings.Split(v, "\n") {
				if len(line) > maxAnnotationLen-2 {
					line = line[:maxAnnotationLen-2] + "..."
				}
				d.write(0, "\t  %s\n", line)
			}
			continue
		}
		d.write(0, "%s: %s\n", k, v)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// events prints the Events table, oldest first, ages relative to now.
func (d *describeWriter) events(events []corev1.Event, now time.Time) {
	if len(events) == 0 {
		d.write(0, "Events:\t<none>\n")
		return
	}
	d.flush()
	sorted := append([]corev1.Event(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool { return eventTime(sorted[i]).Before(eventTime(sorted[j])) })
	d.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
	d.write(1, "----\t------\t----\t----\t-------\n")
	for _, e := range sorted {
		first := age(metav1.Time{Time: e.EventTime.Time}, now)
		if e.EventTime.IsZero() {
			first = age(e.FirstTimestamp, now)
		}
		interval := first
		switch {
		case e.Series != nil:
			interval = fmt.Sprintf("%s (x%d over %s)", age(metav1.Time{Time: e.Series.LastObservedTime.Time}, now), e.Series.Count, first)
		case e.Count > 1:
			interval = fmt.Sprintf("%s (x%d over %s)", age(e.LastTimestamp, now), e.Count, first)
		}
		from := e.Source.Component
		if from == "" {
			from = e.ReportingController
		}
		d.write(1, "%v\t%v\t%s\t%v\t%v\n", e.Type, e.Reason, interval, from, strings.TrimSpace(e.Message))
	}
}

// eventTime orders events as kubectl's SortableEvents does: by last seen.
func eventTime(e corev1.Event) time.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp.Time
	}
	return e.EventTime.Time
}

func rfc1123(t metav1.Time) string { return t.Time.Format(time.RFC1123Z) }
