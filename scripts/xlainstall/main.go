// Command xlainstall installs a PJRT plugin where go-xla finds it, every downloaded file checked
// against a sha256 pinned in this repository before anything is installed.
//
//	xlainstall -plugin cuda -lock scripts/requirements-gpu.txt -wheels DIR [-dir LIB | -goxla DIR]
//	xlainstall -plugin cpu -sha256 HEX [-dir LIB | -goxla DIR]
//
// cuda: scripts/setup.sh --gpu downloads the JAX CUDA PJRT wheel and the NVIDIA library wheels with
// `pip download --require-hashes` from the lock; xlainstall checks every wheel in DIR against the lock
// again (name, version, sha256; nothing missing, nothing extra) and lays them out as go-xla's
// installer.CudaInstall does. The CUDA plugin is installed whether or not this machine has a GPU (a
// Docker image is built without one).
//
// cpu: go-xla's own CPU plugin from its GitHub releases (scripts/setup.sh --upstream-xla, for users
// who can reach GitHub; the default CPU install uses a pinned PyPI wheel instead). That release
// publishes no checksum, so none is pinned here: without -sha256 (setup.sh passes
// $CNNLAB_UPSTREAM_XLA_SHA256) nothing is downloaded, and an archive with another digest is refused.
//
// The plugins go into the go-xla directory: -goxla, or "go-xla/" under the "lib" directory -dir
// (default ~/.local/lib/go-xla, where go-xla looks by default).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/go-xla/installer"
	"github.com/pkg/errors"
)

func main() {
	plugin := flag.String("plugin", "cuda", `plugin to install: "cuda" or "cpu"`)
	dir := flag.String("dir", "", `"lib" directory under which "go-xla/" is created (default ~/.local/lib)`)
	lock := flag.String("lock", "", "cuda: the hashed lock the wheels must match (scripts/requirements-gpu.txt)")
	wheels := flag.String("wheels", "", "cuda: directory holding the downloaded wheels of the lock")
	goxlaDir := flag.String("goxla", "", `the go-xla directory itself (overrides -dir; scripts/setup.sh passes the first entry of $PJRT_PLUGIN_LIBRARY_PATH)`)
	sha := flag.String("sha256", "", "cpu: the expected sha256 of "+upstreamCPUAsset+" "+upstreamCPUVersion)
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "xlainstall: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	msg, err := run(*plugin, *dir, *goxlaDir, *lock, *wheels, *sha)
	if err != nil {
		fmt.Fprintf(os.Stderr, "xlainstall: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("xlainstall: " + msg)
}

// run installs one plugin and returns what it did.
func run(plugin, dir, goxla, lock, wheels, sha string) (string, error) {
	if goxla == "" {
		if dir == "" {
			var err error
			if dir, err = installer.DefaultHomeLibPath(); err != nil {
				return "", errors.Wrap(err, "finding the default lib directory")
			}
		}
		goxla = filepath.Join(dir, "go-xla")
	}
	goxla, err := filepath.Abs(goxla)
	if err != nil {
		return "", errors.Wrapf(err, "resolving the go-xla directory %q", goxla)
	}
	switch plugin {
	case "cuda":
		if lock == "" || wheels == "" {
			return "", errors.New("-plugin cuda needs -lock (the hashed lock) and -wheels (the downloaded wheels)")
		}
		if err := installCUDA(wheels, lock, goxla); err != nil {
			return "", errors.Wrapf(err, "installing the cuda PJRT plugin into %s", goxla)
		}
		return fmt.Sprintf("cuda PJRT plugin (%s==%s) and NVIDIA libraries installed under %s (every wheel checked against %s)",
			cudaPJRTPackage, cudaPJRTVersion, filepath.Join(goxla, "nvidia"), lock), nil
	case "cpu":
		client := &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
			ResponseHeaderTimeout: time.Minute,
			TLSHandshakeTimeout:   30 * time.Second,
		}}
		installed, err := installUpstreamCPU(context.Background(), client, upstreamCPUURL, sha, goxla)
		if err != nil {
			return "", errors.Wrapf(err, "installing the cpu PJRT plugin into %s", goxla)
		}
		return describeUpstream(installed, goxla), nil
	default:
		return "", errors.Errorf("unknown -plugin %q: want cuda or cpu", plugin)
	}
}
