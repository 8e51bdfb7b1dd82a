package datasets

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pkg/errors"
	"github.com/schollz/progressbar/v3"
)

// DefaultStallTimeout is how long a download may wait for its response or its next byte before
// it fails (DownloadOptions.StallTimeout 0).
const DefaultStallTimeout = 30 * time.Second

// DownloadOptions configures EnsureCIFAR100 and EnsureCIFAR10.
type DownloadOptions struct {
	// URL replaces the official tarball URL (a mirror); the tarball must still have the official
	// sha256 and size.
	URL string
	// Client is the HTTP client; nil means http.DefaultClient.
	Client *http.Client
	// Progress receives the download's progress: a progress bar if it is a terminal, else a line
	// per tenth of the archive. nil means os.Stderr; io.Discard silences it.
	Progress io.Writer
	// StallTimeout is how long the server may keep the download without a byte, the response
	// headers included, before it fails (the partial download is kept, to resume); 0 means
	// DefaultStallTimeout.
	StallTimeout time.Duration
}

// EnsureCIFAR100 makes sure dir/cifar-100-binary holds the verified CIFAR-100 files and returns
// that path; dir "" means DefaultDir(). A directory that verifies is used as is, without network.
// Otherwise the official tarball is downloaded to dir/cifar-100-binary.tar.gz.part (resumed with an
// HTTP Range request if a previous download was interrupted), checked against its sha256,
// extracted into a temporary directory, verified (sizes, sha256 of train.bin and test.bin, label
// names) and renamed into place; the tarball is then removed. An existing directory that fails
// verification is an error: it is never overwritten.
func EnsureCIFAR100(ctx context.Context, dir string, opts DownloadOptions) (string, error) {
	return ensure(ctx, dir, cifar100Spec(), opts)
}

// EnsureCIFAR10 is EnsureCIFAR100 for CIFAR-10 (dir/cifar-10-batches-bin, verified by the sha256
// of the tarball and the sizes and labels of its files).
func EnsureCIFAR10(ctx context.Context, dir string, opts DownloadOptions) (string, error) {
	return ensure(ctx, dir, cifar10Spec(), opts)
}

// ensure implements EnsureCIFAR100 and EnsureCIFAR10 for the given spec (tests pass their own).
func ensure(ctx context.Context, dir string, spec datasetSpec, opts DownloadOptions) (string, error) {
	if dir == "" {
		dir = DefaultDir()
	}
	root := filepath.Join(dir, spec.dirName)
	if _, err := os.Stat(root); err == nil {
		if err := spec.verify(root); err != nil {
			return "", errors.WithMessagef(err, "existing %s directory %s fails verification (remove it to download again)",
				spec.format.name, root)
		}
		return root, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", errors.Wrapf(err, "creating data directory for %s", spec.format.name)
	}
	url := opts.URL
	if url == "" {
		url = spec.url
	}
	archive := filepath.Join(dir, path.Base(spec.url))
	if err := fetchVerified(ctx, url, archive, spec.archiveSHA256, spec.archiveSize, opts); err != nil {
		return "", err
	}
	if err := extract(archive, dir, spec); err != nil {
		return "", err
	}
	if err := os.Remove(archive); err != nil {
		return "", errors.Wrapf(err, "removing %s after extraction", archive)
	}
	return root, nil
}

// verify checks the files of an extracted dataset directory: each records file has the expected
// size (and sha256, where the spec has one), each names file the expected number of names (and
// sha256, where the spec has one).
func (spec datasetSpec) verify(root string) error {
	for _, f := range append(spec.train[:len(spec.train):len(spec.train)], spec.test) {
		p := filepath.Join(root, f.name)
		info, err := os.Stat(p)
		if err != nil {
			return errors.Wrapf(err, "%s member missing", spec.format.name)
		}
		if want := int64(f.records) * int64(spec.format.recordSize()); info.Size() != want {
			return errors.Errorf("%s: %d bytes, want %d (%d records of %d bytes)", p, info.Size(), want,
				f.records, spec.format.recordSize())
		}
		if f.sha256 == "" {
			continue
		}
		got, err := sha256File(p)
		if err != nil {
			return err
		}
		if got != f.sha256 {
			return errors.Errorf("%s: sha256 mismatch: got %s, want %s", p, got, f.sha256)
		}
	}
	for i, name := range spec.namesFiles {
		n := spec.format.numFine
		if i == 1 {
			n = spec.format.numCoarse
		}
		if _, err := readNames(filepath.Join(root, name), n, spec.namesSum(i)); err != nil {
			return err
		}
	}
	return nil
}

// fetchVerified makes sure archive holds the file at url with the given sha256 and size (0: any),
// downloading it through archive+".part" (resumed if present). A .part whose sha256 does not match
// once complete, or that outgrows size, is removed, so the next attempt starts afresh.
func fetchVerified(ctx context.Context, url, archive, wantSHA256 string, size int64, opts DownloadOptions) error {
	if got, err := sha256File(archive); err == nil && got == wantSHA256 {
		return nil // Downloaded before, extraction interrupted.
	}
	part := archive + ".part"
	if err := downloadPart(ctx, url, part, size, opts); err != nil {
		if errors.Is(err, errTooLarge) {
			_ = os.Remove(part)
		}
		return err
	}
	got, err := sha256File(part)
	if err != nil {
		return err
	}
	if got != wantSHA256 {
		_ = os.Remove(part)
		return errors.Errorf("%s downloaded from %s: sha256 mismatch: got %s, want %s (removed; try again)",
			part, url, got, wantSHA256)
	}
	return errors.Wrapf(os.Rename(part, archive), "renaming %s", part)
}

// errTooLarge marks a download larger than the archive it should be; its .part is removed.
var errTooLarge = errors.New("larger than the official archive")

// downloadPart downloads url into part, resuming from its current size with a Range request (a
// part of size bytes or more, when size > 0, starts over). If the server ignores the Range, the
// download restarts from the beginning. A transfer interrupted or stalled for opts.StallTimeout
// leaves part in place, for the next call to resume; one that announces or sends more than size
// bytes fails with errTooLarge.
func downloadPart(ctx context.Context, url, part string, size int64, opts DownloadOptions) (err error) {
	file, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return errors.Wrap(err, "opening partial download")
	}
	defer func() {
		if closeErr := file.Close(); err == nil && closeErr != nil {
			err = errors.Wrapf(closeErr, "closing %s", part)
		}
	}()
	offset, err := file.Seek(0, io.SeekEnd)
	if err != nil {
		return errors.Wrapf(err, "seeking end of %s", part)
	}
	if size > 0 && offset >= size {
		if err := restart(file, part); err != nil {
			return err
		}
		offset = 0
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch := newStallWatch(opts.StallTimeout, cancel)
	defer watch.stop()
	resp, err := get(ctx, url, offset, opts.Client)
	if err != nil {
		if watch.stalled() {
			return errors.Errorf("downloading %s: no response within %s (server or proxy not answering; run again to retry)",
				url, watch.timeout)
		}
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	offset, total, err := startOffset(resp, file, part, url, offset, size)
	if err != nil || offset < 0 {
		return err
	}
	progress := newProgress(opts.Progress, total, offset, url)
	defer progress.finish()
	body := watch.reader(resp.Body)
	limit := int64(-1)
	if size > 0 {
		limit = size - offset
		body = io.LimitReader(body, limit+1)
	}
	n, err := io.Copy(io.MultiWriter(file, progress), body)
	switch {
	case err != nil && watch.stalled():
		return errors.Errorf("downloading %s: no data for %s after %d of %s bytes arrived (%s kept; run again to resume)",
			url, watch.timeout, offset+n, sizeText(total), part)
	case err != nil:
		return errors.Wrapf(err, "downloading %s into %s (interrupted at byte %d; run again to resume)",
			url, part, offsetOf(file))
	case limit >= 0 && n > limit:
		return errors.Wrapf(errTooLarge, "downloading %s: more than the %d bytes of the official archive arrived (%s removed)",
			url, size, part)
	}
	return nil
}

// get sends the GET request for url, with a Range from offset if offset > 0.
func get(ctx context.Context, url string, offset int64, client *http.Client) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, errors.Wrapf(err, "request for %s", url)
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, errors.Wrapf(err, "downloading %s", url)
	}
	return resp, nil
}

// startOffset interprets the response to a request from offset: it returns where the body starts
// in part (truncating it for a full response) and the total size (-1 if unknown), or offset -1 if
// there is nothing left to download. A size announced other than size (when size > 0) is an
// error.
func startOffset(resp *http.Response, file *os.File, part, url string, offset, size int64) (start, total int64, err error) {
	total = resp.ContentLength
	switch resp.StatusCode {
	case http.StatusOK: // Full content: start over.
		if err := restart(file, part); err != nil {
			return 0, 0, err
		}
		offset = 0
	case http.StatusPartialContent:
		start, size, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || start != offset {
			return 0, 0, errors.Errorf("downloading %s: resuming %s at byte %d: bad Content-Range %q",
				url, part, offset, resp.Header.Get("Content-Range"))
		}
		total = size
	case http.StatusRequestedRangeNotSatisfiable:
		return -1, 0, nil // Already complete (or longer than the file): the sha256 check decides.
	default:
		return 0, 0, errors.Errorf("downloading %s: HTTP status %s", url, resp.Status)
	}
	if size > 0 && total > size {
		return 0, 0, errors.Wrapf(errTooLarge, "downloading %s: the server announces %d bytes, the official archive has %d (%s removed)",
			url, total, size, part)
	}
	if size > 0 {
		total = size
	}
	return offset, total, nil
}

// stallWatch cancels a download when no byte arrives for timeout.
type stallWatch struct {
	timeout time.Duration
	timer   *time.Timer
	fired   atomic.Bool
}

// newStallWatch starts a watch that calls cancel after timeout (DefaultStallTimeout if 0) without
// a byte read through its reader.
func newStallWatch(timeout time.Duration, cancel context.CancelFunc) *stallWatch {
	if timeout <= 0 {
		timeout = DefaultStallTimeout
	}
	w := &stallWatch{timeout: timeout}
	w.timer = time.AfterFunc(timeout, func() {
		w.fired.Store(true)
		cancel()
	})
	return w
}

// stalled reports whether the watch cancelled the download.
func (w *stallWatch) stalled() bool { return w.fired.Load() }

// stop stops the watch.
func (w *stallWatch) stop() { w.timer.Stop() }

// reader returns r whose every read that brings bytes restarts the watch.
func (w *stallWatch) reader(r io.Reader) io.Reader { return stallReader{r, w} }

// stallReader is the reader of a stallWatch.
type stallReader struct {
	r     io.Reader
	watch *stallWatch
}

// Read reads from the watched reader and restarts the watch if bytes arrived.
func (s stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 && !s.watch.stalled() {
		s.watch.timer.Reset(s.watch.timeout)
	}
	return n, err
}

// restart truncates the partial download file to zero length.
func restart(file *os.File, part string) error {
	if err := file.Truncate(0); err != nil {
		return errors.Wrapf(err, "truncating %s", part)
	}
	_, err := file.Seek(0, io.SeekStart)
	return errors.Wrapf(err, "seeking start of %s", part)
}

// offsetOf returns the current write offset of file, or -1.
func offsetOf(file *os.File) int64 {
	offset, err := file.Seek(0, io.SeekCurrent)
	if err != nil {
		return -1
	}
	return offset
}

// parseContentRange parses "bytes start-end/size" and returns start and size (-1 if "*").
func parseContentRange(value string) (start, size int64, err error) {
	rest, ok := strings.CutPrefix(value, "bytes ")
	if !ok {
		return 0, 0, errors.Errorf("bad Content-Range %q", value)
	}
	rangePart, sizePart, ok := strings.Cut(rest, "/")
	startPart, _, ok2 := strings.Cut(rangePart, "-")
	if !ok || !ok2 {
		return 0, 0, errors.Errorf("bad Content-Range %q", value)
	}
	if start, err = strconv.ParseInt(startPart, 10, 64); err != nil || start < 0 {
		return 0, 0, errors.Errorf("bad Content-Range %q", value)
	}
	size = -1
	if sizePart != "*" {
		if size, err = strconv.ParseInt(sizePart, 10, 64); err != nil {
			return 0, 0, errors.Errorf("bad Content-Range %q", value)
		}
	}
	return start, size, nil
}

// sizeText formats a byte count that may be unknown (-1).
func sizeText(n int64) string {
	if n < 0 {
		return "?"
	}
	return strconv.FormatInt(n, 10)
}

// progress shows how far a download got: a bar on a terminal, else lines.
type progress struct {
	bar   *progressbar.ProgressBar // nil when printing lines.
	lines *progressLines           // nil when drawing a bar.
}

// newProgress returns the progress display of a download of total bytes (-1: unknown) from url,
// starting at offset, on w (os.Stderr if nil).
func newProgress(w io.Writer, total, offset int64, url string) *progress {
	if w == nil {
		w = os.Stderr
	}
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(path.Base(url)),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionOnCompletion(func() { _, _ = fmt.Fprintln(w) }),
		)
		_ = bar.Set64(offset)
		return &progress{bar: bar}
	}
	return &progress{lines: newProgressLines(w, total, offset, url)}
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// Write records len(p) more bytes downloaded.
func (p *progress) Write(b []byte) (int, error) {
	if p.bar != nil {
		return p.bar.Write(b)
	}
	return p.lines.Write(b)
}

// finish ends the bar (lines need no ending).
func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// progressLineStep is the number of bytes between progress lines when the total is unknown.
const progressLineStep = 16 << 20

// progressLines prints a line when a download starts and then at every tenth of its total (or
// every progressLineStep bytes if the total is unknown): for logs, where a bar cannot be drawn.
type progressLines struct {
	w           io.Writer
	url         string
	total, done int64
	next        int64 // Byte count of the next line.
}

// newProgressLines prints the first line and returns the printer.
func newProgressLines(w io.Writer, total, offset int64, url string) *progressLines {
	p := &progressLines{w: w, url: url, total: total, done: offset}
	verb := "downloading"
	if offset > 0 {
		verb = fmt.Sprintf("resuming at byte %d:", offset)
	}
	_, _ = fmt.Fprintf(w, "%s %s (%s bytes)\n", verb, url, sizeText(total))
	p.next = p.nextAfter(offset)
	return p
}

// nextAfter returns the byte count of the first line after done bytes.
func (p *progressLines) nextAfter(done int64) int64 {
	if p.total <= 0 {
		return (done/progressLineStep + 1) * progressLineStep
	}
	tenth := (done*10/p.total + 1)
	return (tenth*p.total + 9) / 10
}

// Write counts len(b) bytes and prints a line for each step crossed.
func (p *progressLines) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if p.done >= p.next {
		if p.total > 0 {
			_, _ = fmt.Fprintf(p.w, "downloaded %d of %d bytes (%d%%) of %s\n", p.done, p.total, p.done*100/p.total, path.Base(p.url))
		} else {
			_, _ = fmt.Fprintf(p.w, "downloaded %d bytes of %s\n", p.done, path.Base(p.url))
		}
		p.next = p.nextAfter(p.done)
	}
	return len(b), nil
}

// extract extracts the members of spec from the tarball archive into a temporary directory in
// dir, verifies them and renames the dataset directory into dir. Members outside spec are
// ignored; a missing member, a member larger than expected or a failed verification is an error
// and leaves nothing behind.
func extract(archive, dir string, spec datasetSpec) (err error) {
	tmp, err := os.MkdirTemp(dir, "."+spec.dirName+".extract-*")
	if err != nil {
		return errors.Wrapf(err, "creating temporary directory to extract %s", archive)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	tmpRoot := filepath.Join(tmp, spec.dirName)
	if err := os.Mkdir(tmpRoot, 0o755); err != nil {
		return errors.Wrapf(err, "extracting %s", archive)
	}
	if err := extractMembers(archive, tmpRoot, spec); err != nil {
		return err
	}
	if err := spec.verify(tmpRoot); err != nil {
		return errors.WithMessagef(err, "verifying the files extracted from %s", archive)
	}
	root := filepath.Join(dir, spec.dirName)
	return errors.Wrapf(os.Rename(tmpRoot, root), "moving extracted %s into place", spec.dirName)
}

// extractMembers writes the members of spec found in the tarball archive into root.
func extractMembers(archive, root string, spec datasetSpec) error {
	file, err := os.Open(archive)
	if err != nil {
		return errors.Wrap(err, "opening tarball")
	}
	defer func() { _ = file.Close() }()
	gz, err := gzip.NewReader(file)
	if err != nil {
		return errors.Wrapf(err, "tarball %s: reading gzip header", archive)
	}
	limits := spec.memberLimits()
	found := make(map[string]bool, len(limits))
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errors.Wrapf(err, "tarball %s: reading entry after %d members", archive, len(found))
		}
		name, ok := strings.CutPrefix(path.Clean(strings.TrimPrefix(hdr.Name, "./")), spec.dirName+"/")
		limit, wanted := limits[name]
		if !ok || !wanted || hdr.Typeflag != tar.TypeReg {
			continue
		}
		if hdr.Size > limit {
			return errors.Errorf("tarball %s: member %s has %d bytes, more than the %d expected", archive, hdr.Name, hdr.Size, limit)
		}
		if found[name] {
			return errors.Errorf("tarball %s: member %s appears twice", archive, hdr.Name)
		}
		found[name] = true
		if err := writeMember(filepath.Join(root, name), tr, hdr.Size); err != nil {
			return errors.WithMessagef(err, "tarball %s: member %s", archive, hdr.Name)
		}
	}
	for _, name := range spec.members() {
		if !found[name] {
			return errors.Errorf("tarball %s: missing member %s/%s", archive, spec.dirName, name)
		}
	}
	return nil
}

// memberLimits maps each member of spec to its largest acceptable size in bytes.
func (spec datasetSpec) memberLimits() map[string]int64 {
	limits := make(map[string]int64)
	for _, f := range append(spec.train[:len(spec.train):len(spec.train)], spec.test) {
		limits[f.name] = int64(f.records) * int64(spec.format.recordSize())
	}
	for _, name := range spec.namesFiles {
		limits[name] = maxNamesFileSize
	}
	return limits
}

// writeMember writes exactly size bytes from r to a new file at path.
func writeMember(path string, r io.Reader, size int64) error {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return errors.Wrap(err, "creating extracted file")
	}
	if _, err := io.CopyN(out, r, size); err != nil {
		_ = out.Close()
		return errors.Wrapf(err, "extracting to %s", path)
	}
	return errors.Wrapf(out.Close(), "closing %s", path)
}
