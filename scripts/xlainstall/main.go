// Command xlainstall installs a PJRT plugin with go-xla's own installer.
//
// scripts/setup.sh uses it for the CUDA plugin (go-xla fetches the JAX CUDA PJRT wheel and the NVIDIA
// library wheels from PyPI, checking their sha256 against PyPI's) and, with --upstream-xla, for the CPU
// plugin from go-xla's GitHub releases (for users who can reach GitHub; the default CPU install uses
// a pinned PyPI wheel instead).
//
// The CUDA plugin is installed whether or not this machine has a GPU (a Docker image is built
// without one), pinned to the JAX release whose XLA built the CPU plugin cnnlab uses.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/go-xla/installer"
)

const (
	// cudaPlugin and cudaVersion pin the JAX CUDA wheels (jax-cuda13-pjrt on PyPI).
	cudaPlugin  = "cuda13"
	cudaVersion = "0.11.2"
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

// install runs go-xla's installer for one plugin.
func install(plugin, dir string) error {
	if dir == "" {
		var err error
		if dir, err = installer.DefaultHomeLibPath(); err != nil {
			return err
		}
	}
	goxla := filepath.Join(dir, "go-xla")
	var err error
	switch plugin {
	case "cuda":
		err = installer.CudaInstall(cudaPlugin, cudaVersion, goxla, true, installer.Normal)
	case "cpu":
		err = installer.AutoInstallPlugin("cpu", dir, true, installer.Normal)
	default:
		return fmt.Errorf("unknown plugin %q: want cuda or cpu", plugin)
	}
	if err != nil {
		return fmt.Errorf("installing the %s PJRT plugin into %s: %w", plugin, goxla, err)
	}
	fmt.Printf("xlainstall: %s PJRT plugin installed under %s\n", plugin, goxla)
	return nil
}
