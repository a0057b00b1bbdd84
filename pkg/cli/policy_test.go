package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// runPolicy runs `podnet ARGS` offline and returns stdout and the error.
func runPolicy(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errw bytes.Buffer
	e := &env{in: strings.NewReader(""), out: &out, errw: &errw}
	root := newRoot(e)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

const policyData = "testdata/policy"

func TestPolicyMatrixFormats(t *testing.T) {
	out, err := runPolicy(t, "policy", "matrix", "-f", policyData, "--ports", "80/TCP,81/UDP", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var cells []struct {
		From, To, Protocol string
		Port               int
		Allowed            bool
	}
	if err := json.Unmarshal([]byte(out), &cells); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(cells) != 9*9*2 {
		t.Fatalf("%d cells, want 162", len(cells))
	}
	verdict := map[string]bool{}
	for _, c := range cells {
		verdict[c.From+">"+c.To+">"+c.Protocol] = c.Allowed
	}
	for key, want := range map[string]bool{"y/a>x/a>TCP": true, "y/a>x/a>UDP": false, "z/a>x/a>TCP": false, "x/a>y/a>TCP": false, "y/a>z/b>UDP": true} {
		if verdict[key] != want {
			t.Errorf("%s: allowed=%v, want %v", key, verdict[key], want)
		}
	}

	table, err := runPolicy(t, "policy", "matrix", "-f", policyData, "--ports", "80/TCP")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 10 || !strings.HasPrefix(lines[0], "80/TCP") || strings.Join(strings.Fields(lines[4]), " ") != "y/a . X X . . . . . ." {
		t.Errorf("table:\n%s", table)
	}

	csvOut, _ := runPolicy(t, "policy", "matrix", "-f", policyData, "--ports", "80/TCP", "-o", "csv")
	recs, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil || len(recs) != 82 || strings.Join(recs[0], ",") != "from,to,port,protocol,allowed" {
		t.Errorf("csv (%v):\n%s", err, csvOut)
	}
	yamlOut, _ := runPolicy(t, "policy", "matrix", "-f", policyData, "--ports", "80/TCP", "-o", "yaml")
	var back []map[string]any
	if err := yaml.Unmarshal([]byte(yamlOut), &back); err != nil || len(back) != 81 {
		t.Errorf("yaml does not read back (%v, %d items)", err, len(back))
	}
	for _, format := range []string{"svg", "html"} {
		pic, err := runPolicy(t, "policy", "matrix", "-f", policyData, "--ports", "80/TCP", "-o", format)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(pic, "allowed</title>") + strings.Count(pic, ": allowed\">"); n == 0 {
			t.Errorf("%s has no allowed cell", format)
		}
		if format == "svg" {
			dec := xml.NewDecoder(strings.NewReader(pic))
			for {
				if _, err := dec.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("svg is not well-formed XML: %v", err)
				}
			}
		}
	}
	dot, _ := runPolicy(t, "policy", "matrix", "-f", policyData, "--ports", "80/TCP", "-o", "dot")
	if !strings.Contains(dot, `"y/a" -> "x/a" [label="TCP 80"]`) || strings.Contains(dot, `"z/a" -> "x/a"`) {
		t.Errorf("dot:\n%s", dot)
	}
	md, _ := runPolicy(t, "policy", "matrix", "-f", policyData, "--ports", "80/TCP", "-o", "md")
	if !strings.Contains(md, "| y/a | . | X | X |") {
		t.Errorf("md:\n%s", md)
	}
}

func TestPolicyExplainLintDiff(t *testing.T) {
	out, err := runPolicy(t, "policy", "explain", "y/a", "x/a", "--port", "81/TCP", "-f", policyData)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "DENIED") || !strings.Contains(out, "its ports (80/TCP) do not include 81/TCP") {
		t.Errorf("explain:\n%s", out)
	}
	out, err = runPolicy(t, "policy", "explain", "b", "a", "-n", "x", "--port", "80", "-f", policyData, "-o", "json")
	var xs []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &xs) != nil || len(xs) != 1 || xs[0]["allowed"] != false {
		t.Errorf("explain -n x b a -o json (%v):\n%s", err, out)
	}

	out, err = runPolicy(t, "policy", "lint", "-f", policyData)
	if ee, ok := err.(exitError); !ok || ee.code != 1 || !strings.Contains(out, "egress-without-dns") {
		t.Errorf("lint should find DNS cut off and exit 1 (%v):\n%s", err, out)
	}

	dir := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(policyData, "policies.yaml"))
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(strings.Replace(string(data), `ports: [{port: 80}]`, `ports: [{port: 80}, {port: 81}]`, 1)), 0o644)
	cluster := filepath.Join(policyData, "cluster.yaml")
	out, err = runPolicy(t, "policy", "diff", "-f", policyData, "-f", dir, "-f", cluster, "--ports", "81/TCP")
	if err == nil {
		t.Errorf("three -f paths should be refused")
	}
	os.WriteFile(filepath.Join(dir, "c.yaml"), mustRead(t, cluster), 0o644)
	out, err = runPolicy(t, "policy", "diff", "-f", policyData, "-f", dir, "--ports", "81/TCP,80/TCP")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(strings.TrimSpace(out)); strings.Count(out, "\n") != 4 || got[4] != "+" || got[5] != "y/a" || got[6] != "x/a" || got[7] != "81/TCP" {
		t.Errorf("diff should add y/* -> x/a on 81/TCP only:\n%s", out)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestPolicyBadInput(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 90, endPort: 80}], from: [{ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}}]}]
`), 0o644)
	_, err := runPolicy(t, "policy", "matrix", "-f", dir)
	if err == nil {
		t.Fatal("an invalid policy was accepted")
	}
	msg := formatError(err)
	for _, want := range []string{`The NetworkPolicy "bad" is invalid`, "spec.ingress[0].ports[0].endPort", "spec.ingress[0].from[0].ipBlock.except[0]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if _, err := runPolicy(t, "policy", "matrix", "-f", policyData, "--ports", "80/ICMP"); err == nil || !strings.Contains(err.Error(), `invalid protocol "ICMP"`) {
		t.Errorf("--ports 80/ICMP: %v", err)
	}
	if _, err := runPolicy(t, "policy", "explain", "x/a", "x/nope", "-f", policyData); err == nil || !strings.Contains(err.Error(), `pod "nope" not found in namespace "x"`) {
		t.Errorf("explain of a missing pod: %v", err)
	}
}
