// Package manifest reads Kubernetes manifests the way kubectl does, and applies
// the API server's defaults and validation that matter for networking.
//
// Texts of errors follow kubectl and the API server word for word (without
// kubectl's leading "error: "), so that tutorials' expected output holds.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	serjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/podnet/podnet/pkg/source"
)

// stopValidateMessage is what kubectl appends to client-side validation errors.
const stopValidateMessage = "if you choose to ignore these errors, turn validation off with --validate=false"

// DocumentError is one manifest document that could not be read. Its text is
// kubectl's for the same input; Origin and Index (0-based, counting the
// documents of one file or stream) say where it came from, because kubectl's
// text does not always.
type DocumentError struct {
	Origin string
	Index  int
	Err    error
}

func (e *DocumentError) Error() string { return e.Err.Error() }
func (e *DocumentError) Unwrap() error { return e.Err }

// decoder turns manifest documents into typed objects.
type decoder struct {
	scheme    *runtime.Scheme
	kinds     map[schema.GroupVersionKind]source.Kind
	strictDec *serjson.Serializer
}

func newDecoder() *decoder {
	s := newScheme()
	return &decoder{
		scheme: s,
		kinds:  supportedKinds(),
		// Strict like the API server under kubectl's default
		// --validate=strict: unknown and duplicate fields are errors.
		strictDec: serjson.NewSerializerWithOptions(serjson.DefaultMetaFactory, s, s,
			serjson.SerializerOptions{Strict: true}),
	}
}

// Decode reads every object in r, a stream of YAML documents or JSON objects
// as kubectl -f accepts. Empty documents are skipped and a v1 List is replaced
// by its items. origin names the stream in errors (a path, or "STDIN").
//
// Like kubectl, Decode goes on past a document it cannot map or decode, and
// stops at one that does not parse or lacks apiVersion or kind. It returns the
// objects it read together with every error (joined; each a *DocumentError).
func Decode(r io.Reader, origin string) ([]source.Object, error) {
	return newDecoder().decodeStream(r, origin)
}

func (d *decoder) decodeStream(r io.Reader, origin string) ([]source.Object, error) {
	var objs []source.Object
	var errs []error
	docs := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for index := 0; ; index++ {
		var ext runtime.RawExtension
		if err := docs.Decode(&ext); err != nil {
			if err == io.EOF {
				break
			}
			errs = append(errs, &DocumentError{origin, index, fmt.Errorf("error parsing %s: %v", origin, err)})
			break
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			index-- // kubectl does not count what it skips
			continue
		}
		got, docErrs, stop := d.decodeDocument(raw, origin)
		objs = append(objs, got...)
		for _, err := range docErrs {
			errs = append(errs, &DocumentError{origin, index, err})
		}
		if stop {
			break
		}
	}
	return objs, errors.Join(errs...)
}

// header is the part of a document read before its kind is known.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

// decodeDocument decodes one JSON document. stop reports an error after which
// kubectl reads no further documents of the stream.
func (d *decoder) decodeDocument(raw []byte, origin string) (objs []source.Object, errs []error, stop bool) {
	var h header
	// Type errors in the header are left for the strict decoder to report.
	_ = json.Unmarshal(raw, &h)
	if err := headerErrors(raw); err != nil {
		return nil, []error{fmt.Errorf("error validating %q: error validating data: %v; %s", origin, err, stopValidateMessage)}, true
	}
	gvk := schema.FromAPIVersionAndKind(h.APIVersion, h.Kind)
	if gvk == metav1.SchemeGroupVersion.WithKind("List") || gvk == (schema.GroupVersionKind{Version: "v1", Kind: "List"}) {
		for _, item := range h.Items {
			got, itemErrs, itemStop := d.decodeDocument(bytes.TrimSpace(item), origin)
			objs = append(objs, got...)
			errs = append(errs, itemErrs...)
			if itemStop {
				return objs, errs, true
			}
		}
		return objs, errs, false
	}
	if _, ok := d.kinds[gvk]; !ok {
		return nil, []error{d.unknownKind(gvk, h.Metadata.Name, h.Metadata.Namespace, origin)}, false
	}
	obj, _, err := d.strictDec.Decode(raw, nil, nil)
	if err != nil {
		// The API server's words, which kubectl prints after
		// "Error from server (BadRequest): ".
		bad := apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v",
			gvk.Kind, gvk.Version, gvk.Kind, err))
		return nil, []error{fmt.Errorf("error when creating %q: %w", origin, bad)}, false
	}
	o, ok := obj.(source.Object)
	if !ok {
		return nil, []error{fmt.Errorf("%s %s is not an object with metadata", gvk.GroupVersion(), gvk.Kind)}, false
	}
	return []source.Object{o}, nil, false
}

// headerErrors is kubectl's client-side check that a document names its
// apiVersion and kind, with kubectl's wording: one message alone, several in
// brackets.
func headerErrors(raw []byte) error {
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		return err
	}
	var msgs []string
	if s, _ := fields["apiVersion"].(string); s == "" {
		msgs = append(msgs, "apiVersion not set")
	}
	if s, _ := fields["kind"].(string); s == "" {
		msgs = append(msgs, "kind not set")
	}
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return errors.New(msgs[0])
	}
	return fmt.Errorf("[%s, %s]", msgs[0], msgs[1])
}

// unknownKind words a kind podnet cannot hold. A kind no cluster serves gets
// kubectl's REST mapping error; a real Kubernetes kind podnet does not model
// (ServiceAccount, ReplicationController) says so instead of pretending the
// kind does not exist.
func (d *decoder) unknownKind(gvk schema.GroupVersionKind, name, namespace, origin string) error {
	if d.scheme.Recognizes(gvk) {
		return fmt.Errorf("podnet does not support kind %q in version %q (from %q)", gvk.Kind, gvk.GroupVersion().String(), origin)
	}
	noMatch := &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gvk.Version}}
	return fmt.Errorf("resource mapping not found for name: %q namespace: %q from %q: %w\nensure CRDs are installed first",
		name, namespace, origin, noMatch)
}
