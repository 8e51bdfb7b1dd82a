package datasets

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/pkg/errors"
)

// DataDirEnv is the environment variable naming the data directory: the directory that contains
// cifar-100-binary/ (and cifar-10-batches-bin/).
const DataDirEnv = "CNNLAB_DATA_DIR"

// Image geometry shared by CIFAR-10 and CIFAR-100.
const (
	// ImageSize is the height and width of a CIFAR image, in pixels.
	ImageSize = 32
	// Channels is the number of colour channels (R, G, B).
	Channels = 3
	// RecordPixels is the number of pixel bytes of one record: 3 planes of 32×32.
	RecordPixels = Channels * ImageSize * ImageSize
)

// DefaultDir returns the data directory: $CNNLAB_DATA_DIR if set, else <os.UserCacheDir()>/cnnlab
// (or <os.TempDir()>/cnnlab where the user has no cache directory).
func DefaultDir() string {
	if dir := os.Getenv(DataDirEnv); dir != "" {
		return dir
	}
	cache, err := os.UserCacheDir()
	if err != nil || cache == "" {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "cnnlab")
}

// format describes the records of one CIFAR variant.
type format struct {
	name       string // "CIFAR-100" or "CIFAR-10", for errors.
	labelBytes int    // 2 (coarse, fine) for CIFAR-100, 1 for CIFAR-10.
	numFine    int    // Number of (fine) classes.
	numCoarse  int    // Number of coarse classes, 0 if none.
}

var (
	cifar100Format = format{name: "CIFAR-100", labelBytes: 2, numFine: 100, numCoarse: 20}
	cifar10Format  = format{name: "CIFAR-10", labelBytes: 1, numFine: 10}
)

// recordSize is the size in bytes of one record of f.
func (f format) recordSize() int { return f.labelBytes + RecordPixels }

// records is the parsed content of one or more CIFAR binary files.
type records struct {
	pixels []uint8
	labels []int32
	coarse []int32 // nil for formats without coarse labels.
}

// len returns the number of records.
func (r *records) len() int { return len(r.labels) }

// readRecords parses the records of a CIFAR binary file of the given size, read from r; name
// identifies the file in errors. It fails unless size is a positive multiple of the record size,
// at most maxRecords records (if maxRecords > 0), and r holds exactly size bytes with every label
// in range. Nothing it read from r is trusted before it is checked.
func readRecords(r io.Reader, name string, size int64, f format, maxRecords int) (*records, error) {
	recSize := int64(f.recordSize())
	if size <= 0 {
		return nil, errors.Errorf("%s: empty file, want %s records of %d bytes", name, f.name, recSize)
	}
	if size%recSize != 0 {
		return nil, errors.Errorf("%s: size %d bytes is not a multiple of the %s record size %d bytes "+
			"(%d records and %d extra bytes)", name, size, f.name, recSize, size/recSize, size%recSize)
	}
	n := size / recSize
	if maxRecords > 0 && n > int64(maxRecords) {
		return nil, errors.Errorf("%s: %d records, more than the %d expected", name, n, maxRecords)
	}
	recs := &records{pixels: make([]uint8, int(n)*RecordPixels), labels: make([]int32, n)}
	if f.numCoarse > 0 {
		recs.coarse = make([]int32, n)
	}
	buf := make([]byte, recSize)
	for i := range int(n) {
		if _, err := io.ReadFull(r, buf); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, errors.Errorf("%s: truncated at record %d of %d", name, i, n)
			}
			return nil, errors.Wrapf(err, "%s: reading record %d", name, i)
		}
		if err := recs.set(i, buf, f); err != nil {
			return nil, errors.WithMessagef(err, "%s: record %d", name, i)
		}
	}
	var extra [1]byte
	if k, _ := io.ReadFull(r, extra[:]); k != 0 {
		return nil, errors.Errorf("%s: more data after the %d records of its stated size %d bytes", name, n, size)
	}
	return recs, nil
}

// set stores record i from its raw bytes rec, checking the labels.
func (r *records) set(i int, rec []byte, f format) error {
	fine := int(rec[f.labelBytes-1])
	if fine >= f.numFine {
		return errors.Errorf("label %d out of range 0..%d", fine, f.numFine-1)
	}
	if f.numCoarse > 0 {
		coarse := int(rec[0])
		if coarse >= f.numCoarse {
			return errors.Errorf("coarse label %d out of range 0..%d", coarse, f.numCoarse-1)
		}
		r.coarse[i] = int32(coarse)
	}
	r.labels[i] = int32(fine)
	copy(r.pixels[i*RecordPixels:], rec[f.labelBytes:])
	return nil
}

// fileSpec describes one expected binary file.
type fileSpec struct {
	name    string // Base name, e.g. "train.bin".
	records int    // Expected number of records.
	sha256  string // Expected hex sha256; "" skips the check (CIFAR-10 members, verified by the tarball).
}

// loadRecordsFile reads and verifies the records file dir/spec.name.
func loadRecordsFile(dir string, spec fileSpec, f format) (*records, error) {
	path := filepath.Join(dir, spec.name)
	file, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrapf(err, "opening %s file", f.name)
	}
	defer func() { _ = file.Close() }()
	info, err := file.Stat()
	if err != nil {
		return nil, errors.Wrapf(err, "stat %s", path)
	}
	want := int64(spec.records) * int64(f.recordSize())
	if info.Size() != want {
		what := "truncated"
		if info.Size() > want {
			what = "oversized"
		}
		return nil, errors.Errorf("%s: %s: %d bytes, want %d (%d records of %d bytes)",
			path, what, info.Size(), want, spec.records, f.recordSize())
	}
	h := sha256.New()
	recs, err := readRecords(io.TeeReader(bufio.NewReaderSize(file, 1<<20), h), path, info.Size(), f, spec.records)
	if err != nil {
		return nil, err
	}
	if err := checkSum(path, h, spec.sha256); err != nil {
		return nil, err
	}
	return recs, nil
}

// checkSum compares the sha256 accumulated in h with the expected hex digest want ("" accepts any).
func checkSum(path string, h hash.Hash, want string) error {
	if want == "" {
		return nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return errors.Errorf("%s: sha256 mismatch: got %s, want %s", path, got, want)
	}
	return nil
}

// sha256File returns the hex sha256 of the file at path.
func sha256File(path string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", errors.Wrap(err, "opening file to verify its sha256")
	}
	defer func() { _ = file.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return "", errors.Wrapf(err, "reading %s", path)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// maxNamesFileSize bounds the size of a label-names file: the real ones are under 1 KiB.
const maxNamesFileSize = 64 << 10

// readNames reads a label-names file with one name per line and returns exactly n names. Trailing
// blank lines are ignored (CIFAR-10's batches.meta.txt has them); any other blank, duplicated or
// missing name is an error, and so is a file whose sha256 is not wantSHA256 ("" accepts any): two
// names swapped would mislabel every report.
func readNames(path string, n int, wantSHA256 string) ([]string, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "opening label names")
	}
	defer func() { _ = file.Close() }()
	data, err := io.ReadAll(io.LimitReader(file, maxNamesFileSize+1))
	if err != nil {
		return nil, errors.Wrapf(err, "reading %s", path)
	}
	if len(data) > maxNamesFileSize {
		return nil, errors.Errorf("%s: larger than %d bytes, not a label names file", path, maxNamesFileSize)
	}
	lines := strings.Split(strings.TrimRight(string(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))), "\n \t"), "\n")
	if len(lines) != n {
		return nil, errors.Errorf("%s: %d names, want %d", path, len(lines), n)
	}
	seen := make(map[string]int, n)
	for i, line := range lines {
		name := strings.TrimSpace(line)
		if name == "" {
			return nil, errors.Errorf("%s: line %d: empty class name", path, i+1)
		}
		if j, dup := seen[name]; dup {
			return nil, errors.Errorf("%s: line %d: class name %q repeats line %d", path, i+1, name, j+1)
		}
		seen[name] = i
		lines[i] = name
	}
	if sum := sha256.Sum256(data); wantSHA256 != "" && hex.EncodeToString(sum[:]) != wantSHA256 {
		return nil, errors.Errorf("%s: sha256 mismatch: got %s, want %s (names edited or damaged: reports would be mislabelled)",
			path, hex.EncodeToString(sum[:]), wantSHA256)
	}
	return lines, nil
}

// datasetSpec describes a CIFAR variant on disk and on the web.
type datasetSpec struct {
	format        format
	dirName       string     // Directory in the data dir and in the tarball.
	train         []fileSpec // Concatenated in order.
	test          fileSpec
	namesFiles    []string // Fine (or only) names file, then the coarse names file if any.
	namesSHA256   []string // Expected sha256 of each names file; "" or missing skips the check.
	url           string   // Official tarball URL.
	archiveSHA256 string   // Official tarball sha256.
	archiveSize   int64    // Official tarball size in bytes; 0: unknown, no limit.
}

// Official CIFAR-100 checksums and URL.
const (
	CIFAR100URL           = "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"
	CIFAR100ArchiveSHA256 = "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec"
	CIFAR100TrainSHA256   = "f31298fc616915fa142368359df1c4ca2ae984d6915ca468b998a5ec6aeebf29"
	CIFAR100TestSHA256    = "d8b1e6b7b3bee4020055f0699b111f60b1af1e262aeb93a0b659061746f8224a"
	// CIFAR100FineNamesSHA256 and CIFAR100CoarseNamesSHA256 are those of fine_label_names.txt
	// and coarse_label_names.txt.
	CIFAR100FineNamesSHA256   = "4a53f81a8af29bb6aa646bfe2c455db1b061edfde82a39c0cfc313ef536c681b"
	CIFAR100CoarseNamesSHA256 = "14e28b5b70e3d8a29704b0d9f8c5985cca5f3c3d08ea043dcc87a036df37a2b3"
	CIFAR10URL                = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
	CIFAR10ArchiveSHA256      = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
)

// Official tarball sizes in bytes: a download never reads more.
const (
	CIFAR100ArchiveSize = 168513733
	CIFAR10ArchiveSize  = 170052171
)

// cifar100Spec returns the official CIFAR-100 layout.
func cifar100Spec() datasetSpec {
	return datasetSpec{
		format:        cifar100Format,
		dirName:       "cifar-100-binary",
		train:         []fileSpec{{name: "train.bin", records: 50000, sha256: CIFAR100TrainSHA256}},
		test:          fileSpec{name: "test.bin", records: 10000, sha256: CIFAR100TestSHA256},
		namesFiles:    []string{"fine_label_names.txt", "coarse_label_names.txt"},
		namesSHA256:   []string{CIFAR100FineNamesSHA256, CIFAR100CoarseNamesSHA256},
		url:           CIFAR100URL,
		archiveSHA256: CIFAR100ArchiveSHA256,
		archiveSize:   CIFAR100ArchiveSize,
	}
}

// cifar10Spec returns the official CIFAR-10 layout. Its members are checked by size only: their
// integrity comes from the tarball's sha256 at download.
func cifar10Spec() datasetSpec {
	spec := datasetSpec{
		format:        cifar10Format,
		dirName:       "cifar-10-batches-bin",
		test:          fileSpec{name: "test_batch.bin", records: 10000},
		namesFiles:    []string{"batches.meta.txt"},
		url:           CIFAR10URL,
		archiveSHA256: CIFAR10ArchiveSHA256,
		archiveSize:   CIFAR10ArchiveSize,
	}
	for i := 1; i <= 5; i++ {
		spec.train = append(spec.train, fileSpec{name: fmt.Sprintf("data_batch_%d.bin", i), records: 10000})
	}
	return spec
}

// namesSum returns the expected sha256 of the i-th names file ("": not checked).
func (spec datasetSpec) namesSum(i int) string {
	if i < len(spec.namesSHA256) {
		return spec.namesSHA256[i]
	}
	return ""
}

// members lists the files of the dataset directory, relative to it.
func (spec datasetSpec) members() []string {
	var names []string
	for _, f := range spec.train {
		names = append(names, f.name)
	}
	names = append(names, spec.test.name)
	return append(names, spec.namesFiles...)
}

// loaded is a dataset read from disk by load.
type loaded struct {
	train, test *records
	names       [][]string // One list per spec.namesFiles.
}

// load reads and verifies the dataset in dir/spec.dirName; train and test are read concurrently.
func (spec datasetSpec) load(dir string) (*loaded, error) {
	root := filepath.Join(dir, spec.dirName)
	if info, err := os.Stat(root); err != nil {
		return nil, errors.Wrapf(err, "%s directory not found (run the download, or set $%s to the directory that contains %s/)",
			spec.format.name, DataDirEnv, spec.dirName)
	} else if !info.IsDir() {
		return nil, errors.Errorf("%s is not a directory", root)
	}
	out := &loaded{}
	for i, name := range spec.namesFiles {
		n := spec.format.numFine
		if i == 1 {
			n = spec.format.numCoarse
		}
		names, err := readNames(filepath.Join(root, name), n, spec.namesSum(i))
		if err != nil {
			return nil, err
		}
		out.names = append(out.names, names)
	}
	var wg sync.WaitGroup
	var trainErr, testErr error
	wg.Go(func() { out.train, trainErr = spec.loadFiles(root, spec.train) })
	wg.Go(func() { out.test, testErr = spec.loadFiles(root, []fileSpec{spec.test}) })
	wg.Wait()
	if trainErr != nil {
		return nil, trainErr
	}
	if testErr != nil {
		return nil, testErr
	}
	return out, nil
}

// loadFiles reads the files in order and concatenates their records.
func (spec datasetSpec) loadFiles(root string, files []fileSpec) (*records, error) {
	if len(files) == 1 {
		return loadRecordsFile(root, files[0], spec.format)
	}
	all := &records{}
	for _, f := range files {
		recs, err := loadRecordsFile(root, f, spec.format)
		if err != nil {
			return nil, err
		}
		all.pixels = append(all.pixels, recs.pixels...)
		all.labels = append(all.labels, recs.labels...)
		if recs.coarse != nil {
			all.coarse = append(all.coarse, recs.coarse...)
		}
	}
	return all, nil
}

// CIFAR100 is the CIFAR-100 dataset in memory.
type CIFAR100 struct {
	// Train has the 50,000 training images, Test the 10,000 test images; labels are the fine ones.
	Train, Test *Set
	// FineNames has the 100 fine class names, CoarseNames the 20 coarse ones (superclasses).
	FineNames, CoarseNames []string
}

// LoadCIFAR100 loads dir/cifar-100-binary, verifying the sha256 of train.bin and test.bin; dir ""
// means DefaultDir(). It does not download: see EnsureCIFAR100.
func LoadCIFAR100(dir string) (*CIFAR100, error) {
	return loadCIFAR100(dir, cifar100Spec())
}

// loadCIFAR100 is LoadCIFAR100 with the expected files as a parameter, for tests.
func loadCIFAR100(dir string, spec datasetSpec) (*CIFAR100, error) {
	if dir == "" {
		dir = DefaultDir()
	}
	l, err := spec.load(dir)
	if err != nil {
		return nil, errors.WithMessage(err, "loading CIFAR-100")
	}
	fine, coarse := l.names[0], l.names[1]
	train, test := newSet("train", l.train, fine), newSet("test", l.test, fine)
	train.CoarseNames, test.CoarseNames = slices.Clone(coarse), slices.Clone(coarse)
	return &CIFAR100{
		Train:       train,
		Test:        test,
		FineNames:   fine,
		CoarseNames: coarse,
	}, nil
}

// CIFAR10 is the CIFAR-10 dataset in memory.
type CIFAR10 struct {
	// Train has the 50,000 training images (data_batch_1..5), Test the 10,000 test images.
	Train, Test *Set
	// Names has the 10 class names, from batches.meta.txt.
	Names []string
}

// LoadCIFAR10 loads dir/cifar-10-batches-bin; dir "" means DefaultDir(). The files are checked by
// size and content (labels); their sha256 is verified through the tarball by EnsureCIFAR10.
func LoadCIFAR10(dir string) (*CIFAR10, error) {
	return loadCIFAR10(dir, cifar10Spec())
}

// loadCIFAR10 is LoadCIFAR10 with the expected files as a parameter, for tests.
func loadCIFAR10(dir string, spec datasetSpec) (*CIFAR10, error) {
	if dir == "" {
		dir = DefaultDir()
	}
	l, err := spec.load(dir)
	if err != nil {
		return nil, errors.WithMessage(err, "loading CIFAR-10")
	}
	names := l.names[0]
	return &CIFAR10{Train: newSet("train", l.train, names), Test: newSet("test", l.test, names), Names: names}, nil
}
