package cnn

import (
	"math"
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

// TestFlipTTA checks that with WithFlipTTA the logits are the mean of those of the images and of
// their mirrors computed separately, and that turning it off gives the plain logits again.
func TestFlipTTA(t *testing.T) {
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
		plain, err := e.Logits(images)
		if err != nil {
			t.Fatal(err)
		}
		mirrored, err := e.Logits(tensors.FromFlatDataAndDimensions(mirrorImages(data, n), n, 3, 32, 32))
		if err != nil {
			t.Fatal(err)
		}
		tta, err := e.WithFlipTTA(true).Logits(images)
		if err != nil {
			t.Fatal(err)
		}
		worst, differs := 0.0, false
		for i := range tta {
			worst = math.Max(worst, math.Abs(float64(tta[i]-(plain[i]+mirrored[i])/2)))
			differs = differs || plain[i] != mirrored[i]
		}
		if worst > 1e-6 || !differs {
			t.Errorf("TTA logits differ from the mean of plain and mirrored by %g (mirror changes the logits: %v)", worst, differs)
		}
		again, err := e.WithFlipTTA(false).Logits(images)
		if err != nil {
			t.Fatal(err)
		}
		for i := range again {
			if again[i] != plain[i] {
				t.Fatalf("logits after turning TTA off differ at %d: %g vs %g", i, again[i], plain[i])
			}
		}
	})
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
