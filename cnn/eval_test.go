package cnn

import (
	"math"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/internal/testkit"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
)

// mirrorImages returns the NCHW images [n,3,32,32] of data flipped horizontally.
func mirrorImages(data []float32, n int) []float32 {
	out := make([]float32, len(data))
	for i := range n * 3 * 32 {
		for x := range 32 {
			out[i*32+x] = data[i*32+31-x]
		}
	}
	return out
}

// shiftImages returns the n NCHW 32×32 images of data shifted by (dy, dx) ∈ {−1, 0, 1}² with the
// edge reflected in: out[c][y][x] = in[c][r(y+dy)][r(x+dx)], r(−1) = 1, r(32) = 30 (PyTorch's
// reflect padding by 1, then the crop at offset (1+dy, 1+dx)).
func shiftImages(data []float32, n, dy, dx int) []float32 {
	r := func(i int) int {
		switch {
		case i < 0:
			return -i
		case i > 31:
			return 62 - i
		}
		return i
	}
	out := make([]float32, len(data))
	for p := range n * 3 {
		for y := range 32 {
			for x := range 32 {
				out[p*1024+y*32+x] = data[p*1024+r(y+dy)*32+r(x+dx)]
			}
		}
	}
	return out
}

// TestTTA checks every test-time augmentation against the model's plain logits of its views
// computed separately on the host: TTAFlip is the mean of the image's and its mirror's logits,
// TTAFlipTranslate ½ that plus ¼ each of the same for the image shifted up-left and down-right by
// one pixel (reflected edges); switching back to TTANone gives the plain logits again.
func TestTTA(t *testing.T) {
	testkit.ForEachBackend(t, func(t *testing.T, b compute.Backend) {
		tr, err := NewTrained(LectureCNN(3), 4)
		if err != nil {
			t.Fatal(err)
		}
		const n = 4
		set := testkit.SyntheticSet(n, 9)
		images := ImagesTensor(set, 0, n, n)
		data := tensors.MustCopyFlatData[float32](images)
		e := NewEvaluator(b, tr)
		view := func(d []float32) []float32 {
			l, err := e.Logits(tensors.FromFlatDataAndDimensions(d, n, 3, 32, 32))
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		flipMean := func(d []float32) []float32 {
			a, m := view(d), view(mirrorImages(d, n))
			for i := range a {
				a[i] = (a[i] + m[i]) / 2
			}
			return a
		}
		plain := view(data)
		flip := flipMean(data)
		upLeft, downRight := flipMean(shiftImages(data, n, -1, -1)), flipMean(shiftImages(data, n, 1, 1))
		translate := make([]float32, len(flip))
		for i := range flip {
			translate[i] = flip[i]/2 + (upLeft[i]+downRight[i])/4
		}
		for _, tc := range []struct {
			tta  TTA
			want []float32
		}{{TTAFlip, flip}, {TTAFlipTranslate, translate}, {TTANone, plain}} {
			got, err := e.WithTTA(tc.tta).Logits(images)
			if err != nil {
				t.Fatal(err)
			}
			worst, differs := 0.0, false
			for i := range got {
				worst = math.Max(worst, math.Abs(float64(got[i]-tc.want[i])))
				differs = differs || got[i] != plain[i]
			}
			if worst > 1e-6 || differs != (tc.tta != TTANone) {
				t.Errorf("%s TTA logits differ from the host's mean of the views by %g (differ from plain: %v)", tc.tta, worst, differs)
			}
		}
	})
}

// TestParseTTA checks the names of the test-time augmentations both ways and the error naming a
// bad one.
func TestParseTTA(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tta   TTA
		views int
	}{{"none", TTANone, 1}, {"flip", TTAFlip, 2}, {"flip-translate", TTAFlipTranslate, 6}} {
		got, err := ParseTTA(tc.name)
		if err != nil || got != tc.tta || got.String() != tc.name || got.Views() != tc.views {
			t.Errorf("ParseTTA(%q) = %v (%d views), %v; want %v, %d views", tc.name, got, got.Views(), err, tc.tta, tc.views)
		}
	}
	if _, err := ParseTTA("mirror"); err == nil || !strings.Contains(err.Error(), `"mirror"`) || !strings.Contains(err.Error(), "flip-translate") {
		t.Errorf("ParseTTA(mirror): error %v, want one naming the value and the choices", err)
	}
}

func TestInTopK(t *testing.T) {
	row := []float32{0.1, 0.9, 0.3, 0.3, 0.5, 0.2, 0.0}
	for _, tc := range []struct {
		label, k int
		want     bool
	}{
		{1, 1, true}, {4, 1, false}, {4, 2, true}, {2, 3, true}, {3, 3, true}, {0, 5, false}, {0, 6, true}, {6, 6, false},
	} {
		if got := inTopK(row, tc.label, tc.k); got != tc.want {
			t.Errorf("inTopK(label %d, k %d) = %v, want %v", tc.label, tc.k, got, tc.want)
		}
	}
}
