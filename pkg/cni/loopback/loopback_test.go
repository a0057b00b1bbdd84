package loopback

import (
	"net"
	"os"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
)

func TestLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	cases := []struct {
		name     string
		conf     string
		wantAddr string
	}{
		{
			name:     "chained, ADD passes the previous result through",
			conf:     `{"cniVersion":"1.1.0","name":"n","type":"podnet-loopback","prevResult":{"cniVersion":"1.1.0","ips":[{"address":"10.244.0.5/24","gateway":"10.244.0.1"}]}}`,
			wantAddr: "10.244.0.5/24",
		},
		{
			name:     "alone, ADD reports lo with 127.0.0.1/8",
			conf:     `{"cniVersion":"1.1.0","name":"n","type":"podnet-loopback"}`,
			wantAddr: "127.0.0.1/8",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod, err := testutils.NewNS()
			if err != nil {
				t.Fatal(err)
			}
			defer func() { pod.Close(); testutils.UnmountNS(pod) }()
			args := &skel.CmdArgs{ContainerID: "c1", Netns: pod.Path(), IfName: "eth0", StdinData: []byte(tc.conf)}
			raw, _, err := testutils.CmdAddWithArgs(args, func() error { return cmdAdd(args) })
			if err != nil {
				t.Fatal(err)
			}
			res, err := current.GetResult(raw)
			if err != nil || len(res.IPs) != 1 || res.IPs[0].Address.String() != tc.wantAddr {
				t.Fatalf("result = %+v, %v; want address %s", res, err, tc.wantAddr)
			}
			err = pod.Do(func(ns.NetNS) error {
				lo, err := netlink.LinkByName("lo")
				if err == nil && lo.Attrs().Flags&net.FlagUp == 0 {
					t.Error("lo is down after ADD")
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := testutils.CmdCheckWithArgs(args, func() error { return cmdCheck(args) }); err != nil {
				t.Fatalf("CHECK = %v", err)
			}
			for range 2 {
				if err := testutils.CmdDelWithArgs(args, func() error { return cmdDel(args) }); err != nil {
					t.Fatalf("DEL = %v", err)
				}
			}
		})
	}
}
