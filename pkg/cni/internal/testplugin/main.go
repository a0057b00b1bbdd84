// Command testplugin is the podnet CNI plugins alone, for tests that exec the
// plugins as a runtime does; link it under the plugin names.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/podnet/podnet/pkg/cni"
)

func main() {
	if !cni.PluginMain(filepath.Base(os.Args[0])) {
		fmt.Fprintf(os.Stderr, "run me as one of %v\n", cni.PluginNames())
		os.Exit(2)
	}
}
