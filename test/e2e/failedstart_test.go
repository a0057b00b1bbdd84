package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A new lab whose start fails after its network was built (here: the image
// catalog cannot be written) removes every namespace it made and forgets its
// node count, keeping only the daemon's log; the next `up` starts clean.
func TestFailedStartLeavesNothing(t *testing.T) {
	l := newLab(t)
	dir := filepath.Join(l.state, l.name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(dir, "images")
	if err := os.WriteFile(blocker, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := l.run("up", "--nodes", "3", "--wait", "30s")
	if r.code == 0 {
		t.Fatalf("up succeeded with an unwritable image catalog:\n%s", r)
	}
	if !strings.Contains(r.err, "daemon.log") {
		t.Errorf("the failure does not point at the daemon's log:\n%s", r)
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "pn-"+l.name+"-") {
			t.Errorf("failed start left network namespace %s", line)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "daemon.log" && e.Name() != "daemon.pid" {
			t.Errorf("failed start left %s in the state directory", e.Name())
		}
	}
	if log, err := os.ReadFile(filepath.Join(dir, "daemon.log")); err != nil || len(log) == 0 {
		t.Errorf("the daemon's log is gone or empty (%v)", err)
	}
	// With the cause gone, a new lab comes up, with another node count.
	os.Remove(blocker)
	l.must("up", "--nodes", "2")
	if got := l.must("get", "nodes", "-o", "name"); strings.Count(got, "node/") != 2 {
		t.Errorf("nodes after a clean start:\n%s", got)
	}
}
