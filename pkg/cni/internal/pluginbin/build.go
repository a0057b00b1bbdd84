// Package pluginbin builds the plugin binary for tests that exec it.
package pluginbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/podnet/podnet/pkg/cni"
)

// Build compiles internal/testplugin into dir and installs the plugin names
// there as symlinks to it, returning dir for use as the CNI path.
func Build(dir string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	bin := filepath.Join(dir, "podnet-testplugin")
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/podnet/podnet/pkg/cni/internal/testplugin")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build testplugin: %v\n%s", err, out)
	}
	return cni.InstallPlugins(dir, bin)
}
