package cni

import (
	"fmt"
	"os"
	"path/filepath"
)

// InstallPlugins makes binDir hold every plugin name as a symlink to self,
// the podnet executable, which is how CNI runtimes find plugins: by type name
// in their plugin path. Existing links are replaced.
func InstallPlugins(binDir, self string) error {
	abs, err := filepath.Abs(self)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return fmt.Errorf("create CNI bin dir %q: %w", binDir, err)
	}
	for _, name := range PluginNames() {
		link := filepath.Join(binDir, name)
		// Replace atomically so a runtime never finds the name missing.
		tmp := link + ".tmp"
		os.Remove(tmp)
		if err := os.Symlink(abs, tmp); err != nil {
			return fmt.Errorf("link %q: %w", link, err)
		}
		if err := os.Rename(tmp, link); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("link %q: %w", link, err)
		}
	}
	return nil
}
