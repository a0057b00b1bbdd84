package corefile

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text to the Corefile parser: it must never
// panic, and every error must name where it is (a line, or the Corefile).
func FuzzParse(f *testing.F) {
	f.Add(kubeadm)
	f.Add(".:53 {\n kubernetes cluster.local {\n  ttl 0\n }\n rewrite name regex (.*)\\.x {1}.y answer auto\n hosts {\n  1.2.3.4 a\n  fallthrough\n }\n}\n")
	f.Add("\"unterminated")
	f.Add("}{")
	f.Fuzz(func(t *testing.T, text string) {
		_, err := Parse(text, files(map[string]string{"/etc/resolv.conf": "nameserver 192.0.2.1\n", "/etc/hosts": "192.0.2.2 h\n"}))
		if err != nil && !strings.HasPrefix(err.Error(), "Corefile") {
			t.Errorf("error without a location: %v", err)
		}
	})
}
