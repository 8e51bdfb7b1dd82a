package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/internal/testenv"
)

// swapLines swaps the first two lines of text.
func swapLines(text string) string {
	lines := strings.SplitN(text, "\n", 3)
	return lines[1] + "\n" + lines[0] + "\n" + lines[2]
}

func TestLabelNamesChecksum(t *testing.T) {
	files, spec := smallCIFAR100(4, 2)
	tests := []struct {
		name, file string
	}{
		{"fine names swapped", "fine_label_names.txt"},
		{"coarse names swapped", "coarse_label_names.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			edited := map[string][]byte{}
			for k, v := range files {
				edited[k] = v
			}
			edited[tc.file] = []byte(swapLines(string(files[tc.file])))
			writeFiles(t, filepath.Join(dir, "cifar-100-binary"), edited)
			_, err := loadCIFAR100(dir, spec)
			wantErr(t, err, tc.file+": sha256 mismatch", "mislabelled")
			_, err = ensure(t.Context(), dir, spec, DownloadOptions{URL: "http://127.0.0.1:1/never-contacted.tar.gz"})
			wantErr(t, err, "fails verification", tc.file+": sha256 mismatch")
		})
	}
}

// TestRealLabelNamesSwapped reproduces the report: the real data with apple and aquarium_fish
// swapped in fine_label_names.txt (the records linked, not copied) is refused.
func TestRealLabelNamesSwapped(t *testing.T) {
	real := filepath.Join(testenv.CIFAR100Dir(t), "cifar-100-binary")
	dir := t.TempDir()
	root := filepath.Join(dir, "cifar-100-binary")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"train.bin", "test.bin", "coarse_label_names.txt"} {
		if err := os.Symlink(filepath.Join(real, name), filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	fine, err := os.ReadFile(filepath.Join(real, "fine_label_names.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "fine_label_names.txt"), []byte(swapLines(string(fine))), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadCIFAR100(dir)
	wantErr(t, err, "fine_label_names.txt: sha256 mismatch", "want "+CIFAR100FineNamesSHA256)
}
