package hostlocal

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

func TestParseConfigErrors(t *testing.T) {
	cases := []struct {
		name     string
		stdin    string
		cniArgs  string
		wantCode uint
		wantMsg  string
	}{
		{name: "undecodable JSON is a decoding failure", stdin: `{`, wantCode: types.ErrDecodingFailure},
		{name: "a missing ipam section is an invalid config", stdin: `{"name":"n"}`, wantCode: types.ErrInvalidNetworkConfig, wantMsg: "missing ipam"},
		{name: "no ranges is an invalid config", stdin: `{"name":"n","ipam":{"type":"x"}}`, wantCode: types.ErrInvalidNetworkConfig, wantMsg: "ipam.ranges"},
		{name: "a bad subnet names its position", stdin: rangesConf(`{"subnet":"10.0.0.0/33"}`), wantCode: types.ErrInvalidNetworkConfig, wantMsg: "ipam.ranges[0][0]: subnet"},
		{name: "a subnet with host bits is refused", stdin: rangesConf(`{"subnet":"10.0.0.5/24"}`), wantCode: types.ErrInvalidNetworkConfig, wantMsg: "did you mean 10.0.0.0/24"},
		{name: "a range end outside the subnet is refused", stdin: rangesConf(`{"subnet":"10.0.0.0/24","rangeEnd":"10.0.1.9"}`), wantCode: types.ErrInvalidNetworkConfig, wantMsg: "rangeEnd 10.0.1.9 is outside subnet"},
		{name: "the broadcast address cannot be in a range", stdin: rangesConf(`{"subnet":"10.0.0.0/24","rangeEnd":"10.0.0.255"}`), wantCode: types.ErrInvalidNetworkConfig, wantMsg: "must stay within the hosts"},
		{name: "overlapping range sets are refused", stdin: `{"name":"n","ipam":{"type":"x","ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.0.0/25"}]]}}`, wantCode: types.ErrInvalidNetworkConfig, wantMsg: "overlaps"},
		{name: "a bad runtimeConfig ip is an invalid config", stdin: `{"name":"n","runtimeConfig":{"ips":["nope"]},"ipam":{"type":"x","ranges":[[{"subnet":"10.0.0.0/24"}]]}}`, wantCode: types.ErrInvalidNetworkConfig, wantMsg: "runtimeConfig.ips[0]"},
		{name: "a bad IP in CNI_ARGS is an invalid environment", stdin: rangesConf(`{"subnet":"10.0.0.0/24"}`), cniArgs: "IgnoreUnknown=1;IP=10.0.0.300", wantCode: types.ErrInvalidEnvironmentVariables},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.stdin), tc.cniArgs)
			var e *types.Error
			if !errors.As(err, &e) {
				t.Fatalf("ParseConfig() error = %v, want a CNI error with code %d", err, tc.wantCode)
			}
			if e.Code != tc.wantCode || !strings.Contains(e.Msg, tc.wantMsg) {
				t.Fatalf("ParseConfig() error = code %d %q, want code %d containing %q", e.Code, e.Msg, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func rangesConf(r string) string {
	return fmt.Sprintf(`{"name":"n","ipam":{"type":"x","ranges":[[%s]]}}`, r)
}

func TestParseConfigDefaults(t *testing.T) {
	cases := []struct {
		name      string
		stdin     string
		cniArgs   string
		wantRange string
		wantGW    string
		wantReq   string
		wantDir   string
	}{
		{
			name: "a bare subnet gives .1 to .254 with gateway .1", stdin: rangesConf(`{"subnet":"10.244.0.0/24"}`),
			wantRange: "10.244.0.1-10.244.0.254", wantGW: "10.244.0.1", wantDir: DefaultDataDir,
		},
		{
			name:      "explicit bounds, gateway and data dir are kept",
			stdin:     `{"name":"n","ipam":{"type":"x","dataDir":"/tmp/d","ranges":[[{"subnet":"10.0.0.0/16","rangeStart":"10.0.5.1","rangeEnd":"10.0.5.9","gateway":"10.0.0.1"}]]}}`,
			wantRange: "10.0.5.1-10.0.5.9", wantGW: "10.0.0.1", wantDir: "/tmp/d",
		},
		{
			name: "IP= in CNI_ARGS is a request, other keys are ignored", stdin: rangesConf(`{"subnet":"10.244.0.0/24"}`),
			cniArgs:   "IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.244.0.7",
			wantRange: "10.244.0.1-10.244.0.254", wantGW: "10.244.0.1", wantReq: "10.244.0.7", wantDir: DefaultDataDir,
		},
		{
			name:      "runtimeConfig ips in CIDR form are a request",
			stdin:     `{"name":"n","runtimeConfig":{"ips":["10.244.0.8/24"]},"ipam":{"type":"x","ranges":[[{"subnet":"10.244.0.0/24"}]]}}`,
			wantRange: "10.244.0.1-10.244.0.254", wantGW: "10.244.0.1", wantReq: "10.244.0.8", wantDir: DefaultDataDir,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.stdin), tc.cniArgs)
			if err != nil {
				t.Fatal(err)
			}
			r := c.RangeSets[0][0]
			var req []string
			for _, ip := range c.RequestedIPs {
				req = append(req, ip.String())
			}
			if r.String() != tc.wantRange || r.Gateway.String() != tc.wantGW || strings.Join(req, ",") != tc.wantReq || c.DataDir != tc.wantDir {
				t.Fatalf("got range %s gw %s requests %v dir %s", r, r.Gateway, req, c.DataDir)
			}
		})
	}
}
