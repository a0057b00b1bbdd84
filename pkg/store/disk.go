package store

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/podnet/podnet/pkg/source"
)

// disk keeps one JSON file per object: objects/<Kind>/<namespace>_<name>.json.
// Names and namespaces are DNS labels or subdomains, so "_" cannot occur in
// them and the file name is unambiguous. Writes go to a temporary file that
// is renamed into place, so a crash leaves either the old or the new object.
type disk struct{ dir string }

func openDisk(dir string) (*disk, error) {
	if err := os.MkdirAll(filepath.Join(dir, "objects"), 0o700); err != nil {
		return nil, err
	}
	return &disk{dir: dir}, nil
}

func (d *disk) path(k source.Kind, o source.Object) string {
	return filepath.Join(d.dir, "objects", string(k), o.GetNamespace()+"_"+o.GetName()+".json")
}

func (d *disk) write(k source.Kind, o source.Object) error {
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	p := d.path(k, o)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func (d *disk) remove(k source.Kind, o source.Object) error {
	err := os.Remove(d.path(k, o))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

func (d *disk) loadAll() ([]source.Object, error) {
	var out []source.Object
	for _, k := range source.Kinds {
		files, err := filepath.Glob(filepath.Join(d.dir, "objects", string(k), "*.json"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			o, _ := source.New(k)
			if err := json.Unmarshal(data, o); err != nil {
				return nil, fmt.Errorf("state file %s: %w", f, err)
			}
			out = append(out, o)
		}
		// Leftovers of a write interrupted before its rename.
		tmps, _ := filepath.Glob(filepath.Join(d.dir, "objects", string(k), "*.tmp"))
		for _, t := range tmps {
			if strings.HasSuffix(t, ".json.tmp") {
				os.Remove(t)
			}
		}
	}
	return out, nil
}

// specChanged reports whether the desired state (spec, or data for config
// objects) differs, which is what bumps metadata.generation.
func specChanged(a, b source.Object) bool {
	sa, sb := specOf(a), specOf(b)
	if !sa.IsValid() || !sb.IsValid() {
		return false
	}
	return !reflect.DeepEqual(sa.Interface(), sb.Interface())
}

func specOf(o source.Object) reflect.Value {
	v := reflect.ValueOf(o)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	return v.FieldByName("Spec")
}

func (d *disk) writeVersion(rv uint64) {
	p := filepath.Join(d.dir, "resourceVersion")
	if os.WriteFile(p+".tmp", []byte(strconv.FormatUint(rv, 10)), 0o600) == nil {
		os.Rename(p+".tmp", p)
	}
}

func (d *disk) readVersion() uint64 {
	data, err := os.ReadFile(filepath.Join(d.dir, "resourceVersion"))
	if err != nil {
		return 0
	}
	rv, _ := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return rv
}
