package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/knftables"

	"github.com/podnet/podnet/pkg/nftns"
)

// TestLiveNetlinkPartialSync (root) runs random partial syncs into a real
// table, sent over netlink where Netlink encodes them, and after every step
// compares `nft list table` with a second namespace where nft wrote the
// same state from scratch: what nft prints is decoded from the kernel's
// bytecode, so equal listings mean the netlink encoding is nft's.
func TestLiveNetlinkPartialSync(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live nftables test needs root (network namespaces, nft)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft binary not installed")
	}
	b := make([]byte, 4)
	rand.Read(b)
	id := hex.EncodeToString(b)
	nsNL, nsRef := "pntest-"+id+"-nl", "pntest-"+id+"-ref"
	for _, name := range []string{nsNL, nsRef} {
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", name, err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	}
	ctx := context.Background()
	nft, err := nftns.New("/run/netns/"+nsNL, knftables.IPv4Family, testTable)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := nftns.NewNetlink("/run/netns/" + nsNL)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := nftns.New("/run/netns/"+nsRef, knftables.IPv4Family, testTable)
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	a := newApplier(nft, nil, clk)
	a.SetNetlink(&Netlink{Conn: conn, Table: testTable})

	w := newWorld(mrand.New(mrand.NewPCG(7, 7)), 12)
	slots := NewSlots()
	in := w.inputs()
	in.Slots = slots
	if err := a.Apply(ctx, Compile(in)); err != nil {
		t.Fatal(err)
	}
	partials := 0
	for step := range 30 {
		dirty := w.change(1 + step%3)
		in := w.inputs()
		in.Slots = slots
		if err := a.ApplyServices(ctx, CompileServices(in, dirty)); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		partials++
		clk.Step(staleChainDelay)
		if err := a.ApplyServices(ctx, nil); err != nil {
			t.Fatal(err)
		}
		full := in
		full.Slots = cloneSlots(slots)
		want := Compile(full)
		exec.Command("ip", "netns", "exec", nsRef, "nft", "delete", "table", "ip", testTable).Run()
		if err := NewApplier(ref, nil).Apply(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got, exp := listTable(t, nsNL), listTable(t, nsRef); got != exp {
			t.Fatalf("step %d: table after netlink partial syncs differs from nft's:\n%s\nwant:\n%s", step, got, exp)
		}
	}
	// Affinity set changes go to nft; most others must have used netlink.
	if a.netlinkBatches < partials/3 {
		t.Errorf("%d of %d partial syncs went over netlink", a.netlinkBatches, partials)
	}
	t.Logf("%d of %d partial syncs over netlink", a.netlinkBatches, partials)
}

var elementsBlock = regexp.MustCompile(`elements = \{([^}]*)\}`)

// listTable prints the test table with its chains, sets and maps in name
// order and every set's elements sorted: the kernel keeps creation order,
// which differs between a table built up over time and a fresh one.
func listTable(t *testing.T, netns string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", netns, "nft", "list", "table", "ip", testTable).Output()
	if err != nil {
		t.Fatalf("nft list table in %s: %v", netns, err)
	}
	var blocks []string
	var cur []string
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "\tchain "), strings.HasPrefix(line, "\tset "), strings.HasPrefix(line, "\tmap "):
			cur = []string{line}
		case line == "\t}" && cur != nil:
			blocks = append(blocks, normalizeElements(strings.Join(append(cur, line), "\n")))
			cur = nil
		case cur != nil:
			cur = append(cur, line)
		}
	}
	slices.Sort(blocks)
	return strings.Join(blocks, "\n")
}

func normalizeElements(block string) string {
	return elementsBlock.ReplaceAllStringFunc(block, func(m string) string {
		body := elementsBlock.FindStringSubmatch(m)[1]
		var items []string
		for _, it := range strings.Split(body, ",") {
			items = append(items, strings.Join(strings.Fields(it), " "))
		}
		slices.Sort(items)
		return fmt.Sprintf("elements = { %s }", strings.Join(items, ", "))
	})
}
