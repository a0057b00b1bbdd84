package bridge

import (
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name        string
		stdin       string
		wantCode    uint
		wantMsg     string
		wantBridge  string
		wantHairpin bool
		wantGateway bool
	}{
		{name: "defaults are cni0, gateway on and hairpin on", stdin: `{"name":"n","ipam":{"type":"x"}}`, wantBridge: "cni0", wantHairpin: true, wantGateway: true},
		{name: "explicit values are kept", stdin: `{"name":"n","bridge":"br1","isGateway":false,"hairpinMode":false,"ipam":{"type":"x"}}`, wantBridge: "br1"},
		{name: "undecodable JSON is a decoding failure", stdin: `[`, wantCode: types.ErrDecodingFailure},
		{name: "a missing ipam type is an invalid config", stdin: `{"name":"n"}`, wantCode: types.ErrInvalidNetworkConfig, wantMsg: "ipam.type"},
		{name: "a missing name is an invalid config", stdin: `{"ipam":{"type":"x"}}`, wantCode: types.ErrInvalidNetworkConfig, wantMsg: "name"},
		{name: "a bridge name longer than 15 bytes is an invalid config", stdin: `{"name":"n","bridge":"abcdefghijklmnop","ipam":{"type":"x"}}`, wantCode: types.ErrInvalidNetworkConfig, wantMsg: "bridge"},
		{name: "a bridge name with a slash is an invalid config", stdin: `{"name":"n","bridge":"a/b","ipam":{"type":"x"}}`, wantCode: types.ErrInvalidNetworkConfig, wantMsg: "bridge"},
		{name: "an MTU below 68 is an invalid config", stdin: `{"name":"n","mtu":20,"ipam":{"type":"x"}}`, wantCode: types.ErrInvalidNetworkConfig, wantMsg: "mtu"},
		{name: "an unparsable prevResult is a decoding failure", stdin: `{"name":"n","cniVersion":"1.1.0","ipam":{"type":"x"},"prevResult":{"ips":"x"}}`, wantCode: types.ErrDecodingFailure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.stdin))
			if tc.wantCode != 0 {
				var e *types.Error
				if !errors.As(err, &e) || e.Code != tc.wantCode || !strings.Contains(e.Msg, tc.wantMsg) {
					t.Fatalf("ParseConfig() error = %v, want code %d containing %q", err, tc.wantCode, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Bridge != tc.wantBridge || c.Hairpin() != tc.wantHairpin || c.Gateway() != tc.wantGateway {
				t.Fatalf("got bridge %q hairpin %v gateway %v", c.Bridge, c.Hairpin(), c.Gateway())
			}
		})
	}
}

func TestHostVethName(t *testing.T) {
	cases := []struct {
		name         string
		a, b         [2]string
		wantSameName bool
	}{
		{name: "the same attachment always gets the same name", a: [2]string{"c1", "eth0"}, b: [2]string{"c1", "eth0"}, wantSameName: true},
		{name: "another interface of the container gets another name", a: [2]string{"c1", "eth0"}, b: [2]string{"c1", "eth1"}},
		{name: "another container gets another name", a: [2]string{"c1", "eth0"}, b: [2]string{"c2", "eth0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x, y := HostVethName(tc.a[0], tc.a[1]), HostVethName(tc.b[0], tc.b[1])
			if len(x) != 12 || !strings.HasPrefix(x, "veth") || (x == y) != tc.wantSameName {
				t.Fatalf("names %q and %q, want same=%v and 12 bytes", x, y, tc.wantSameName)
			}
		})
	}
}
