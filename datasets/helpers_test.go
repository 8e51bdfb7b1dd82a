package datasets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sha256Hex returns the hex sha256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return fmt.Sprintf("%x", sum)
}

// pixelOf is the deterministic value of byte p of synthetic record i.
func pixelOf(i, p int) uint8 { return uint8(i*7 + p*13 + p/1024) }

// makeRecords returns n synthetic records of format f: record i has fine label i%numFine, coarse
// label (i%numFine)%numCoarse, and pixels pixelOf(i, p).
func makeRecords(f format, n int) []byte {
	var buf bytes.Buffer
	for i := range n {
		fine := i % f.numFine
		if f.labelBytes == 2 {
			buf.WriteByte(byte(fine % f.numCoarse))
		}
		buf.WriteByte(byte(fine))
		for p := range RecordPixels {
			buf.WriteByte(pixelOf(i, p))
		}
	}
	return buf.Bytes()
}

// names returns n names "prefix0".."prefix<n-1>", one per line.
func names(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s%d\n", prefix, i)
	}
	return b.String()
}

// smallCIFAR100 returns the files of a small CIFAR-100 (nTrain and nTest records) and the spec
// that accepts them, with their real sha256.
func smallCIFAR100(nTrain, nTest int) (map[string][]byte, datasetSpec) {
	train := makeRecords(cifar100Format, nTrain)
	test := makeRecords(cifar100Format, nTest)
	files := map[string][]byte{
		"train.bin":              train,
		"test.bin":               test,
		"fine_label_names.txt":   []byte(names("fine", 100)),
		"coarse_label_names.txt": []byte(names("coarse", 20)),
	}
	spec := cifar100Spec()
	spec.train = []fileSpec{{name: "train.bin", records: nTrain, sha256: sha256Hex(train)}}
	spec.test = fileSpec{name: "test.bin", records: nTest, sha256: sha256Hex(test)}
	spec.namesSHA256 = []string{sha256Hex(files["fine_label_names.txt"]), sha256Hex(files["coarse_label_names.txt"])}
	return files, spec
}

// writeFiles writes files into dir/sub, creating it.
func writeFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// makeTarball returns a .tar.gz with the given members (name → content), in the order of names.
func makeTarball(t testing.TB, members map[string][]byte, order []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range order {
		data := members[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wantErr fails the test unless err is non-nil and contains every one of the substrings.
func wantErr(t *testing.T, err error, substrings ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", substrings)
	}
	for _, s := range substrings {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err, s)
		}
	}
}
