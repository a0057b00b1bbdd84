package cli

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podnet/podnet/pkg/source"
)

func TestFieldSelector(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.1", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web"}, Reason: "BackOff", Type: "Warning"}
	for _, tc := range []struct {
		kind     source.Kind
		selector string
		obj      source.Object
		want     bool
		err      string
	}{
		{kind: source.Pod, selector: "", obj: pod, want: true},
		{kind: source.Pod, selector: "spec.nodeName=n1", obj: pod, want: true},
		{kind: source.Pod, selector: "spec.nodeName!=n1", obj: pod, want: false},
		{kind: source.Pod, selector: "status.phase=Running,metadata.name=web", obj: pod, want: true},
		{kind: source.Pod, selector: "status.phase==Pending", obj: pod, want: false},
		{kind: source.EventKind, selector: "involvedObject.name=web,type=Warning", obj: ev, want: true},
		{kind: source.EventKind, selector: "reason=Scheduled", obj: ev, want: false},
		{kind: source.Pod, selector: "spec.color=blue", err: "field label not supported: spec.color"},
		{kind: source.Service, selector: "involvedObject.name=web", err: "field label not supported"},
		{kind: source.Pod, selector: "a=b=c", err: "invalid field selector"},
	} {
		match, err := fieldFilter(tc.selector, tc.kind)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %q: error %v, want one containing %q", tc.kind, tc.selector, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", tc.kind, tc.selector, err)
			continue
		}
		if got := match(tc.obj); got != tc.want {
			t.Errorf("%s %q matches: %v, want %v", tc.kind, tc.selector, got, tc.want)
		}
	}
}
