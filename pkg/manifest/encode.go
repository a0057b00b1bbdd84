package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/podnet/podnet/pkg/source"
)

// SetTypeMeta fills in obj's apiVersion and kind from its Go type. Typed
// objects decoded by the scheme lose them (the type says it all), but printed
// objects must carry them.
func SetTypeMeta(obj source.Object) {
	setTypeMeta(newDecoder(), obj)
}

func setTypeMeta(d *decoder, obj source.Object) {
	gvks, _, err := d.scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return
	}
	obj.GetObjectKind().SetGroupVersionKind(gvks[0])
}

// Encode prints one object as kubectl get -o yaml or -o json does: with
// apiVersion and kind, without managedFields (kubectl hides them unless
// --show-managed-fields), keys sorted for YAML and four-space indented JSON.
// obj itself is not changed.
func Encode(obj source.Object, format string) ([]byte, error) {
	c, ok := obj.DeepCopyObject().(source.Object)
	if !ok {
		return nil, fmt.Errorf("cannot copy %T", obj)
	}
	setTypeMeta(newDecoder(), c)
	c.SetManagedFields(nil)
	data, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	switch format {
	case "json":
		var buf bytes.Buffer
		if err := json.Indent(&buf, data, "", "    "); err != nil {
			return nil, err
		}
		buf.WriteByte('\n')
		return buf.Bytes(), nil
	case "yaml":
		return yaml.JSONToYAML(data)
	}
	return nil, fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,yaml", format)
}
