// Package nftns opens nftables (through knftables) inside a network
// namespace, for the components that program a lab node: the service proxy
// and the NetworkPolicy enforcer.
package nftns

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/google/nftables"
	"sigs.k8s.io/knftables"
)

// netnsNFTables is a knftables.Interface whose calls run inside a network
// namespace.
//
// knftables runs the nft binary for every call. NetNS.Do runs its function on
// a goroutine locked to an OS thread that has joined the namespace (setns
// changes only the calling thread); os/exec forks the child from that same
// thread, and a child process starts in its parent thread's network
// namespace, so nft talks to the namespace's netfilter. Nothing else of the
// process moves, and the thread goes back to its namespace afterwards.
// (knftables' experimental netlink listing would open its socket elsewhere,
// so it is not enabled.)
type netnsNFTables struct {
	netns  ns.NetNS
	inner  knftables.Interface
	family knftables.Family
	table  string
}

var _ knftables.Interface = (*netnsNFTables)(nil)

// New returns a knftables.Interface for family/table whose every call
// executes nft inside the network namespace at nsPath (e.g. /var/run/netns/x).
// The namespace file stays open until the process exits.
func New(nsPath string, family knftables.Family, table string) (knftables.Interface, error) {
	netns, err := ns.GetNS(nsPath)
	if err != nil {
		return nil, fmt.Errorf("failed to open netns %q: %w", nsPath, err)
	}
	n := &netnsNFTables{netns: netns, family: family, table: table}
	// knftables.New itself runs nft (version and feature checks), so it too
	// must run inside the namespace.
	err = netns.Do(func(ns.NetNS) error {
		var err error
		n.inner, err = knftables.New(family, table)
		return err
	})
	if err != nil {
		netns.Close()
		return nil, fmt.Errorf("nftables in netns %q: %w", nsPath, err)
	}
	return n, nil
}

func (n *netnsNFTables) do(fn func() error) error {
	return n.netns.Do(func(ns.NetNS) error { return fn() })
}

func (n *netnsNFTables) NewTransaction() *knftables.Transaction { return n.inner.NewTransaction() }

func (n *netnsNFTables) Run(ctx context.Context, tx *knftables.Transaction) error {
	return n.do(func() error { return n.inner.Run(ctx, tx) })
}

func (n *netnsNFTables) Check(ctx context.Context, tx *knftables.Transaction) error {
	return n.do(func() error { return n.inner.Check(ctx, tx) })
}

func (n *netnsNFTables) ListAll(ctx context.Context) (out map[string][]string, err error) {
	err = n.do(func() error { out, err = n.inner.ListAll(ctx); return err })
	return out, err
}

func (n *netnsNFTables) List(ctx context.Context, objectType string) (out []string, err error) {
	err = n.do(func() error { out, err = n.inner.List(ctx, objectType); return err })
	return out, err
}

func (n *netnsNFTables) ListRules(ctx context.Context, chain string) (out []*knftables.Rule, err error) {
	err = n.do(func() error { out, err = n.inner.ListRules(ctx, chain); return err })
	return out, err
}

func (n *netnsNFTables) ListElements(ctx context.Context, objectType, name string) (out []*knftables.Element, err error) {
	err = n.do(func() error { out, err = n.inner.ListElements(ctx, objectType, name); return err })
	return out, err
}

func (n *netnsNFTables) ListCounters(ctx context.Context) (out []*knftables.Counter, err error) {
	err = n.do(func() error { out, err = n.inner.ListCounters(ctx); return err })
	return out, err
}

// NewNetlink returns a function that opens a google/nftables connection
// whose netlink socket lives in the network namespace at nsPath, for
// batches sent without the nft binary (the proxy's partial syncs). The
// namespace file stays open until the process exits.
func NewNetlink(nsPath string) (func() (*nftables.Conn, error), error) {
	netns, err := ns.GetNS(nsPath)
	if err != nil {
		return nil, fmt.Errorf("failed to open netns %q: %w", nsPath, err)
	}
	// The closure holds netns itself, not just its fd: a NetNS that is no
	// longer referenced is closed by its finalizer, and the fd with it.
	return func() (*nftables.Conn, error) {
		return nftables.New(nftables.WithNetNSFd(int(netns.Fd())))
	}, nil
}

// RunScript runs nft -f - on script inside the namespace: one atomic
// transaction written as nft text by the caller rather than by knftables
// (the proxy's full sync puts each set's elements in one command, which nft
// parses and the kernel loads much faster than one command per element).
func (n *netnsNFTables) RunScript(ctx context.Context, script []byte) error {
	return n.do(func() error {
		cmd := exec.CommandContext(ctx, "nft", "-f", "-")
		cmd.Stdin = bytes.NewReader(script)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("nft -f: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return nil
	})
}

// Table is the family and table this interface is bound to.
func (n *netnsNFTables) Table() (knftables.Family, string) { return n.family, n.table }
