package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// upstreamArchive builds a .tar.gz shaped like go-xla's release asset: one versioned plugin file.
func upstreamArchive(t *testing.T, plugin string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: upstreamCPUPlugin, Mode: 0o644, Size: int64(len(plugin)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(plugin)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// serve starts a server on 127.0.0.1 that answers every request with body, and counts the requests.
func serve(t *testing.T, body []byte) (url string, requests *atomic.Int64) {
	t.Helper()
	requests = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/gomlx/pjrt-cpu-binaries/releases/download/" + upstreamCPUVersion + "/" + upstreamCPUAsset, requests
}

func sha256Of(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestUpstreamCPURefusesUnpinnedDownload(t *testing.T) {
	url, requests := serve(t, upstreamArchive(t, "plugin"))
	goxla := filepath.Join(t.TempDir(), "go-xla")
	_, err := installUpstreamCPU(context.Background(), http.DefaultClient, url, "", goxla)
	if err == nil {
		t.Fatal("an unpinned upstream download was accepted")
	}
	for _, want := range []string{"refusing to download", url, upstreamShaEnv} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests made without a pin, want none", n)
	}
	if _, err := installUpstreamCPU(context.Background(), http.DefaultClient, url, "abc", goxla); err == nil || !strings.Contains(err.Error(), "not a sha256 digest") {
		t.Errorf("a malformed pin: got %v", err)
	}
	if _, err := os.Stat(goxla); !os.IsNotExist(err) {
		t.Errorf("go-xla/ created without a valid pin: %v", err)
	}
}

func TestUpstreamCPURefusesTamperedArchive(t *testing.T) {
	genuine := upstreamArchive(t, "genuine plugin")
	tampered := upstreamArchive(t, "tampered plugin")
	url, requests := serve(t, tampered)
	goxla := filepath.Join(t.TempDir(), "go-xla")
	_, err := installUpstreamCPU(context.Background(), http.DefaultClient, url, sha256Of(genuine), goxla)
	if err == nil {
		t.Fatal("a tampered archive was accepted")
	}
	for _, want := range []string{"checksum mismatch", upstreamCPUAsset, url, "got sha256 " + sha256Of(tampered), "want " + sha256Of(genuine)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if requests.Load() != 1 {
		t.Errorf("%d requests, want 1", requests.Load())
	}
	entries, err := os.ReadDir(goxla)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("go-xla/ holds %d entries after a refused archive (first %s), want none", len(entries), entries[0].Name())
	}
}

func TestUpstreamCPUInstallsPinnedArchive(t *testing.T) {
	archive := upstreamArchive(t, "genuine plugin")
	url, requests := serve(t, archive)
	goxla := filepath.Join(t.TempDir(), "go-xla")
	pin := strings.ToUpper(sha256Of(archive)) // digests are compared case-insensitively
	installed, err := installUpstreamCPU(context.Background(), http.DefaultClient, url, pin, goxla)
	if err != nil || !installed {
		t.Fatalf("the pinned archive: installed=%v, %v", installed, err)
	}
	link := filepath.Join(goxla, "pjrt_c_api_cpu_plugin.so")
	if target, err := os.Readlink(link); err != nil || target != upstreamCPUPlugin {
		t.Errorf("%s → %q (%v), want go-xla's link to %s", link, target, err, upstreamCPUPlugin)
	}
	data, err := os.ReadFile(link)
	if err != nil || string(data) != "genuine plugin" {
		t.Errorf("plugin reads %q (%v)", data, err)
	}
	// The same pin again: kept, not downloaded again.
	installed, err = installUpstreamCPU(context.Background(), http.DefaultClient, url, pin, goxla)
	if err != nil || installed || requests.Load() != 1 {
		t.Errorf("second run: installed=%v, %v, %d requests; want kept with 1 request", installed, err, requests.Load())
	}
	// A plugin changed on disk since is not trusted: downloaded and checked again.
	if err := os.WriteFile(filepath.Join(goxla, upstreamCPUPlugin), []byte("changed"), 0o755); err != nil {
		t.Fatal(err)
	}
	installed, err = installUpstreamCPU(context.Background(), http.DefaultClient, url, pin, goxla)
	if err != nil || !installed || requests.Load() != 2 {
		t.Errorf("after a change on disk: installed=%v, %v, %d requests; want reinstalled", installed, err, requests.Load())
	}
	if data, _ := os.ReadFile(link); string(data) != "genuine plugin" {
		t.Errorf("plugin reads %q after the reinstall", data)
	}
	// The default install (setup.sh without --upstream-xla) replaced the link by a plain file: the
	// upstream plugin is linked again.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(link, []byte("PyPI plugin"), 0o755); err != nil {
		t.Fatal(err)
	}
	installed, err = installUpstreamCPU(context.Background(), http.DefaultClient, url, pin, goxla)
	if err != nil || !installed {
		t.Errorf("after the link was replaced: installed=%v, %v; want reinstalled", installed, err)
	}
	if target, err := os.Readlink(link); err != nil || target != upstreamCPUPlugin {
		t.Errorf("%s → %q (%v) after the reinstall", link, target, err)
	}
}
