package manifest

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/podnet/podnet/pkg/source"
)

// decodeOne decodes a manifest holding exactly one object.
func decodeOne(t *testing.T, doc string) source.Object {
	t.Helper()
	objs, err := Decode(strings.NewReader(doc), "test.yaml")
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(objs) != 1 {
		t.Fatalf("got %d objects, want 1", len(objs))
	}
	return objs[0]
}

func fmtType(o source.Object) string {
	if s, ok := o.(*corev1.Service); ok {
		return string(s.Spec.Type)
	}
	return ""
}
