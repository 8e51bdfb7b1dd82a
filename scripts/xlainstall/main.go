// Command xlainstall installs a PJRT plugin with go-xla's own installer.
//
// scripts/setup.sh uses it for the CUDA plugin (go-xla fetches the JAX CUDA wheels and the NVIDIA
// libraries from PyPI) and, with --upstream-xla, for the CPU plugin from go-xla's GitHub releases
// (for users who can reach GitHub; the default CPU install uses a pinned PyPI wheel instead).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gomlx/go-xla/installer"
)

func main() {
	plugin := flag.String("plugin", "cuda", `plugin to install: "cuda" or "cpu"`)
	dir := flag.String("dir", "", `"lib" directory under which "go-xla/" is created (default ~/.local/lib)`)
	flag.Parse()
	if err := install(*plugin, *dir); err != nil {
		fmt.Fprintf(os.Stderr, "xlainstall: %+v\n", err)
		os.Exit(1)
	}
}

// install runs go-xla's auto-installer for one plugin.
func install(plugin, dir string) error {
	switch plugin {
	case "cuda", "cpu":
	default:
		return fmt.Errorf("unknown plugin %q: want cuda or cpu", plugin)
	}
	if err := installer.AutoInstallPlugin(plugin, dir, true, installer.Normal); err != nil {
		return fmt.Errorf("installing the %s PJRT plugin into %s/go-xla: %w", plugin, dir, err)
	}
	fmt.Printf("xlainstall: %s PJRT plugin installed under %s/go-xla\n", plugin, dir)
	return nil
}
