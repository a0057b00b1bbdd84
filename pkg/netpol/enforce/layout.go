// Package enforce programs NetworkPolicy into one node's nftables: the
// netpol model's verdicts compiled into sets that one lookup per packet
// consults, whatever the number of policies.
package enforce

import "sigs.k8s.io/knftables"

// Table is the name of the enforcement table in a node's netns.
const Table = "podnet-netpol"

// Set names. Allow sets are keyed by the subject pod's IP first (the
// destination for ingress, the source for egress), then the far end's
// address range, then protocol and port range; the -any sets hold rules
// without ports (every protocol).
const (
	setIngressIsolated = "ingress-isolated"
	setEgressIsolated  = "egress-isolated"
	setIngressAllow    = "ingress-allow"
	setEgressAllow     = "egress-allow"
	setIngressAllowAny = "ingress-allow-any"
	setEgressAllowAny  = "egress-allow-any"
)

type setDef struct {
	name, typ string
	interval  bool
}

var setDefs = append([]setDef{
	{setIngressIsolated, "ipv4_addr", false},
	{setEgressIsolated, "ipv4_addr", false},
	{setIngressAllow, "ipv4_addr . ipv4_addr . inet_proto . inet_service", true},
	{setEgressAllow, "ipv4_addr . ipv4_addr . inet_proto . inet_service", true},
	{setIngressAllowAny, "ipv4_addr . ipv4_addr", true},
	{setEgressAllowAny, "ipv4_addr . ipv4_addr", true},
}, adminSetDefs...)

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
var chainDefs = append([]chainDef{
	{"forward", knftables.ForwardHook, []string{
		"ct state established,related accept",
		"jump " + chainEgressTiers,
		"jump " + chainIngressTiers,
	}},
	{"input", knftables.InputHook, []string{
		"ct state established,related accept",
		"jump " + chainEgressTiers,
	}},
	{"egress", "", []string{
		"ip saddr . ip daddr . meta l4proto . th dport @" + setEgressAllow + " return",
		"ip saddr . ip daddr @" + setEgressAllowAny + " return",
		"counter drop",
	}},
	{"ingress", "", []string{
		"ip daddr . ip saddr . meta l4proto . th dport @" + setIngressAllow + " return",
		"ip daddr . ip saddr @" + setIngressAllowAny + " return",
		"counter drop",
	}},
}, adminChainDefs...)
