package datasets

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/internal/testenv"
)

// smallSet returns a synthetic full CIFAR-100 set of n records (record i has fine label i%100).
func smallSet(t testing.TB, n int) *Set {
	t.Helper()
	recs, err := readRecords(bytes.NewReader(makeRecords(cifar100Format, n)), "small", int64(n*3074), cifar100Format, 0)
	if err != nil {
		t.Fatal(err)
	}
	return newSet("train", recs, slices.Collect(func(yield func(string) bool) {
		for i := range 100 {
			if !yield("c" + string(rune('A'+i/10)) + string(rune('0'+i%10))) {
				return
			}
		}
	}))
}

func TestSubset(t *testing.T) {
	s := smallSet(t, 250) // Classes 0..49 have 3 images, 50..99 have 2.
	tests := []struct {
		name       string
		ids        []int
		wantName   string
		wantLabels []int32
		wantSource []int // Original record index of each image.
		wantErrs   []string
	}{
		{"lecture order", []int{58, 0, 55}, "train[58,0,55]",
			[]int32{1, 2, 0, 1, 2, 0, 1}, []int{0, 55, 58, 100, 155, 158, 200}, nil},
		{"one class", []int{99}, "train[99]", []int32{0, 0}, []int{99, 199}, nil},
		{"unknown id", []int{3, 100}, "", nil, nil, []string{"train", "class id 100 is not in the set", "0..99"}},
		{"duplicate", []int{3, 3}, "", nil, nil, []string{"class id 3", "given twice"}},
		{"empty", nil, "", nil, nil, []string{"no class given"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := s.Subset(tc.ids...)
			if tc.wantErrs != nil {
				wantErr(t, err, tc.wantErrs...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sub.Name != tc.wantName || !slices.Equal(sub.Labels, tc.wantLabels) || !slices.Equal(sub.ClassIDs, tc.ids) {
				t.Fatalf("got %q labels %v ids %v; want %q %v %v", sub.Name, sub.Labels, sub.ClassIDs, tc.wantName, tc.wantLabels, tc.ids)
			}
			for k, src := range tc.wantSource {
				if !bytes.Equal(sub.Record(k), s.Record(src)) || sub.Coarse[k] != s.Coarse[src] {
					t.Errorf("image %d is not record %d", k, src)
				}
			}
			for label, id := range tc.ids {
				if sub.ClassNames[label] != s.ClassNames[id] {
					t.Errorf("class name of label %d: %q, want %q", label, sub.ClassNames[label], s.ClassNames[id])
				}
			}
		})
	}
	// Subset of a subset uses original ids.
	sub, _ := s.Subset(0, 55, 58)
	sub2, err := sub.Subset(58)
	if err != nil || sub2.Len() != 2 || sub2.ClassIDs[0] != 58 || sub2.Labels[1] != 0 || sub2.Name != "train[0,55,58][58]" {
		t.Fatalf("subset of subset: %v, %d images, ids %v, name %q", err, sub2.Len(), sub2.ClassIDs, sub2.Name)
	}
	_, err = sub.Subset(1)
	wantErr(t, err, "class id 1 is not in the set", "[0 55 58]")
}

// TestFirstPerClass checks the class-balanced prefix: which records it keeps, in order, with
// their labels and coarse labels, and the errors for k < 1 and for a class with too few images.
func TestFirstPerClass(t *testing.T) {
	s := smallSet(t, 250) // Image i is of class i mod 100: classes 0..49 have 3 images, 50..99 have 2.
	for _, k := range []int{1, 2} {
		sub, err := s.FirstPerClass(k)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Len() != 100*k || sub.NumClasses() != 100 || sub.Name != fmt.Sprintf("train, %d per class", k) {
			t.Fatalf("k = %d: %d images of %d classes, name %q", k, sub.Len(), sub.NumClasses(), sub.Name)
		}
		for i := range sub.Len() { // The first k images of every class are records 0..100k−1.
			if !bytes.Equal(sub.Record(i), s.Record(i)) || sub.Labels[i] != s.Labels[i] || sub.Coarse[i] != s.Coarse[i] {
				t.Fatalf("k = %d: image %d is not record %d", k, i, i)
			}
		}
	}
	_, err := s.FirstPerClass(3)
	wantErr(t, err, "first 3 images per class of train", "class 50", "has only 2")
	_, err = s.FirstPerClass(0)
	wantErr(t, err, "want k ≥ 1")
}

func TestCIFAR100SubsetByName(t *testing.T) {
	s := smallSet(t, 200)
	d := &CIFAR100{Train: s, Test: s, FineNames: s.ClassNames}
	train, test, err := d.Subset("cA0", "55", " cF8 ")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(train.ClassIDs, []int{0, 55, 58}) || test.Len() != 6 || train.ClassNames[2] != "cF8" {
		t.Fatalf("got ids %v, %d test images, names %v", train.ClassIDs, test.Len(), train.ClassNames)
	}
	for _, tc := range []struct {
		classes  []string
		wantErrs []string
	}{
		{[]string{"apple", "nope"}, []string{`unknown class name "apple"`}},
		{[]string{"100"}, []string{"class id 100 out of range 0..99"}},
		{[]string{"-1"}, []string{"class id -1 out of range"}},
	} {
		_, _, err := d.Subset(tc.classes...)
		wantErr(t, err, tc.wantErrs...)
	}
}

func TestLayouts(t *testing.T) {
	rec := make([]uint8, RecordPixels)
	for i := range rec {
		rec[i] = uint8(i % 251)
	}
	hwc, err := CHWToHWC(rec)
	if err != nil {
		t.Fatal(err)
	}
	// Pixel (y=2, x=5), channel c: CHW index c*1024+2*32+5, HWC index (2*32+5)*3+c.
	for c := range 3 {
		if hwc[(2*32+5)*3+c] != rec[c*1024+2*32+5] {
			t.Errorf("channel %d of pixel (2,5) moved wrong", c)
		}
	}
	back, err := HWCToCHW(hwc)
	if err != nil || !bytes.Equal(back, rec) {
		t.Fatalf("HWCToCHW(CHWToHWC(x)) != x (err %v)", err)
	}
	_, err = CHWToHWC(make([]float32, 3071))
	wantErr(t, err, "3071 values, want 3072")
	img, _ := ToImage(rec)
	r, g, b, a := img.At(5, 2).RGBA()
	if uint8(r>>8) != rec[69] || uint8(g>>8) != rec[1024+69] || uint8(b>>8) != rec[2048+69] || a != 0xffff {
		t.Fatalf("ToImage pixel (5,2) = %d,%d,%d,%d", r>>8, g>>8, b>>8, a>>8)
	}
}

func TestConcat(t *testing.T) {
	s := smallSet(t, 3)
	all, err := Concat(s, s)
	if err != nil || all.Len() != 6 || all.Name != "train+train" || !bytes.Equal(all.Record(4), s.Record(1)) {
		t.Fatalf("Concat: %v, %d images", err, all.Len())
	}
	sub, _ := s.Subset(0)
	_, err = Concat(s, sub)
	wantErr(t, err, "concat", "train[0]")
}

// realData loads the real CIFAR-100 from $CNNLAB_DATA_DIR, or skips the test if it is unset or the
// files are absent.
func realData(t testing.TB) *CIFAR100 {
	t.Helper()
	dir := testenv.CIFAR100Dir(t)
	d, err := LoadCIFAR100(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRealCIFAR100(t *testing.T) {
	d := realData(t)
	if d.Train.Len() != 50000 || d.Test.Len() != 10000 || len(d.FineNames) != 100 || len(d.CoarseNames) != 20 {
		t.Fatalf("got %d/%d images, %d/%d names", d.Train.Len(), d.Test.Len(), len(d.FineNames), len(d.CoarseNames))
	}
	for _, tc := range []struct {
		set                *Set
		perFine, perCoarse int
	}{{d.Train, 500, 2500}, {d.Test, 100, 500}} {
		fine, coarse := make([]int, 100), make([]int, 20)
		for i := range tc.set.Len() {
			fine[tc.set.Labels[i]]++
			coarse[tc.set.Coarse[i]]++
		}
		for c, n := range fine {
			if n != tc.perFine {
				t.Errorf("%s: fine class %d (%s) has %d images, want %d", tc.set.Name, c, d.FineNames[c], n, tc.perFine)
			}
		}
		for c, n := range coarse {
			if n != tc.perCoarse {
				t.Errorf("%s: coarse class %d (%s) has %d images, want %d", tc.set.Name, c, d.CoarseNames[c], n, tc.perCoarse)
			}
		}
	}
	if l, c := d.Train.Labels[0], d.Train.Coarse[0]; l != 19 || d.FineNames[l] != "cattle" || c != 11 ||
		d.CoarseNames[c] != "large_omnivores_and_herbivores" {
		t.Errorf("first train record: fine %d %q, coarse %d %q", l, d.FineNames[l], c, d.CoarseNames[c])
	}
	if l := d.Test.Labels[0]; l != 49 || d.FineNames[l] != "mountain" {
		t.Errorf("first test record: fine %d %q, want 49 mountain", l, d.FineNames[l])
	}
	train, test, err := d.Subset("0", "otter", "pickup_truck")
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 1500 || test.Len() != 300 || !slices.Equal(train.ClassNames, []string{"apple", "otter", "pickup_truck"}) ||
		!slices.Equal(train.ClassIDs, []int{0, 55, 58}) || train.Name != "train[0,55,58]" {
		t.Errorf("subset: %d train, %d test, names %v ids %v name %q", train.Len(), test.Len(), train.ClassNames, train.ClassIDs, train.Name)
	}
}

func TestRealLectureStats(t *testing.T) {
	d := realData(t)
	all, err := Concat(d.Train, d.Test)
	if err != nil {
		t.Fatal(err)
	}
	round4 := func(v float64) float32 { return float32(int(v*10000+0.5)) / 10000 }
	for _, tc := range []struct {
		set               *Set
		wantMean, wantStd [3]float32
	}{
		{all, LectureMean, LectureStd}, // The lecture's constants come from all 60,000 images.
		{d.Train, [3]float32{0.5071, 0.4865, 0.4409}, [3]float32{0.2009, 0.1984, 0.2023}},
	} {
		mean, std := ChannelStats(tc.set)
		for c := range 3 {
			if round4(mean[c]) != tc.wantMean[c] || round4(std[c]) != tc.wantStd[c] {
				t.Errorf("%s channel %d: mean %.6f std %.6f, want %.4f %.4f", tc.set.Name, c, mean[c], std[c], tc.wantMean[c], tc.wantStd[c])
			}
		}
	}
	_, pooled := PooledChannelStats(d.Train)
	if want := [3]float32{0.2673, 0.2564, 0.2762}; [3]float32{round4(pooled[0]), round4(pooled[1]), round4(pooled[2])} != want {
		t.Errorf("pooled std of train: %v, want %v", pooled, want)
	}
}

func TestCoarseOfClassReal(t *testing.T) {
	d := realData(t)
	of, err := d.Train.CoarseOfClass()
	if err != nil {
		t.Fatal(err)
	}
	// The CIFAR-100 superclasses of a few fine classes (meta file of the dataset).
	for fine, coarse := range map[string]string{"apple": "fruit_and_vegetables", "otter": "aquatic_mammals",
		"pickup_truck": "vehicles_1", "maple_tree": "trees", "rocket": "vehicles_2"} {
		id := slices.Index(d.FineNames, fine)
		if got := d.Train.CoarseNames[of[id]]; got != coarse {
			t.Errorf("superclass of %s = %s, want %s", fine, got, coarse)
		}
	}
	per := make([]int, 20)
	for _, c := range of {
		per[c]++
	}
	for c, n := range per {
		if n != 5 {
			t.Errorf("superclass %s has %d fine classes, want 5", d.Train.CoarseNames[c], n)
		}
	}
	sub, err := d.Test.Subset(0, 55, 58)
	if err != nil {
		t.Fatal(err)
	}
	subOf, err := sub.CoarseOfClass()
	if err != nil || !slices.Equal(subOf, []int{of[0], of[55], of[58]}) || len(sub.CoarseNames) != 20 {
		t.Errorf("subset superclasses %v (%v), want %v and 20 names", subOf, err, []int{of[0], of[55], of[58]})
	}
	bad := &Set{Name: "bad", Labels: []int32{0, 0}, Coarse: []int32{1, 2}, ClassIDs: []int{0}, ClassNames: []string{"x"}}
	if _, err := bad.CoarseOfClass(); err == nil || !strings.Contains(err.Error(), `class "x" has images of coarse labels 1 and 2`) {
		t.Errorf("inconsistent coarse labels: %v", err)
	}
	if _, err := (&Set{Name: "c10"}).CoarseOfClass(); err == nil {
		t.Error("a set without coarse labels: no error")
	}
}
