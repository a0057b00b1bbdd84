// Package enforce programs NetworkPolicy into one node's nftables: the
// netpol model's verdicts compiled into sets that one lookup per packet
// consults, whatever the number of policies.
package enforce

import (
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/knftables"
)

// Table is the name of the enforcement table in a node's netns.
const Table = "podnet-netpol"

// Set names. Allow sets are keyed by the subject pod's IP first (the
// destination for ingress, the source for egress), then the far end's
// address range, then protocol and port range; the -any sets hold rules
// without ports (every protocol).
//
// Each allow set is cut into shards by the last bits of the subject's IP
// (shardOf): nftables rebuilds a whole concatenated interval set on every
// change (about 25 ms at 180,000 elements here), so a change to a few pods
// must only touch small sets. A packet still costs one set lookup per
// direction, after one verdict-map lookup of the masked address.
const (
	setIngressIsolated = "ingress-isolated"
	setEgressIsolated  = "egress-isolated"
	setIngressAllow    = "ingress-allow"
	setEgressAllow     = "egress-allow"
	setIngressAllowAny = "ingress-allow-any"
	setEgressAllowAny  = "egress-allow-any"

	shards = 16
)

// shardOf is the shard of a subject pod's allow elements.
func shardOf(subject uint32) uint32 { return subject % shards }

// shardSet names shard n of an allow set.
func shardSet(set string, n uint32) string { return fmt.Sprintf("%s-%d", set, n) }

type setDef struct {
	name, typ string
	interval  bool
}

var setDefs = func() []setDef {
	out := []setDef{
		{setIngressIsolated, "ipv4_addr", false},
		{setEgressIsolated, "ipv4_addr", false},
	}
	for n := range uint32(shards) {
		out = append(out,
			setDef{shardSet(setIngressAllow, n), "ipv4_addr . ipv4_addr . inet_proto . inet_service", true},
			setDef{shardSet(setEgressAllow, n), "ipv4_addr . ipv4_addr . inet_proto . inet_service", true},
			setDef{shardSet(setIngressAllowAny, n), "ipv4_addr . ipv4_addr", true},
			setDef{shardSet(setEgressAllowAny, n), "ipv4_addr . ipv4_addr", true})
	}
	return append(out, adminSetDefs...)
}()

type chainDef struct {
	name  string
	hook  knftables.BaseChainHook // "" for a regular chain
	rules []string
}

// chainDefs never change: policy lives in set elements only, so a policy
// change is element additions and deletions and per-packet work is a fixed
// number of set lookups.
//
// The hooks run at filter priority (0), after kube-proxy's DNAT
// (prerouting, -100): policy sees the real destination pod of a Service
// connection. Replies and related ICMP pass first. Traffic the node itself
// sends (kubelet probes) leaves through the output hook, which is not
// filtered: a pod's own node always reaches it. Pod-to-pod packets, same
// node too, are routed by the node and cross forward; pod-to-node packets
// cross input, where only egress applies.
//
// Each direction goes through its tier chain (admin.go): AdminNetworkPolicy,
// then the NetworkPolicy chain for isolated pods, then the baseline.
var chainDefs = slices.Concat([]chainDef{
	{"forward", knftables.ForwardHook, []string{
		"ct state established,related accept",
		"jump " + chainEgressTiers,
		"jump " + chainIngressTiers,
	}},
	{"input", knftables.InputHook, []string{
		"ct state established,related accept",
		"jump " + chainEgressTiers,
	}},
}, adminChainDefs,
	allowChains("egress", "saddr", "daddr", setEgressAllow, setEgressAllowAny),
	allowChains("ingress", "daddr", "saddr", setIngressAllow, setIngressAllowAny))

// allowChains: chain name picks the subject's shard in one verdict-map
// lookup on the address's last bits and goes to that shard's chain, which
// returns (to the hook chain) when an allow set has the packet and drops
// it otherwise.
func allowChains(name, subject, peer, allow, anyPort string) []chainDef {
	var vmap []string
	var out []chainDef
	for n := range uint32(shards) {
		shard := fmt.Sprintf("%s-%d", name, n)
		vmap = append(vmap, fmt.Sprintf("0.0.0.%d : goto %s", n, shard))
		out = append(out, chainDef{shard, "", []string{
			"ip " + subject + " . ip " + peer + " . meta l4proto . th dport @" + shardSet(allow, n) + " return",
			"ip " + subject + " . ip " + peer + " @" + shardSet(anyPort, n) + " return",
			"counter drop",
		}})
	}
	// " , ": knftables' fake reads the chain after goto up to a space.
	dispatch := chainDef{name, "", []string{
		fmt.Sprintf("ip %s & 0.0.0.%d vmap { %s }", subject, shards-1, strings.Join(vmap, " , ")),
	}}
	return append([]chainDef{dispatch}, out...)
}
