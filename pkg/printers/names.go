package printers

import (
	"fmt"
	"io"

	"github.com/podnet/podnet/pkg/source"
)

// PrintNames prints `-o name` lines such as "deployment.apps/web", in list
// order (namespace, then name).
func PrintNames(w io.Writer, kind source.Kind, objs []source.Object) error {
	sorted := append([]source.Object(nil), objs...)
	sortByNamespaceName(sorted)
	prefix := KindPrefix(kind)
	for _, o := range sorted {
		if _, err := fmt.Fprintf(w, "%s/%s\n", prefix, o.GetName()); err != nil {
			return err
		}
	}
	return nil
}
