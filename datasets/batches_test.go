package datasets

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
)

// epochContents collects the labels and flat inputs of one epoch, finalizing the tensors.
func epochContents(t *testing.T, b *Batches) (dims [][]int, labels [][]int32, inputs [][]float32) {
	t.Helper()
	for batch, err := range b.Iter() {
		if err != nil {
			t.Fatal(err)
		}
		dims = append(dims, batch.Inputs[0].Shape().Dimensions)
		inputs = append(inputs, tensors.MustCopyFlatData[float32](batch.Inputs[0]))
		labels = append(labels, tensors.MustCopyFlatData[int32](batch.Labels[0]))
		if err := batch.Finalize(); err != nil {
			t.Fatal(err)
		}
	}
	return dims, labels, inputs
}

func TestBatchesShapesAndValues(t *testing.T) {
	s := smallSet(t, 10)
	tests := []struct {
		name      string
		opts      BatchOptions
		wantDims  [][]int
		wantOrder []int // Image order without shuffling.
	}{
		{"partial last NCHW", BatchOptions{BatchSize: 4}, [][]int{{4, 3, 32, 32}, {4, 3, 32, 32}, {2, 3, 32, 32}}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"drop last NHWC", BatchOptions{BatchSize: 4, DropLast: true, Layout: NHWC}, [][]int{{4, 32, 32, 3}, {4, 32, 32, 3}}, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{"default size", BatchOptions{}, [][]int{{10, 3, 32, 32}}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBatches(s, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			dims, labels, inputs := epochContents(t, b)
			if !slices.EqualFunc(dims, tc.wantDims, slices.Equal) || b.NumBatches() != len(tc.wantDims) {
				t.Fatalf("dims %v (NumBatches %d), want %v", dims, b.NumBatches(), tc.wantDims)
			}
			k := 0
			for j := range labels {
				for i := range labels[j] {
					idx := tc.wantOrder[k]
					k++
					if labels[j][i] != s.Labels[idx] {
						t.Fatalf("batch %d image %d: label %d, want %d", j, i, labels[j][i], s.Labels[idx])
					}
					// Pixel (y=3, x=7) of channel 2.
					got := inputs[j][i*RecordPixels+2*1024+3*32+7]
					if tc.opts.Layout == NHWC {
						got = inputs[j][i*RecordPixels+(3*32+7)*3+2]
					}
					if want := float32(s.Record(idx)[2*1024+3*32+7]) / 255; got != want {
						t.Fatalf("batch %d image %d: pixel %v, want %v", j, i, got, want)
					}
				}
			}
		})
	}
	for _, tc := range []struct {
		opts     BatchOptions
		wantErrs []string
	}{
		{BatchOptions{BatchSize: -1}, []string{"batch size -1"}},
		{BatchOptions{BatchSize: 11, DropLast: true}, []string{"10 images, fewer than one batch of 11"}},
		{BatchOptions{Layout: Layout(7)}, []string{"unknown layout 7"}},
	} {
		_, err := NewBatches(s, tc.opts)
		wantErr(t, err, tc.wantErrs...)
	}
}

func TestBatchesShuffleDeterministic(t *testing.T) {
	s := smallSet(t, 37)
	opts := BatchOptions{BatchSize: 8, Shuffle: true, Seed: 42, Augment: true}
	a, _ := NewBatches(s, opts)
	b, _ := NewBatches(s, opts)
	_, la0, ia0 := epochContents(t, a)
	_, lb0, ib0 := epochContents(t, b)
	if !slices.EqualFunc(la0, lb0, slices.Equal) || !slices.EqualFunc(ia0, ib0, slices.Equal) {
		t.Fatal("same seed gave different first epochs")
	}
	_, la1, _ := epochContents(t, a)
	if slices.EqualFunc(la0, la1, slices.Equal) {
		t.Fatal("epochs 0 and 1 have the same order")
	}
	if a.Epoch() != 2 {
		t.Fatalf("Epoch() = %d after two epochs", a.Epoch())
	}
	order := a.Order(0)
	sorted := slices.Sorted(slices.Values(order))
	if !slices.Equal(sorted, identity(37)) {
		t.Fatalf("order of epoch 0 is not a permutation: %v", order)
	}
	if slices.Equal(order, identity(37)) {
		t.Fatal("shuffled order is the identity")
	}
	c, _ := NewBatches(s, BatchOptions{BatchSize: 8, Shuffle: true, Seed: 43})
	if slices.Equal(c.Order(0), order) {
		t.Fatal("seeds 42 and 43 give the same order")
	}
}

// identity returns 0..n-1.
func identity(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestAugmentInto(t *testing.T) {
	src := make([]uint8, RecordPixels)
	for i := range src {
		src[i] = uint8(i % 255)
	}
	pixel := func(c, y, x int) float32 { return float32(src[c*1024+y*32+x]) / 255 }
	tests := []struct {
		name   string
		dy, dx int
		flip   bool
		y, x   int
		want   float32
	}{
		{"no shift", 0, 0, false, 5, 6, pixel(1, 5, 6)},
		{"shift", 2, -3, false, 5, 6, pixel(1, 7, 3)},
		{"padding top", -4, 0, false, 2, 6, 0},
		{"padding right", 0, 4, false, 5, 30, 0},
		{"flip", 0, 0, true, 5, 6, pixel(1, 5, 25)},
		{"shift then flip", 1, 2, true, 5, 6, pixel(1, 6, 27)},
	}
	for _, tc := range tests {
		for _, layout := range []Layout{NCHW, NHWC} {
			dst := make([]float32, RecordPixels)
			augmentInto(dst, src, layout, tc.dy, tc.dx, tc.flip)
			got := dst[1024+tc.y*32+tc.x]
			if layout == NHWC {
				got = dst[(tc.y*32+tc.x)*3+1]
			}
			if got != tc.want {
				t.Errorf("%s %s: pixel (%d,%d) = %v, want %v", tc.name, layout, tc.y, tc.x, got, tc.want)
			}
		}
	}
}

func TestBatchesEarlyBreak(t *testing.T) {
	s := smallSet(t, 200)
	b, _ := NewBatches(s, BatchOptions{BatchSize: 2, Workers: 2, Prefetch: 4})
	before := runtime.NumGoroutine()
	for range 5 {
		for batch, err := range b.Iter() {
			if err != nil {
				t.Fatal(err)
			}
			_ = batch.Finalize()
			break
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after breaking out of 5 epochs, %d before", n, before)
	}
}

// TestAugmentTranslate checks that AugmentTranslate bounds the random translation: on images with
// no zero pixel, the zero border an augmented image gets is at most t rows (columns) on a side, and
// over 128 images t itself occurs.
func TestAugmentTranslate(t *testing.T) {
	s := smallSet(t, 128)
	for i := range s.Pixels {
		s.Pixels[i] = 255
	}
	for _, tc := range []struct{ translate, want int }{{1, 1}, {2, 2}, {0, AugmentPadding}} {
		b, err := NewBatches(s, BatchOptions{BatchSize: 32, Seed: 3, Augment: true, AugmentTranslate: tc.translate})
		if err != nil {
			t.Fatal(err)
		}
		_, _, inputs := epochContents(t, b)
		widest := 0
		for _, batch := range inputs {
			for k := 0; k < len(batch); k += RecordPixels {
				img := batch[k : k+RecordPixels] // NCHW; channel 0 is enough.
				top := 0
				for top < ImageSize && img[top*ImageSize+ImageSize/2] == 0 {
					top++
				}
				bottom := 0
				for bottom < ImageSize && img[(ImageSize-1-bottom)*ImageSize+ImageSize/2] == 0 {
					bottom++
				}
				widest = max(widest, top, bottom)
			}
		}
		if widest != tc.want {
			t.Errorf("AugmentTranslate %d: widest zero border %d rows, want %d", tc.translate, widest, tc.want)
		}
	}
	for _, bad := range []int{-1, ImageSize/2 + 1} {
		if _, err := NewBatches(s, BatchOptions{BatchSize: 32, Augment: true, AugmentTranslate: bad}); err == nil {
			t.Errorf("AugmentTranslate %d: want an error", bad)
		}
	}
}

// TestAlternateFlip checks airbench's alternating flip: every image's flip changes from one epoch
// to the next, about half the images start mirrored, the coins depend on the seed, the batches
// hold exactly the translations of the random-flip augmentation with FlipAt's flips, and the
// option is refused without Augment.
func TestAlternateFlip(t *testing.T) {
	s := smallSet(t, 96)
	const seed, translate = 5, 2
	b, err := NewBatches(s, BatchOptions{BatchSize: 32, Shuffle: true, Seed: seed, Augment: true, AugmentTranslate: translate, AlternateFlip: true})
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewBatches(s, BatchOptions{BatchSize: 32, Seed: seed + 1, Augment: true, AlternateFlip: true})
	if err != nil {
		t.Fatal(err)
	}
	heads, differ := 0, 0
	const n = 10000
	for i := range n {
		for epoch := range 4 {
			if b.FlipAt(epoch, i) == b.FlipAt(epoch+1, i) {
				t.Fatalf("image %d: flip %v in epoch %d and in epoch %d, want it to alternate", i, b.FlipAt(epoch, i), epoch, epoch+1)
			}
		}
		if b.FirstFlip(i) {
			heads++
		}
		if b.FirstFlip(i) != other.FirstFlip(i) {
			differ++
		}
	}
	if heads < n*47/100 || heads > n*53/100 {
		t.Errorf("%d of %d images mirrored in epoch 0, want about half", heads, n)
	}
	if differ < n*47/100 || differ > n*53/100 {
		t.Errorf("seeds %d and %d give the same first flip for %d of %d images, want about half", seed, seed+1, n-differ, n)
	}
	for epoch := range 3 {
		order := b.Order(epoch)
		_, _, inputs := epochContents(t, b)
		for j, batch := range inputs {
			rng := rand.New(rand.NewPCG(uint64(seed)^0x9e3779b97f4a7c15, uint64(epoch)<<32|uint64(j)))
			want := make([]float32, RecordPixels)
			for k := range len(batch) / RecordPixels {
				idx := order[j*32+k]
				dy, dx := rng.IntN(2*translate+1)-translate, rng.IntN(2*translate+1)-translate
				rng.IntN(2) // The random flip's coin, drawn and not used.
				augmentInto(want, s.Record(idx), NCHW, dy, dx, b.FlipAt(epoch, idx))
				if !slices.Equal(batch[k*RecordPixels:(k+1)*RecordPixels], want) {
					t.Fatalf("epoch %d, batch %d, image %d (set index %d): not its translation by (%d, %d) with flip %v", epoch, j, k, idx, dy, dx, b.FlipAt(epoch, idx))
				}
			}
		}
	}
	if _, err := NewBatches(s, BatchOptions{BatchSize: 32, AlternateFlip: true}); err == nil || !strings.Contains(err.Error(), "needs Augment") {
		t.Errorf("AlternateFlip without Augment: error %v, want one saying it needs Augment", err)
	}
}
