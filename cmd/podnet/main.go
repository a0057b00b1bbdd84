// Command podnet is Kubernetes cluster networking on one Linux machine: the
// CLI, the lab daemon, the DNS server and the CNI plugins in one binary.
package main

import (
	"os"
	"path/filepath"

	"github.com/podnet/podnet/pkg/agnhost"
	"github.com/podnet/podnet/pkg/cli"
	"github.com/podnet/podnet/pkg/cni"
	"github.com/podnet/podnet/pkg/wget"
)

func main() {
	// Container runtimes run CNI plugins by their type name.
	name := filepath.Base(os.Args[0])
	if cni.PluginMain(name) {
		return
	}
	switch name {
	case "wget": // the busybox image's wget (see package wget for why)
		os.Exit(wget.Main(os.Args[1:], os.Stdout, os.Stderr))
	case "agnhost": // the e2e test image's program
		os.Exit(agnhost.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(cli.Main(os.Args[1:]))
}
