package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/podnet/podnet/pkg/source"
)

func TestDecodeEveryKind(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want source.Kind
	}{
		{"a Namespace decodes", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n", source.Namespace},
		{"a Node decodes", "apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n", source.Node},
		{"a Pod decodes", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: c\n    image: nginx\n", source.Pod},
		{"a Service decodes", "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  ports:\n  - port: 80\n", source.Service},
		{"a ConfigMap decodes", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n", source.ConfigMap},
		{"a Secret decodes", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  k: v\n", source.Secret},
		{"an EndpointSlice decodes", "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: a\naddressType: IPv4\nendpoints: []\n", source.EndpointSlice},
		{"a Deployment decodes", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n", source.Deployment},
		{"a ReplicaSet decodes", "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: a\n", source.ReplicaSet},
		{"a StatefulSet decodes", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: a\n", source.StatefulSet},
		{"a NetworkPolicy decodes", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: a\nspec:\n  podSelector: {}\n", source.NetworkPolicy},
		{"an Ingress decodes", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: a\n", source.Ingress},
		{"a JSON object decodes", `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}`, source.Service},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Decode(strings.NewReader(tc.doc), "x.yaml")
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(objs) != 1 {
				t.Fatalf("got %d objects, want 1", len(objs))
			}
			k, err := source.KindOf(objs[0])
			if err != nil || k != tc.want {
				t.Fatalf("kind %q (%v), want %q", k, err, tc.want)
			}
			if objs[0].GetName() != "a" {
				t.Errorf("name %q, want a", objs[0].GetName())
			}
		})
	}
}

func TestDecodeStreams(t *testing.T) {
	cases := []struct {
		name  string
		doc   string
		names []string
	}{
		{
			name:  "documents separated by --- decode in order and empty ones are skipped",
			doc:   "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: one\n---\n# only a comment\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: two\n",
			names: []string{"one", "two"},
		},
		{
			name:  "a v1 List is replaced by its items",
			doc:   "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: a\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: b\n",
			names: []string{"a", "b"},
		},
		{
			name:  "concatenated JSON objects decode one by one",
			doc:   `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}} {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"y"}}`,
			names: []string{"x", "y"},
		},
		{
			name:  "a document holding only null is skipped",
			doc:   "null\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: z\n",
			names: []string{"z"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Decode(strings.NewReader(tc.doc), "x.yaml")
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.GetName())
			}
			if strings.Join(got, ",") != strings.Join(tc.names, ",") {
				t.Errorf("names %v, want %v", got, tc.names)
			}
		})
	}
}

// TestDecodeErrors pins kubectl's (and the API server's) words.
func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name    string
		doc     string
		want    string
		objects int
	}{
		{
			name: "an unknown kind gives kubectl's REST mapping error",
			doc:  "apiVersion: v1\nkind: Foo\nmetadata:\n  name: web\n",
			want: "resource mapping not found for name: \"web\" namespace: \"\" from \"x.yaml\": no matches for kind \"Foo\" in version \"v1\"\nensure CRDs are installed first",
		},
		{
			name: "a kind in a version that is not served gives no matches for that version",
			doc:  "apiVersion: apps/v2\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\n",
			want: "resource mapping not found for name: \"web\" namespace: \"prod\" from \"x.yaml\": no matches for kind \"Deployment\" in version \"apps/v2\"\nensure CRDs are installed first",
		},
		{
			name: "a document without apiVersion and kind fails client-side validation",
			doc:  "metadata:\n  name: web\n",
			want: "error validating \"x.yaml\": error validating data: [apiVersion not set, kind not set]; if you choose to ignore these errors, turn validation off with --validate=false",
		},
		{
			name: "a document without kind names only kind",
			doc:  "apiVersion: v1\nmetadata:\n  name: web\n",
			want: "error validating \"x.yaml\": error validating data: kind not set; if you choose to ignore these errors, turn validation off with --validate=false",
		},
		{
			name: "a document that is not YAML fails to parse",
			doc:  "a: [\n",
			want: "error parsing x.yaml: error converting YAML to JSON: yaml: line 1: did not find expected node content",
		},
		{
			name: "an unknown field is refused as under kubectl's default --validate=strict",
			doc:  "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  prots: []\n",
			want: "error when creating \"x.yaml\": Service in version \"v1\" cannot be handled as a Service: strict decoding error: unknown field \"spec.prots\"",
		},
		{
			name: "a string where a number belongs is a decoding error",
			doc:  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: \"3\"\n",
			want: "error when creating \"x.yaml\": Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
		},
		{
			name: "a real Kubernetes kind podnet does not model says so",
			doc:  "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n",
			want: "podnet does not support kind \"ServiceAccount\" in version \"v1\" (from \"x.yaml\")",
		},
		{
			name:    "a bad document does not stop the good ones after it",
			doc:     "apiVersion: v1\nkind: Foo\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n",
			want:    "resource mapping not found for name: \"a\" namespace: \"\" from \"x.yaml\": no matches for kind \"Foo\" in version \"v1\"\nensure CRDs are installed first",
			objects: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Decode(strings.NewReader(tc.doc), "x.yaml")
			if err == nil {
				t.Fatal("Decode succeeded, want an error")
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
			if len(objs) != tc.objects {
				t.Errorf("got %d objects, want %d", len(objs), tc.objects)
			}
			var de *DocumentError
			if !errors.As(err, &de) || de.Origin != "x.yaml" {
				t.Errorf("error %#v does not carry its origin", err)
			}
		})
	}
}

func TestDecodeErrorsCarryDocumentAndCause(t *testing.T) {
	doc := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n---\napiVersion: v1\nkind: Foo\nmetadata:\n  name: b\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: c\nspec:\n  bogus: 1\n"
	_, err := Decode(strings.NewReader(doc), "x.yaml")
	cases := []struct {
		name  string
		check func() bool
	}{
		{"the unknown kind is the second document, empty ones not counted", func() bool {
			var de *DocumentError
			return errors.As(err, &de) && de.Index == 1
		}},
		{"the unknown kind unwraps to meta.NoKindMatchError", func() bool {
			var nk *meta.NoKindMatchError
			return errors.As(err, &nk) && nk.GroupKind.Kind == "Foo"
		}},
		{"the decoding error unwraps to the API server's BadRequest", func() bool {
			return apierrors.IsBadRequest(err)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.check() {
				t.Errorf("not so for %v", err)
			}
		})
	}
}

// TestYAML11Scalars proves what sigs.k8s.io/yaml v1.6 (YAML 1.1 via
// go.yaml.in/yaml/v2) does to unquoted scalars, which kubectl sends on as
// JSON: booleans and numbers do not fit string fields, so the API server
// refuses them; quoted, they are strings.
func TestYAML11Scalars(t *testing.T) {
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: "
	label := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    k: "
	boolData := "error when creating \"x.yaml\": ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal bool into Go struct field ConfigMap.data of type string"
	numData := "error when creating \"x.yaml\": ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string"
	boolLabel := "error when creating \"x.yaml\": ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string"
	cases := []struct {
		name    string
		doc     string
		wantErr string
		want    string
	}{
		{"unquoted on in a label value is a YAML 1.1 boolean", label + "on\n", boolLabel, ""},
		{"unquoted yes is a boolean", cm + "yes\n", boolData, ""},
		{"unquoted y is a boolean", cm + "y\n", boolData, ""},
		{"unquoted n is a boolean", cm + "n\n", boolData, ""},
		{"unquoted no is a boolean", cm + "no\n", boolData, ""},
		{"unquoted off is a boolean", cm + "off\n", boolData, ""},
		{"unquoted true is a boolean", cm + "true\n", boolData, ""},
		{"unquoted 0755 is an octal number", cm + "0755\n", numData, ""},
		{"unquoted 1.0 is a number", cm + "1.0\n", numData, ""},
		{"unquoted 12 is a number", cm + "12\n", numData, ""},
		{"quoted \"on\" is the string on", cm + "\"on\"\n", "", "on"},
		{"quoted '0755' keeps its leading zero", cm + "'0755'\n", "", "0755"},
		{"unquoted nginx is a string", cm + "nginx\n", "", "nginx"},
		{"unquoted 1.2.3 is a string", cm + "1.2.3\n", "", "1.2.3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Decode(strings.NewReader(tc.doc), "x.yaml")
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error\n got: %v\nwant: %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := objs[0].(*corev1.ConfigMap).Data["k"]; got != tc.want {
				t.Errorf("data.k = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ns := func(name string) string { return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n" }
	write("tree/b.yaml", ns("b"))
	write("tree/a.json", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}`)
	write("tree/c.yml", ns("c"))
	write("tree/notes.txt", ns("ignored"))
	write("tree/sub/d.yaml", ns("d"))
	write("plain.manifest", ns("explicit"))
	write("empty/readme.md", "# nothing")

	cases := []struct {
		name      string
		paths     []string
		recursive bool
		stdin     string
		want      string
		wantErr   string
	}{
		{name: "a directory gives its manifest files in lexical order", paths: []string{"tree"}, want: "a,b,c"},
		{name: "a directory with -R includes subdirectories", paths: []string{"tree"}, recursive: true, want: "a,b,c,d"},
		{name: "a file named explicitly is read whatever its extension", paths: []string{"plain.manifest"}, want: "explicit"},
		{name: "a dash reads standard input", paths: []string{"-"}, stdin: ns("from-stdin"), want: "from-stdin"},
		{name: "several paths are read in the order given", paths: []string{"plain.manifest", "tree/c.yml"}, want: "explicit,c"},
		{name: "a missing path gives kubectl's error", paths: []string{"x.yaml"}, wantErr: `the path "x.yaml" does not exist`},
		{name: "a directory without manifests gives kubectl's error", paths: []string{"empty"}, wantErr: "error reading [empty]: recognized file extensions are [.json .yaml .yml]"},
		{name: "errors from standard input name STDIN", paths: []string{"-"}, stdin: "kind: Pod\n",
			wantErr: `error validating "STDIN": error validating data: apiVersion not set; if you choose to ignore these errors, turn validation off with --validate=false`},
	}
	t.Chdir(dir)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := ReadPaths(tc.paths, tc.recursive, strings.NewReader(tc.stdin))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error\n got: %v\nwant: %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadPaths: %v", err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, o.GetName())
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	objs, err := Decode(strings.NewReader("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  managedFields:\n  - manager: kubectl\nspec:\n  ports:\n  - port: 80\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	svc := objs[0]
	cases := []struct {
		name   string
		format string
		want   string
	}{
		{"yaml starts with apiVersion and kind and hides managedFields", "yaml",
			"apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n    targetPort: 0\nstatus:\n  loadBalancer: {}\n"},
		{"json is indented by four spaces", "json",
			"{\n    \"kind\": \"Service\",\n    \"apiVersion\": \"v1\",\n    \"metadata\": {\n        \"name\": \"web\"\n    },\n    \"spec\": {\n        \"ports\": [\n            {\n                \"port\": 80,\n                \"targetPort\": 0\n            }\n        ]\n    },\n    \"status\": {\n        \"loadBalancer\": {}\n    }\n}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Encode(svc, tc.format)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	t.Run("Encode leaves the object unchanged", func(t *testing.T) {
		if len(svc.GetManagedFields()) != 1 {
			t.Errorf("managedFields changed: %v", svc.GetManagedFields())
		}
	})
	t.Run("an unknown format is refused", func(t *testing.T) {
		if _, err := Encode(svc, "wide"); err == nil {
			t.Error("want an error")
		}
	})
	t.Run("SetTypeMeta fills apiVersion and kind of an object built in Go", func(t *testing.T) {
		d := &appsv1.Deployment{}
		SetTypeMeta(d)
		if gvk := d.GetObjectKind().GroupVersionKind(); gvk.GroupVersion().String() != "apps/v1" || gvk.Kind != "Deployment" {
			t.Errorf("got %v", gvk)
		}
	})
}
