package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomlx/go-xla/installer"
	"github.com/pkg/errors"
)

const (
	// upstreamCPUVersion is the CPU plugin release go-xla v0.4.13 was tested with
	// (its utils.DefaultCPUVersion), from github.com/gomlx/pjrt-cpu-binaries.
	upstreamCPUVersion = "v0.114.0"
	// upstreamCPUAsset is the release asset go-xla's installer.CPUInstall picks on linux/amd64.
	upstreamCPUAsset = "pjrt_cpu_linux_amd64.tar.gz"
	// upstreamCPUURL is where GitHub serves that asset (the browser_download_url of the release).
	upstreamCPUURL = "https://github.com/gomlx/pjrt-cpu-binaries/releases/download/" + upstreamCPUVersion + "/" + upstreamCPUAsset
	// upstreamCPUPlugin is the versioned plugin file in the archive; go-xla links
	// pjrt_c_api_cpu_plugin.so to it.
	upstreamCPUPlugin = "pjrt_c_api_cpu_" + upstreamCPUVersion + "_plugin.so"
	// upstreamShaEnv names the environment variable scripts/setup.sh passes as -sha256.
	upstreamShaEnv = "CNNLAB_UPSTREAM_XLA_SHA256"
	// maxUpstreamBytes bounds the download (the archive holds one plugin of a few hundred MB).
	maxUpstreamBytes = 2 << 30
	// upstreamTimeout bounds the whole download.
	upstreamTimeout = 20 * time.Minute
)

// errUnpinned explains why an upstream download without an expected sha256 is refused, and how to pin it.
func errUnpinned(url string) error {
	return errors.Errorf("refusing to download %s without a pinned sha256: the release publishes no checksum and "+
		"none is pinned in this repository. Download it on a machine you trust, check it, and pass its sha256: "+
		"%s=<64 hex digits> bash scripts/setup.sh --upstream-xla (or go run ./scripts/xlainstall -plugin cpu -sha256 <hex>); "+
		"or use the default install (a sha256-pinned PyPI wheel): bash scripts/setup.sh", url, upstreamShaEnv)
}

// installUpstreamCPU downloads go-xla's CPU plugin archive from url, refuses it unless its sha256
// is wantSHA, and installs it under goxla as go-xla's installer.CPUInstall does: the versioned plugin
// file and a link pjrt_c_api_cpu_plugin.so to it. Nothing is downloaded without wantSHA, and nothing
// is extracted before the whole archive matched it. A plugin installed before from the same archive
// (recorded in a stamp beside it, with the plugin's own sha256) is kept.
func installUpstreamCPU(ctx context.Context, client *http.Client, url, wantSHA, goxla string) (installed bool, err error) {
	if wantSHA == "" {
		return false, errUnpinned(url)
	}
	wantSHA = strings.ToLower(wantSHA)
	if !sha256Hex.MatchString(wantSHA) {
		return false, errors.Errorf("-sha256 %q is not a sha256 digest (64 hex digits)", wantSHA)
	}
	plugin := filepath.Join(goxla, upstreamCPUPlugin)
	stamp := filepath.Join(goxla, "."+upstreamCPUPlugin+".sha256")
	link := filepath.Join(goxla, "pjrt_c_api_cpu_plugin.so")
	if upToDate(plugin, link, stamp, wantSHA) {
		return false, nil
	}
	if err := os.MkdirAll(goxla, 0o755); err != nil {
		return false, errors.Wrap(err, "creating the go-xla directory")
	}
	archive, err := downloadVerified(ctx, client, url, wantSHA, goxla)
	if err != nil {
		return false, err
	}
	defer func() { _ = os.Remove(archive) }()
	tmp, err := os.MkdirTemp(goxla, ".extracting-")
	if err != nil {
		return false, errors.Wrap(err, "creating a temporary directory")
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	files, err := installer.Untar(archive, tmp)
	if err != nil {
		return false, errors.Wrapf(err, "extracting %s (from %s)", archive, url)
	}
	extracted := filepath.Join(tmp, upstreamCPUPlugin)
	if info, err := os.Lstat(extracted); err != nil || !info.Mode().IsRegular() {
		return false, errors.Errorf("the archive from %s has no plain file %s (it holds %d entries)", url, upstreamCPUPlugin, len(files))
	}
	pluginSHA, err := fileSHA256(extracted)
	if err != nil {
		return false, err
	}
	if err := os.Chmod(extracted, 0o755); err != nil {
		return false, errors.Wrapf(err, "making %s executable", extracted)
	}
	if err := os.Rename(extracted, plugin); err != nil {
		return false, errors.Wrapf(err, "moving the plugin to %s", plugin)
	}
	if err := replaceSymlink(upstreamCPUPlugin, link); err != nil {
		return false, err
	}
	if err := os.WriteFile(stamp, []byte(wantSHA+" "+pluginSHA+"\n"), 0o644); err != nil {
		return false, errors.Wrap(err, "writing the install's stamp")
	}
	return true, nil
}

// upToDate reports whether plugin was installed from the archive with digest archiveSHA, is
// unchanged since and is the one go-xla loads: stamp holds "archiveSHA pluginSHA", the plugin still
// hashes to pluginSHA and link still points to it.
func upToDate(plugin, link, stamp, archiveSHA string) bool {
	if target, err := os.Readlink(link); err != nil || target != filepath.Base(plugin) {
		return false
	}
	data, err := os.ReadFile(stamp)
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 || fields[0] != archiveSHA {
		return false
	}
	got, err := fileSHA256(plugin)
	return err == nil && got == fields[1]
}

// downloadVerified fetches url into a temporary file in dir, hashing it on the way, and returns the
// file only if its sha256 is wantSHA; otherwise the file is removed and the error names the URL, the
// digest received and the one wanted.
func downloadVerified(ctx context.Context, client *http.Client, url, wantSHA, dir string) (_ string, err error) {
	ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", errors.Wrapf(err, "requesting %s", url)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", errors.Wrapf(err, "downloading %s", url)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", errors.Errorf("downloading %s: HTTP %s", url, resp.Status)
	}
	f, err := os.CreateTemp(dir, ".download-*-"+upstreamCPUAsset)
	if err != nil {
		return "", errors.Wrap(err, "creating the download file")
	}
	path := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, maxUpstreamBytes+1))
	if err != nil {
		return "", errors.Wrapf(err, "downloading %s (%d bytes arrived)", url, n)
	}
	if n > maxUpstreamBytes {
		return "", errors.Errorf("downloading %s: more than %d bytes, refused", url, int64(maxUpstreamBytes))
	}
	if err := f.Close(); err != nil {
		return "", errors.Wrapf(err, "writing %s", path)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantSHA {
		return "", errors.Errorf("checksum mismatch for %s (%s, %d bytes): got sha256 %s, want %s; nothing installed",
			upstreamCPUAsset, url, n, got, wantSHA)
	}
	return path, nil
}

// describeUpstream says what installUpstreamCPU did, for the command's output.
func describeUpstream(installed bool, goxla string) string {
	if !installed {
		return fmt.Sprintf("cpu PJRT plugin %s already installed under %s (same pinned archive)", upstreamCPUVersion, goxla)
	}
	return fmt.Sprintf("cpu PJRT plugin %s installed under %s (archive sha256 checked)", upstreamCPUVersion, goxla)
}
