// Package e2e brings up real labs with the podnet binary and walks the
// tutorials' steps with the tools a user would run inside pods (nslookup,
// curl, wget). These tests need root; they skip without it.
package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var podnetBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() == 0 && !testing.Short() {
		dir, err := os.MkdirTemp("", "podnet-e2e-bin-")
		if err != nil {
			panic(err)
		}
		podnetBin = filepath.Join(dir, "podnet")
		build := exec.Command("go", "build", "-o", podnetBin, "../../cmd/podnet")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building podnet:", err)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// lab is one lab under test, with its own name and state root so tests never
// touch each other's (or a user's) labs.
type lab struct {
	t     *testing.T
	name  string
	state string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lab tests need root (network namespaces, nftables); run as root")
	}
	if testing.Short() {
		t.Skip("lab tests skipped in -short mode")
	}
	l := &lab{t: t, name: fmt.Sprintf("e2e%04x", rand.IntN(0x10000)), state: t.TempDir()}
	t.Cleanup(func() {
		l.run("down")
		l.assertNothingLeft()
	})
	return l
}

type result struct {
	out, err string
	code     int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
}

// run executes podnet against this lab.
func (l *lab) run(args ...string) result {
	l.t.Helper()
	return l.runStdin("", args...)
}

// mustStdin runs podnet with stdin and fails the test unless it exits 0.
func (l *lab) mustStdin(stdin string, args ...string) string {
	l.t.Helper()
	r := l.runStdin(stdin, args...)
	if r.code != 0 {
		l.t.Fatalf("podnet %s: %s", strings.Join(args, " "), r)
	}
	return r.out
}

func (l *lab) runStdin(stdin string, args ...string) result {
	l.t.Helper()
	cmd := exec.Command(podnetBin, append([]string{"--lab", l.name, "--state-root", l.state}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		l.t.Fatalf("running podnet %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// must runs podnet and fails the test unless it exits 0.
func (l *lab) must(args ...string) string {
	l.t.Helper()
	r := l.run(args...)
	if r.code != 0 {
		l.t.Fatalf("podnet %s: %s", strings.Join(args, " "), r)
	}
	return r.out
}

func (l *lab) up() {
	l.t.Helper()
	l.must("up")
}

// eventually retries f until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

// assertNothingLeft checks that the lab left no network namespace, no
// process and no state behind.
func (l *lab) assertNothingLeft() {
	t := l.t
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "pn-"+l.name+"-") {
			t.Errorf("network namespace left behind: %s", line)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if bytes.Contains(data, []byte(l.state+"/"+l.name)) || bytes.Contains(data, []byte("--lab\x00"+l.name+"\x00")) {
			t.Errorf("process left behind: %s", strings.ReplaceAll(string(data), "\x00", " "))
		}
	}
	if _, err := os.Stat(filepath.Join(l.state, l.name)); err == nil {
		t.Errorf("state directory %s left behind", filepath.Join(l.state, l.name))
	}
}
