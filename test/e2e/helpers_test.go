package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nftRules lists the first node's nftables rules, sorted, without the
// handles and counters that differ between listings.
func nftRules(t *testing.T, l *lab) string {
	t.Helper()
	return nodeRules(t, l, 0)
}

// Slot numbers (the ct mark ranges of the proxy's backends map) are handed
// out in the order a daemon first sees Services, so a restarted daemon may
// number them differently; what must not change is every rule and every
// endpoint. elementBlock and slotNumber let nodeRules compare modulo that.
var (
	elementBlock = regexp.MustCompile(`elements = \{([^}]*)\}`)
	slotKey      = regexp.MustCompile(`^0x[0-9a-f]+ : `)
	slotOffset   = regexp.MustCompile(`offset \d+`)
)

// nodeRules is nftRules for node i: every rule and set element, sorted,
// with slot numbers left out.
func nodeRules(t *testing.T, l *lab, i int) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", fmt.Sprintf("pn-%s-node%d", l.name, i), "nft", "list", "ruleset").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list ruleset: %v: %s", err, out)
	}
	text := elementBlock.ReplaceAllStringFunc(string(out), func(block string) string {
		inner := elementBlock.FindStringSubmatch(block)[1]
		var elems []string
		for _, e := range strings.Split(inner, ",") {
			if e = strings.TrimSpace(e); e != "" && !strings.Contains(e, "expires") {
				elems = append(elems, slotKey.ReplaceAllString(e, "slot : "))
			}
		}
		sort.Strings(elems)
		return "elements = { " + strings.Join(elems, "\n") + " }"
	})
	text = slotOffset.ReplaceAllString(text, "offset N")
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.Contains(line, "expires") {
			continue
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// killDaemon kills the lab daemon without letting it clean up.
func killDaemon(t *testing.T, l *lab) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(l.state, l.name, "daemon.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		// The daemon was started by another process (podnet up), so it is
		// reaped by init; wait until it is gone.
		if data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(data), ") Z ") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}
