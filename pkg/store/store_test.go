package store

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/podnet/podnet/pkg/source"
)

func ns(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func svc(name, ip string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: corev1.ServiceSpec{ClusterIP: ip}}
}

func TestStoreWritesAndErrors(t *testing.T) {
	s, err := New("", clocktesting.NewFakeClock(time.Unix(1000, 0)))
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, ns("default"))
	cases := []struct {
		name string
		do   func() error
		want string
	}{
		{"creating an object in a missing namespace names the namespace", func() error {
			o := svc("web", "10.96.0.5")
			o.Namespace = "nope"
			_, err := s.Create(o)
			return err
		}, `namespaces "nope" not found`},
		{"creating an object twice says it exists", func() error {
			if _, err := s.Create(svc("dup", "")); err != nil {
				return err
			}
			_, err := s.Create(svc("dup", ""))
			return err
		}, `services "dup" already exists`},
		{"updating a missing object is NotFound", func() error {
			_, err := s.Update(svc("missing", ""))
			return err
		}, `services "missing" not found`},
		{"deleting a missing object is NotFound", func() error {
			return s.Delete(source.Service, "default", "missing")
		}, `services "missing" not found`},
		{"an update with a stale resourceVersion conflicts", func() error {
			o, err := s.Create(svc("cas", ""))
			if err != nil {
				return err
			}
			stale := o.DeepCopyObject().(*corev1.Service)
			if _, err := s.Update(o); err != nil {
				return err
			}
			_, err = s.Update(stale)
			if !apierrors.IsConflict(err) {
				t.Errorf("want a conflict, got %v", err)
			}
			return err
		}, `Operation cannot be fulfilled on services "cas": the object has been modified; please apply your changes to the latest version and try again`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func mustCreate(t *testing.T, s *Store, o source.Object) source.Object {
	t.Helper()
	out, err := s.Create(o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStoreComesBackFromDisk(t *testing.T) {
	dir := t.TempDir()
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	s, err := New(dir, clk)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, ns("default"))
	web := mustCreate(t, s, svc("web", "10.96.0.20"))
	mustCreate(t, s, svc("gone", "10.96.0.21"))
	if err := s.Delete(source.Service, "default", "gone"); err != nil {
		t.Fatal(err)
	}
	rv := s.ResourceVersion()

	again, err := New(dir, clk)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := again.Get(source.Service, "default", "web")
	if !ok {
		t.Fatal("service web did not survive a restart")
	}
	if g := got.(*corev1.Service); g.Spec.ClusterIP != "10.96.0.20" || g.UID != web.GetUID() {
		t.Errorf("restored %+v, want clusterIP 10.96.0.20 and uid %s", g.Spec, web.GetUID())
	}
	if _, ok := again.Get(source.Service, "default", "gone"); ok {
		t.Error("a deleted service came back after a restart")
	}
	if again.ResourceVersion() < rv-1 {
		t.Errorf("resourceVersion went back from %d to %d", rv, again.ResourceVersion())
	}
}

func TestSubscribersSeeEveryChangeInOrder(t *testing.T) {
	s, _ := New("", clocktesting.NewFakeClock(time.Unix(1000, 0)))
	events := make(chan source.Event, 100)
	cancel := s.Subscribe(func(ev source.Event) { events <- ev })
	defer cancel()
	mustCreate(t, s, ns("default"))
	o := mustCreate(t, s, svc("web", ""))
	o.(*corev1.Service).Spec.ClusterIP = "10.96.0.9"
	if _, err := s.Update(o); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(source.Service, "default", "web"); err != nil {
		t.Fatal(err)
	}
	want := []source.EventType{source.Added, source.Added, source.Modified, source.Deleted}
	for i, w := range want {
		select {
		case ev := <-events:
			if ev.Type != w {
				t.Fatalf("event %d: got %s, want %s", i, ev.Type, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d (%s) never arrived", i, w)
		}
	}
}
