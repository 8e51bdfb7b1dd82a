package datasets

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cnnlab/cnnlab/internal/testenv"
)

// tarServer serves a tarball; it records the Range headers it gets, and cuts off the first
// response after cutAt bytes if cutAt > 0; if ignoreRange it always answers 200 with everything.
// On the first request, stallHeaders makes it stall before the headers and stallAt > 0 after
// stallAt bytes of body, until the client gives up or release is closed. extra is sent after the
// data (announced in Content-Length unless noLength).
type tarServer struct {
	data         []byte
	cutAt        int
	ignoreRange  bool
	stallHeaders bool
	stallAt      int
	extra        []byte
	noLength     bool
	release      chan struct{}
	mu           sync.Mutex
	ranges       []string
}

func (s *tarServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rng := r.Header.Get("Range")
	s.ranges = append(s.ranges, rng)
	first := len(s.ranges) == 1
	s.mu.Unlock()
	if first && s.stallHeaders {
		s.stall(r)
		return
	}
	start := 0
	if rng != "" && !s.ignoreRange {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rng, "bytes="), "-"))
		if err != nil || n > len(s.data) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(s.data)-1, len(s.data)+len(s.extra)))
	}
	body := append(s.data[start:len(s.data):len(s.data)], s.extra...)
	if !s.noLength {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	} else {
		w.(http.Flusher).Flush() // Headers out before the body: chunked, no length.
	}
	if start > 0 {
		w.WriteHeader(http.StatusPartialContent)
	}
	switch {
	case first && s.cutAt > 0:
		_, _ = w.Write(body[:s.cutAt])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // Cuts the connection mid-body.
	case first && s.stallAt > 0:
		_, _ = w.Write(body[:s.stallAt])
		w.(http.Flusher).Flush()
		s.stall(r)
		return
	}
	_, _ = w.Write(body)
}

// stall waits until the client gives up on r or the test releases the server.
func (s *tarServer) stall(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.release:
	}
}

// cifar100Tarball returns a small CIFAR-100 tarball with the given members left out, and the spec
// that accepts it.
func cifar100Tarball(t *testing.T, leaveOut ...string) ([]byte, datasetSpec) {
	files, spec := smallCIFAR100(6, 3)
	members := map[string][]byte{"cifar-100-binary/README": []byte("extra member, ignored")}
	order := []string{"cifar-100-binary/README"}
	for _, name := range []string{"coarse_label_names.txt", "fine_label_names.txt", "test.bin", "train.bin"} {
		if slices.Contains(leaveOut, name) {
			continue
		}
		members["cifar-100-binary/"+name] = files[name]
		order = append(order, "cifar-100-binary/"+name)
	}
	tarball := makeTarball(t, members, order)
	spec.archiveSHA256 = sha256Hex(tarball)
	spec.archiveSize = int64(len(tarball))
	return tarball, spec
}

func TestEnsureResumesCutDownload(t *testing.T) {
	for _, ignoreRange := range []bool{false, true} {
		t.Run(fmt.Sprintf("ignoreRange=%v", ignoreRange), func(t *testing.T) {
			tarball, spec := cifar100Tarball(t)
			srv := &tarServer{data: tarball, cutAt: len(tarball) / 2, ignoreRange: ignoreRange}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			dir := t.TempDir()
			var progress bytes.Buffer
			opts := DownloadOptions{URL: ts.URL + "/cifar-100-binary.tar.gz", Progress: &progress}
			_, err := ensure(context.Background(), dir, spec, opts)
			wantErr(t, err, "cifar-100-binary.tar.gz.part", "run again to resume")
			part := filepath.Join(dir, "cifar-100-binary.tar.gz.part")
			if info, err := os.Stat(part); err != nil || info.Size() != int64(len(tarball)/2) {
				t.Fatalf("partial download: %v, %v bytes; want %d", err, info, len(tarball)/2)
			}
			if _, err := os.Stat(filepath.Join(dir, "cifar-100-binary")); !os.IsNotExist(err) {
				t.Fatalf("dataset directory exists after a cut download: %v", err)
			}
			root, err := ensure(context.Background(), dir, spec, opts)
			if err != nil {
				t.Fatal(err)
			}
			wantRanges := []string{"", fmt.Sprintf("bytes=%d-", len(tarball)/2)}
			if !slices.Equal(srv.ranges, wantRanges) {
				t.Fatalf("Range headers %q, want %q", srv.ranges, wantRanges)
			}
			d, err := loadCIFAR100(dir, spec)
			if err != nil || d.Train.Len() != 6 || d.Test.Len() != 3 || root != filepath.Join(dir, "cifar-100-binary") {
				t.Fatalf("loading the extracted data from %s: %v", root, err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 || entries[0].Name() != "cifar-100-binary" {
				t.Fatalf("data dir holds %v, want only cifar-100-binary", entries)
			}
			if _, err := os.Stat(filepath.Join(root, "README")); !os.IsNotExist(err) {
				t.Fatalf("member outside the spec was extracted: %v", err)
			}
			// Offline: the verified directory is used without any request.
			ts.Close()
			if _, err := ensure(context.Background(), dir, spec, opts); err != nil || len(srv.ranges) != 2 {
				t.Fatalf("second ensure: %v, %d requests", err, len(srv.ranges))
			}
		})
	}
}

// testDeadline bounds a download test that would otherwise hang.
const testDeadline = 30 * time.Second

func TestEnsureStalledDownload(t *testing.T) {
	const stallTimeout = 200 * time.Millisecond
	tests := []struct {
		name       string
		server     func(n int) *tarServer
		wantErrs   func(url string, n int) []string
		wantPart   func(n int) int64
		wantRanges func(n int) []string
	}{
		{"stall mid-body",
			func(n int) *tarServer { return &tarServer{stallAt: n / 3} },
			func(url string, n int) []string {
				return []string{"downloading " + url, fmt.Sprintf("no data for 200ms after %d of %d bytes arrived", n/3, n),
					"cifar-100-binary.tar.gz.part kept", "run again to resume"}
			},
			func(n int) int64 { return int64(n / 3) },
			func(n int) []string { return []string{"", fmt.Sprintf("bytes=%d-", n/3)} }},
		{"no response headers",
			func(int) *tarServer { return &tarServer{stallHeaders: true} },
			func(url string, _ int) []string {
				return []string{"downloading " + url, "no response within 200ms", "server or proxy not answering"}
			},
			func(int) int64 { return 0 },
			func(int) []string { return []string{"", ""} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tarball, spec := cifar100Tarball(t)
			srv := tc.server(len(tarball))
			srv.data, srv.release = tarball, make(chan struct{})
			ts := httptest.NewServer(srv)
			defer ts.Close()
			defer close(srv.release)
			ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
			defer cancel()
			dir := t.TempDir()
			url := ts.URL + "/cifar-100-binary.tar.gz"
			opts := DownloadOptions{URL: url, Progress: io.Discard, StallTimeout: stallTimeout}
			_, err := ensure(ctx, dir, spec, opts)
			wantErr(t, err, tc.wantErrs(url, len(tarball))...)
			part := filepath.Join(dir, "cifar-100-binary.tar.gz.part")
			if info, err := os.Stat(part); err != nil || info.Size() != tc.wantPart(len(tarball)) {
				t.Fatalf("partial download after the stall: %v, %v; want %d bytes", err, info, tc.wantPart(len(tarball)))
			}
			if _, err := ensure(ctx, dir, spec, opts); err != nil {
				t.Fatalf("second ensure after the stall: %v", err)
			}
			if want := tc.wantRanges(len(tarball)); !slices.Equal(srv.ranges, want) {
				t.Fatalf("Range headers %q, want %q", srv.ranges, want)
			}
		})
	}
}

func TestEnsureSizeLimit(t *testing.T) {
	tests := []struct {
		name       string
		extra      int  // Bytes the server sends after the archive.
		noLength   bool // Whether the server announces no Content-Length.
		partExtra  int  // Bytes more than the archive in a .part left before; -1: no .part.
		wantErrs   []string
		wantRanges []string
	}{
		{"announced larger", 100, false, -1,
			[]string{"the server announces", "the official archive has", "larger than the official archive"}, []string{""}},
		{"sends more than announced", 100, true, -1,
			[]string{"more than the", "bytes of the official archive arrived", "larger than the official archive"}, []string{""}},
		{"oversized part restarts", 0, false, 5, nil, []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tarball, spec := cifar100Tarball(t)
			srv := &tarServer{data: tarball, extra: make([]byte, tc.extra), noLength: tc.noLength}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
			defer cancel()
			dir := t.TempDir()
			part := filepath.Join(dir, "cifar-100-binary.tar.gz.part")
			if tc.partExtra >= 0 {
				if err := os.WriteFile(part, make([]byte, len(tarball)+tc.partExtra), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ensure(ctx, dir, spec, DownloadOptions{URL: ts.URL + "/x.tar.gz", Progress: io.Discard})
			if tc.wantErrs == nil && err != nil {
				t.Fatal(err)
			}
			if tc.wantErrs != nil {
				wantErr(t, err, tc.wantErrs...)
			}
			if _, err := os.Stat(part); !os.IsNotExist(err) {
				t.Errorf("%s left after the download: %v", part, err)
			}
			if !slices.Equal(srv.ranges, tc.wantRanges) {
				t.Errorf("Range headers %q, want %q", srv.ranges, tc.wantRanges)
			}
		})
	}
}

func TestEnsureProgressLines(t *testing.T) {
	tarball, spec := cifar100Tarball(t)
	ts := httptest.NewServer(&tarServer{data: tarball})
	defer ts.Close()
	var progress bytes.Buffer
	url := ts.URL + "/cifar-100-binary.tar.gz"
	if _, err := ensure(context.Background(), t.TempDir(), spec, DownloadOptions{URL: url, Progress: &progress}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	first := fmt.Sprintf("downloading %s (%d bytes)", url, len(tarball))
	last := fmt.Sprintf("downloaded %d of %d bytes (100%%) of cifar-100-binary.tar.gz", len(tarball), len(tarball))
	if len(lines) < 2 || len(lines) > 11 || lines[0] != first || lines[len(lines)-1] != last {
		t.Fatalf("progress lines:\n%s\nwant %q first, %q last, at most 11 lines", progress.String(), first, last)
	}
}

func TestEnsureBadInput(t *testing.T) {
	tests := []struct {
		name     string
		leaveOut []string
		editSpec func(*datasetSpec)
		wantErrs []string
		wantPart bool // Whether the .part file stays (to resume) after the error.
	}{
		{"checksum mismatch", nil, func(s *datasetSpec) { s.archiveSHA256 = strings.Repeat("0", 64) },
			[]string{"cifar-100-binary.tar.gz.part", "sha256 mismatch", "removed"}, false},
		{"missing member", []string{"test.bin"}, nil,
			[]string{"cifar-100-binary.tar.gz", "missing member cifar-100-binary/test.bin"}, false},
		{"member too large", nil, func(s *datasetSpec) { s.test.records = 2 },
			[]string{"member cifar-100-binary/test.bin has 9222 bytes, more than the 6148 expected"}, false},
		{"extracted file checksum", nil, func(s *datasetSpec) { s.train[0].sha256 = strings.Repeat("1", 64) },
			[]string{"verifying the files extracted", "train.bin: sha256 mismatch"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tarball, spec := cifar100Tarball(t, tc.leaveOut...)
			if tc.editSpec != nil {
				tc.editSpec(&spec)
			}
			ts := httptest.NewServer(&tarServer{data: tarball})
			defer ts.Close()
			dir := t.TempDir()
			_, err := ensure(context.Background(), dir, spec, DownloadOptions{URL: ts.URL + "/x.tar.gz", Progress: io.Discard})
			wantErr(t, err, tc.wantErrs...)
			if _, err := os.Stat(filepath.Join(dir, "cifar-100-binary")); !os.IsNotExist(err) {
				t.Fatalf("dataset directory left after the error: %v", err)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".cifar-100-binary") || strings.HasSuffix(e.Name(), ".part") {
					t.Errorf("left behind: %s", e.Name())
				}
			}
		})
	}
}

func TestEnsureExistingDirectory(t *testing.T) {
	files, spec := smallCIFAR100(4, 2)
	dir := t.TempDir()
	writeFiles(t, filepath.Join(dir, "cifar-100-binary"), files)
	unreachable := DownloadOptions{URL: "http://127.0.0.1:1/never-contacted.tar.gz"}
	if _, err := ensure(context.Background(), dir, spec, unreachable); err != nil {
		t.Fatal(err)
	}
	files["test.bin"][10]++
	writeFiles(t, filepath.Join(dir, "cifar-100-binary"), files)
	_, err := ensure(context.Background(), dir, spec, unreachable)
	wantErr(t, err, "fails verification", "test.bin: sha256 mismatch")
}

func TestEnsureRealCIFAR100Offline(t *testing.T) {
	dir := testenv.CIFAR100Dir(t)
	root, err := EnsureCIFAR100(context.Background(), dir, DownloadOptions{URL: "http://127.0.0.1:1/never-contacted.tar.gz"})
	if err != nil || root != filepath.Join(dir, "cifar-100-binary") {
		t.Fatalf("EnsureCIFAR100 on the real data: %q, %v", root, err)
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in          string
		start, size int64
		ok          bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 0-9/*", 0, -1, true},
		{"bytes -5-9/10", 0, 0, false},
		{"items 1-2/3", 0, 0, false},
		{"bytes 12", 0, 0, false},
	} {
		start, size, err := parseContentRange(tc.in)
		if (err == nil) != tc.ok || start != tc.start || size != tc.size {
			t.Errorf("parseContentRange(%q) = %d, %d, %v", tc.in, start, size, err)
		}
	}
}
