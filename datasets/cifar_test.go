package datasets

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestReadRecords(t *testing.T) {
	valid100 := makeRecords(cifar100Format, 3)
	badFine := slices.Clone(valid100)
	badFine[3074+1] = 100 // Record 1, fine label.
	badCoarse := slices.Clone(valid100)
	badCoarse[2*3074] = 20 // Record 2, coarse label.
	valid10 := makeRecords(cifar10Format, 2)
	bad10 := slices.Clone(valid10)
	bad10[3073] = 10
	tests := []struct {
		name     string
		data     []byte
		size     int64 // Stated size; -1 means len(data).
		f        format
		max      int
		wantN    int
		wantErrs []string
	}{
		{"cifar100 valid", valid100, -1, cifar100Format, 0, 3, nil},
		{"cifar10 valid", valid10, -1, cifar10Format, 0, 2, nil},
		{"empty", nil, -1, cifar100Format, 0, 0, []string{"f.bin", "empty"}},
		{"not a multiple", valid100[:3074+5], -1, cifar100Format, 0, 0, []string{"f.bin", "not a multiple", "1 records and 5 extra bytes"}},
		{"truncated", valid100[:2*3074], 3 * 3074, cifar100Format, 0, 0, []string{"f.bin", "truncated at record 2 of 3"}},
		{"oversized", valid100, 2 * 3074, cifar100Format, 0, 0, []string{"f.bin", "more data after the 2 records"}},
		{"too many records", valid100, -1, cifar100Format, 2, 0, []string{"f.bin", "3 records, more than the 2 expected"}},
		{"fine label out of range", badFine, -1, cifar100Format, 0, 0, []string{"f.bin", "record 1", "label 100 out of range 0..99"}},
		{"coarse label out of range", badCoarse, -1, cifar100Format, 0, 0, []string{"f.bin", "record 2", "coarse label 20 out of range 0..19"}},
		{"cifar10 label out of range", bad10, -1, cifar10Format, 0, 0, []string{"f.bin", "record 1", "label 10 out of range 0..9"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			size := tc.size
			if size < 0 {
				size = int64(len(tc.data))
			}
			recs, err := readRecords(bytes.NewReader(tc.data), "f.bin", size, tc.f, tc.max)
			if tc.wantErrs != nil {
				wantErr(t, err, tc.wantErrs...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if recs.len() != tc.wantN || len(recs.pixels) != tc.wantN*RecordPixels {
				t.Fatalf("got %d records, %d pixel bytes; want %d", recs.len(), len(recs.pixels), tc.wantN)
			}
			for i := range tc.wantN {
				if recs.labels[i] != int32(i%tc.f.numFine) {
					t.Errorf("record %d: label %d, want %d", i, recs.labels[i], i%tc.f.numFine)
				}
				if tc.f.numCoarse > 0 && recs.coarse[i] != int32(i%tc.f.numCoarse) {
					t.Errorf("record %d: coarse %d, want %d", i, recs.coarse[i], i%tc.f.numCoarse)
				}
				for _, p := range []int{0, 1023, 1024, 3071} {
					if got := recs.pixels[i*RecordPixels+p]; got != pixelOf(i, p) {
						t.Errorf("record %d pixel %d: %d, want %d", i, p, got, pixelOf(i, p))
					}
				}
			}
			if tc.f.numCoarse == 0 && recs.coarse != nil {
				t.Errorf("coarse labels for a format without them")
			}
		})
	}
}

func TestLoadCIFAR100Synthetic(t *testing.T) {
	files, spec := smallCIFAR100(12, 5)
	dir := t.TempDir()
	writeFiles(t, filepath.Join(dir, "cifar-100-binary"), files)
	d, err := loadCIFAR100(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 12 || d.Test.Len() != 5 || d.Train.NumClasses() != 100 {
		t.Fatalf("got %d train, %d test, %d classes; want 12, 5, 100", d.Train.Len(), d.Test.Len(), d.Train.NumClasses())
	}
	if d.FineNames[3] != "fine3" || d.CoarseNames[19] != "coarse19" || d.Train.ClassName(7) != "fine7" {
		t.Fatalf("names: %q %q %q", d.FineNames[3], d.CoarseNames[19], d.Train.ClassName(7))
	}
	if d.Train.Name != "train" || d.Test.Name != "test" || d.Train.ClassIDs[42] != 42 {
		t.Fatalf("set names %q %q, class id 42 → %d", d.Train.Name, d.Test.Name, d.Train.ClassIDs[42])
	}
	if !bytes.Equal(d.Test.Record(4), files["test.bin"][4*3074+2:5*3074]) {
		t.Fatal("test record 4 differs from the file")
	}
}

func TestLoadCIFAR100BadInput(t *testing.T) {
	files, spec := smallCIFAR100(4, 2)
	tests := []struct {
		name     string
		edit     func(files map[string][]byte)
		wantErrs []string
	}{
		{"truncated train", func(f map[string][]byte) { f["train.bin"] = f["train.bin"][:3*3074+100] },
			[]string{"train.bin", "truncated", "9322 bytes, want 12296"}},
		{"oversized test", func(f map[string][]byte) { f["test.bin"] = append(f["test.bin"], 0) },
			[]string{"test.bin", "oversized", "6149 bytes, want 6148"}},
		{"checksum mismatch", func(f map[string][]byte) { f["train.bin"][3074+500]++ },
			[]string{"train.bin", "sha256 mismatch"}},
		{"label out of range", func(f map[string][]byte) { f["test.bin"][3074+1] = 200 },
			[]string{"test.bin", "record 1", "label 200 out of range"}},
		{"missing fine names", func(f map[string][]byte) { delete(f, "fine_label_names.txt") },
			[]string{"fine_label_names.txt"}},
		{"99 fine names", func(f map[string][]byte) { f["fine_label_names.txt"] = []byte(names("x", 99)) },
			[]string{"fine_label_names.txt", "99 names, want 100"}},
		{"duplicate coarse name", func(f map[string][]byte) { f["coarse_label_names.txt"] = []byte(names("c", 19) + "c3\n") },
			[]string{"coarse_label_names.txt", "line 20", `"c3" repeats line 4`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			edited := make(map[string][]byte)
			for k, v := range files {
				edited[k] = slices.Clone(v)
			}
			tc.edit(edited)
			dir := t.TempDir()
			writeFiles(t, filepath.Join(dir, "cifar-100-binary"), edited)
			_, err := loadCIFAR100(dir, spec)
			wantErr(t, err, tc.wantErrs...)
		})
	}
	_, err := LoadCIFAR100(t.TempDir())
	wantErr(t, err, "CIFAR-100 directory not found", DataDirEnv)
}

func TestLoadCIFAR10Synthetic(t *testing.T) {
	spec := cifar10Spec()
	files := map[string][]byte{"batches.meta.txt": []byte(names("class", 10) + "\n\n")}
	for i := range spec.train {
		spec.train[i].records = 3
		files[spec.train[i].name] = makeRecords(cifar10Format, 3)
	}
	spec.test.records = 2
	files["test_batch.bin"] = makeRecords(cifar10Format, 2)
	dir := t.TempDir()
	writeFiles(t, filepath.Join(dir, "cifar-10-batches-bin"), files)
	d, err := loadCIFAR10(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 15 || d.Test.Len() != 2 || d.Train.Coarse != nil || d.Names[9] != "class9" {
		t.Fatalf("got %d train, %d test, coarse %v, names %q", d.Train.Len(), d.Test.Len(), d.Train.Coarse, d.Names)
	}
	// Record 4 of the concatenation is record 1 of data_batch_2.
	if d.Train.Labels[4] != 1 || !bytes.Equal(d.Train.Record(4), files["data_batch_2.bin"][3073+1:2*3073]) {
		t.Fatalf("train record 4: label %d", d.Train.Labels[4])
	}
	if err := os.Remove(filepath.Join(dir, "cifar-10-batches-bin", "data_batch_5.bin")); err != nil {
		t.Fatal(err)
	}
	_, err = loadCIFAR10(dir, spec)
	wantErr(t, err, "data_batch_5.bin")
}

func TestDefaultDir(t *testing.T) {
	t.Setenv(DataDirEnv, "/some/where")
	if got := DefaultDir(); got != "/some/where" {
		t.Fatalf("DefaultDir() = %q with $%s set, want /some/where", got, DataDirEnv)
	}
	t.Setenv(DataDirEnv, "")
	if got := DefaultDir(); filepath.Base(got) != "cnnlab" {
		t.Fatalf("DefaultDir() = %q, want a directory named cnnlab", got)
	}
}

func TestChannelStatsExact(t *testing.T) {
	// One image: R all 255; G half 0 half 255; B all 51.
	rec := make([]uint8, RecordPixels)
	for p := range 1024 {
		rec[p] = 255
		if p%2 == 0 {
			rec[1024+p] = 255
		}
		rec[2048+p] = 51
	}
	s := &Set{Pixels: rec, Labels: []int32{0}, ClassIDs: []int{0}, ClassNames: []string{"a"}}
	mean, std := ChannelStats(s)
	// G: 512 values of 1 and 512 of 0: unbiased variance (1024·512 − 512²)/(1024·1023) = 256/1023.
	wantMean := [3]float64{1, 0.5, 0.2}
	wantStd := [3]float64{0, math.Sqrt(256.0 / 1023), 0}
	const tolerance = 1e-12 // Float64 rounding only.
	for c := range 3 {
		if math.Abs(mean[c]-wantMean[c]) > tolerance || math.Abs(std[c]-wantStd[c]) > tolerance {
			t.Errorf("channel %d: mean %v std %v, want %v %v", c, mean[c], std[c], wantMean[c], wantStd[c])
		}
	}
	_, pooled := PooledChannelStats(s)
	if math.Abs(pooled[1]-0.5) > tolerance {
		t.Errorf("pooled std of G: %v, want 0.5", pooled[1])
	}
}
