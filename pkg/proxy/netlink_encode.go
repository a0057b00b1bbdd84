package proxy

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
	"sigs.k8s.io/knftables"
)

// The rule shapes a partial sync writes for Services without affinity, and
// the bytecode nft generates for each (`nft --debug=netlink` on nft 1.0.6):
// the same expressions, so `nft list` prints the same rules either way.
var (
	// ct mark set numgen random mod N offset K goto CHAIN:
	//   numgen reg 1 = random mod N offset K; ct set mark with reg 1; goto
	numgenRule = regexp.MustCompile(`^ct mark set numgen random mod (\d+) offset (\d+) (goto|jump) (\S+)$`)
	// goto CHAIN / jump CHAIN: immediate reg 0
	verdictRule = regexp.MustCompile(`^(goto|jump) (\S+)$`)
)

// ruleExprs encodes one of the shapes above; false for anything else.
func ruleExprs(rule string) ([]expr.Any, bool) {
	if m := numgenRule.FindStringSubmatch(rule); m != nil {
		mod, err1 := strconv.ParseUint(m[1], 10, 32)
		off, err2 := strconv.ParseUint(m[2], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		return []expr.Any{
			&expr.Numgen{Register: 1, Modulus: uint32(mod), Type: unix.NFT_NG_RANDOM, Offset: uint32(off)},
			&expr.Ct{Register: 1, SourceRegister: true, Key: expr.CtKeyMARK},
			verdictExpr(m[3], m[4]),
		}, true
	}
	if m := verdictRule.FindStringSubmatch(rule); m != nil {
		return []expr.Any{verdictExpr(m[1], m[2])}, true
	}
	return nil, false
}

func verdictExpr(kind, chain string) *expr.Verdict {
	if kind == "goto" {
		return &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain}
	}
	return &expr.Verdict{Kind: expr.VerdictJump, Chain: chain}
}

func protoNumber(p string) byte {
	switch p {
	case "udp":
		return unix.IPPROTO_UDP
	case "sctp":
		return unix.IPPROTO_SCTP
	}
	return unix.IPPROTO_TCP
}

// elementTypes splits a set's declaration into the data types of its key
// and (for maps) its value, by nft type name: "ipv4_addr . inet_proto" or,
// for typeof declarations, the expressions' types.
func elementTypes(s *Set) (key, value []string) {
	decl := s.Type
	if s.TypeOf != "" {
		decl = s.TypeOf
	}
	k, v, _ := strings.Cut(decl, " : ")
	conv := func(part string) []string {
		if part == "" {
			return nil
		}
		var out []string
		for _, t := range strings.Split(part, " . ") {
			switch t {
			case "ct mark":
				t = "mark"
			case "ip daddr", "ip saddr":
				t = "ipv4_addr"
			case "tcp dport", "udp dport", "th dport":
				t = "inet_service"
			}
			out = append(out, t)
		}
		return out
	}
	return conv(k), conv(v)
}

// encodeElement turns an element into netlink data. In a concatenation
// every field takes a whole 32-bit register, as nft lays them out.
func encodeElement(s *Set, e *knftables.Element, withValue bool) (nftables.SetElement, error) {
	keyTypes, valueTypes := elementTypes(s)
	key, err := encodeData(keyTypes, strings.Split(strings.Join(e.Key, " . "), " . "))
	if err != nil {
		return nftables.SetElement{}, err
	}
	el := nftables.SetElement{Key: key}
	if !s.Map || !withValue {
		return el, nil
	}
	value := strings.Join(e.Value, " . ")
	if len(valueTypes) == 1 && valueTypes[0] == "verdict" {
		v, err := parseVerdict(value)
		if err != nil {
			return el, err
		}
		el.VerdictData = v
		return el, nil
	}
	el.Val, err = encodeData(valueTypes, strings.Split(value, " . "))
	return el, err
}

func encodeData(types, fields []string) ([]byte, error) {
	if len(types) != len(fields) || len(types) == 0 {
		return nil, fmt.Errorf("%d fields for %d types", len(fields), len(types))
	}
	var out []byte
	for i, t := range types {
		f := strings.TrimSpace(fields[i])
		var b []byte
		switch t {
		case "ipv4_addr":
			ip, err := netip.ParseAddr(f)
			if err != nil || !ip.Is4() {
				return nil, fmt.Errorf("bad ipv4_addr %q", f)
			}
			a := ip.As4()
			b = a[:]
		case "inet_proto":
			switch f {
			case "tcp", "udp", "sctp":
				b = []byte{protoNumber(f)}
			default:
				return nil, fmt.Errorf("bad inet_proto %q", f)
			}
		case "inet_service":
			n, err := strconv.ParseUint(f, 10, 16)
			if err != nil {
				return nil, err
			}
			b = binary.BigEndian.AppendUint16(nil, uint16(n))
		case "mark": // host byte order, as the ct mark register holds it
			n, err := strconv.ParseUint(f, 0, 32)
			if err != nil {
				return nil, err
			}
			b = binary.NativeEndian.AppendUint32(nil, uint32(n))
		default:
			return nil, fmt.Errorf("type %q", t)
		}
		if len(types) > 1 {
			for len(b)%4 != 0 {
				b = append(b, 0)
			}
		}
		out = append(out, b...)
	}
	return out, nil
}

func parseVerdict(v string) (*expr.Verdict, error) {
	kind, chain, _ := strings.Cut(v, " ")
	switch kind {
	case "goto", "jump":
		if chain == "" {
			return nil, fmt.Errorf("verdict %q", v)
		}
		return verdictExpr(kind, chain), nil
	case "drop":
		return &expr.Verdict{Kind: expr.VerdictDrop}, nil
	case "accept":
		return &expr.Verdict{Kind: expr.VerdictAccept}, nil
	case "return":
		return &expr.Verdict{Kind: expr.VerdictReturn}, nil
	}
	return nil, fmt.Errorf("verdict %q", v)
}
