// Command podnet is Kubernetes cluster networking on one Linux machine: the
// CLI, the lab daemon, the DNS server and the CNI plugins in one binary.
package main

import (
	"os"
	"path/filepath"

	"github.com/podnet/podnet/pkg/cli"
	"github.com/podnet/podnet/pkg/cni"
)

func main() {
	// Container runtimes run CNI plugins by their type name.
	if cni.PluginMain(filepath.Base(os.Args[0])) {
		return
	}
	os.Exit(cli.Main(os.Args[1:]))
}
