package proxy

import (
	"context"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"
)

// scriptFake is a Fake that also takes scripts, as nftns does, and keeps
// the last one.
type scriptFake struct {
	*knftables.Fake
	last string
}

func (s *scriptFake) RunScript(_ context.Context, script []byte) error {
	s.last = string(script)
	return nil
}

func (s *scriptFake) Table() (knftables.Family, string) { return knftables.IPv4Family, testTable }

func TestFullSyncScript(t *testing.T) {
	in := threeServices(ready("10.244.0.20"), ready("10.244.0.21"))
	fake := &scriptFake{Fake: knftables.NewFake(knftables.IPv4Family, testTable)}
	if err := NewApplier(fake, nil).Apply(context.Background(), Compile(in)); err != nil {
		t.Fatal(err)
	}
	// The same operations through knftables, one element per command.
	ref := knftables.NewFake(knftables.IPv4Family, testTable)
	if err := NewApplier(ref, nil).Apply(context.Background(), Compile(threeServices(ready("10.244.0.20"), ready("10.244.0.21")))); err != nil {
		t.Fatal(err)
	}
	var refOther, refElems []string
	for _, l := range strings.Split(strings.TrimSpace(ref.LastTransaction.String()), "\n") {
		if strings.HasPrefix(l, "add element ") {
			refElems = append(refElems, l)
		} else {
			refOther = append(refOther, l)
		}
	}
	var other, elems []string
	for _, l := range strings.Split(strings.TrimSpace(fake.last), "\n") {
		if !strings.HasPrefix(l, "add element ") {
			other = append(other, l)
			continue
		}
		// add element ip T SET { a, b } → one line per element, as knftables writes them
		head, body, _ := strings.Cut(strings.TrimSuffix(l, " }"), " { ")
		for _, e := range strings.Split(body, ", ") {
			elems = append(elems, head+" { "+e+" }")
		}
	}
	if strings.Join(other, "\n") != strings.Join(refOther, "\n") {
		t.Errorf("non-element commands differ:\n%s\nwant:\n%s", strings.Join(other, "\n"), strings.Join(refOther, "\n"))
	}
	if strings.Join(elems, "\n") != strings.Join(refElems, "\n") {
		t.Errorf("elements differ:\n%s\nwant:\n%s", strings.Join(elems, "\n"), strings.Join(refElems, "\n"))
	}
	if n := strings.Count(fake.last, "add element "); n >= len(refElems) || n == 0 {
		t.Errorf("%d element commands for %d elements: not grouped", n, len(refElems))
	}
}
