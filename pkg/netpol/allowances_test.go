package netpol

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestSubtract(t *testing.T) {
	cases := []struct {
		cidr   string
		except []string
		want   string
	}{
		{"10.0.0.0/24", nil, "[10.0.0.0/24]"},
		{"10.0.0.0/24", []string{"10.0.0.128/25"}, "[10.0.0.0/25]"},
		{"10.0.0.0/30", []string{"10.0.0.1/32"}, "[10.0.0.0/32 10.0.0.2/31]"},
		{"10.0.0.0/24", []string{"10.0.0.0/16"}, "[]"},
		{"10.0.0.0/30", []string{"10.0.0.0/32", "10.0.0.3/32"}, "[10.0.0.1/32 10.0.0.2/32]"},
	}
	for _, tc := range cases {
		var ex []netip.Prefix
		for _, e := range tc.except {
			ex = append(ex, netip.MustParsePrefix(e))
		}
		if got := fmt.Sprint(subtract(netip.MustParsePrefix(tc.cidr), ex)); got != tc.want {
			t.Errorf("%s except %v = %s, want %s", tc.cidr, tc.except, got, tc.want)
		}
	}
}
