package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Names of the fixed objects of the table, as kube-proxy's nftables mode names
// them, so that people who know `nft list table ip kube-proxy` can read ours.
const (
	servicesChain            = "services"
	serviceEndpointsCheck    = "service-endpoints-check"
	nodePortEndpointsCheck   = "nodeport-endpoints-check"
	clusterIPsCheckChain     = "cluster-ips-check"
	markForMasqueradeChain   = "mark-for-masquerade"
	masqueradingChain        = "masquerading"
	rejectChain              = "reject-chain"
	serviceIPsMap            = "service-ips"
	serviceNodePortsMap      = "service-nodeports"
	noEndpointServicesMap    = "no-endpoint-services"
	noEndpointNodePortsMap   = "no-endpoint-nodeports"
	clusterIPsSet            = "cluster-ips"
	firewallIPsMap           = "firewall-ips"
	backendsMap              = "backends"
	hairpinSet               = "hairpin"
	endpointDNATChain        = "endpoint-dnat"
	firewallCheckChain       = "firewall-check"
	localChainPrefix         = "local-"
	firewallChainPrefix      = "firewall-"
	chainNameLengthMax       = 256 // NFT_NAME_MAXLEN in the kernel, counting the NUL
	serviceChainPrefix       = "service-"
	externalChainPrefix      = "external-"
	endpointChainPrefix      = "endpoint-"
	affinitySetPrefix        = "affinity-"
	defaultMasqueradeBit     = 14
	defaultAffinityTimeout   = 10800 // seconds; core/v1 DefaultClientIPServiceAffinitySeconds
	loopbackNet              = "127.0.0.0/8"
	endpointChainPortDivider = "__"
)

// hashedName makes a per-object chain or set name: prefix, 8 base32 characters
// of the SHA-256 of the readable part, then the readable part itself.
//
// nft identifiers may contain letters, digits and "/", "-", "_", "." only, which
// is why the readable part uses "/" where one would write ":" (ip/port); and the
// kernel limits names to 255 bytes. With Kubernetes' own limits (namespace and
// name 63, port name 15, protocol 4, IPv4 15, port 5) the longest endpoint chain
// name is about 215 bytes, so truncation cannot happen for valid objects. The
// hash is still what makes names unique: if an invalid object ever produced a
// longer name, the truncated names would differ by their hash.
func hashedName(prefix, readable string) string {
	sum := sha256.Sum256([]byte(readable))
	name := prefix + base32.StdEncoding.EncodeToString(sum[:])[:8] + "-" + readable
	if len(name) > chainNameLengthMax-1 {
		name = name[:chainNameLengthMax-4] + "..."
	}
	return name
}

// servicePortName is the readable identity of one service port,
// "namespace/name/protocol/portname" as in kube-proxy.
func servicePortName(svc *corev1.Service, port *corev1.ServicePort) string {
	return fmt.Sprintf("%s/%s/%s/%s", svc.Namespace, svc.Name, strings.ToLower(string(port.Protocol)), port.Name)
}

func serviceChainName(spn string) string  { return hashedName(serviceChainPrefix, spn) }
func externalChainName(spn string) string { return hashedName(externalChainPrefix, spn) }
func localChainName(spn string) string    { return hashedName(localChainPrefix, spn) }
func firewallChainName(spn string) string { return hashedName(firewallChainPrefix, spn) }

func endpointReadable(spn string, ep endpoint) string {
	return fmt.Sprintf("%s%s%s/%d", spn, endpointChainPortDivider, ep.ip, ep.port)
}

func endpointChainName(spn string, ep endpoint) string {
	return hashedName(endpointChainPrefix, endpointReadable(spn, ep))
}

func affinitySetName(spn string, ep endpoint) string {
	return hashedName(affinitySetPrefix, endpointReadable(spn, ep))
}
