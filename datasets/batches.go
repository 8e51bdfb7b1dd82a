package datasets

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/pkg/errors"
)

// Layout is the memory layout of a batch of images.
type Layout int

const (
	// NCHW is [batch, channels, height, width], the default (as in PyTorch and the lecture).
	NCHW Layout = iota
	// NHWC is [batch, height, width, channels] (channels last, as in TensorFlow).
	NHWC
)

// String returns "NCHW" or "NHWC".
func (l Layout) String() string {
	switch l {
	case NCHW:
		return "NCHW"
	case NHWC:
		return "NHWC"
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// DefaultBatchSize is the batch size used when BatchOptions.BatchSize is 0.
const DefaultBatchSize = 64

// AugmentPadding is the default zero padding of the random crop augmentation, in pixels: the
// crop moves the image by up to this many pixels on each axis.
const AugmentPadding = 4

// BatchOptions configures NewBatches.
type BatchOptions struct {
	// BatchSize is the number of images per batch; 0 means DefaultBatchSize (64).
	BatchSize int
	// Shuffle reorders the images at each epoch, deterministically from Seed and the epoch number.
	Shuffle bool
	// Seed seeds the shuffling and the augmentation: the same seed gives the same batches.
	Seed int64
	// DropLast drops the last batch of an epoch if it is smaller than BatchSize.
	DropLast bool
	// Augment applies a random crop with AugmentTranslate-pixel zero padding (a random translation
	// by −t…t pixels on each axis) and a random horizontal flip (p=½).
	Augment bool
	// AugmentTranslate is the largest translation of Augment in pixels, 0…16; 0 means AugmentPadding.
	AugmentTranslate int
	// AlternateFlip replaces Augment's random flip by airbench's alternating flip: each image has a
	// fair coin drawn once from Seed (FirstFlip), is mirrored in epoch 0 if it came up heads, and
	// is mirrored in every later epoch exactly when it was not in the one before — every image is
	// seen both ways in any two consecutive epochs. Needs Augment.
	AlternateFlip bool
	// Layout is NCHW (the default, zero value) or NHWC.
	Layout Layout
	// Workers is the number of goroutines preparing batches; 0 means runtime.GOMAXPROCS(0).
	Workers int
	// Prefetch is the number of batches prepared ahead of the consumer; 0 means 2×Workers.
	Prefetch int
}

// Batches serves a Set as float32 batches for GoMLX training and evaluation. It implements
// github.com/gomlx/gomlx/ml/train.Dataset: each Iter() call is one epoch, whose batches are
// prepared by parallel workers ahead of the consumer. Each train.Batch has
// Inputs = [float32 tensor [B,3,32,32] (NCHW) or [B,32,32,3] (NHWC), scaled to [0,1]] and
// Labels = [int32 tensor [B]].
//
// For evaluation, use Shuffle and Augment false: one Iter() is one pass over the set in order.
// Batches is safe for use by one consumer at a time.
type Batches struct {
	set   *Set
	opts  BatchOptions
	mu    sync.Mutex
	epoch int // Number of Iter() calls so far.
}

var _ train.Dataset = (*Batches)(nil)

// NewBatches returns the batches of s with the given options.
func NewBatches(s *Set, opts BatchOptions) (*Batches, error) {
	if s == nil || s.Len() == 0 {
		return nil, errors.New("batches: empty set")
	}
	if len(s.Pixels) != s.Len()*RecordPixels {
		return nil, errors.Errorf("batches of %s: %d pixel bytes for %d labels, want %d", s.Name,
			len(s.Pixels), s.Len(), s.Len()*RecordPixels)
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.AugmentTranslate < 0 || opts.AugmentTranslate > ImageSize/2 {
		return nil, errors.Errorf("batches of %s: augmentation translation %d pixels, want 0…%d", s.Name, opts.AugmentTranslate, ImageSize/2)
	}
	if opts.BatchSize < 0 {
		return nil, errors.Errorf("batches of %s: batch size %d must be positive", s.Name, opts.BatchSize)
	}
	if opts.AlternateFlip && !opts.Augment {
		return nil, errors.Errorf("batches of %s: the alternating flip needs Augment", s.Name)
	}
	if opts.Layout != NCHW && opts.Layout != NHWC {
		return nil, errors.Errorf("batches of %s: unknown layout %d", s.Name, opts.Layout)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Prefetch <= 0 {
		opts.Prefetch = 2 * opts.Workers
	}
	if opts.DropLast && s.Len() < opts.BatchSize {
		return nil, errors.Errorf("batches of %s: %d images, fewer than one batch of %d with DropLast",
			s.Name, s.Len(), opts.BatchSize)
	}
	return &Batches{set: s, opts: opts}, nil
}

// Name returns the name of the set, e.g. "train[0,55,58]".
func (b *Batches) Name() string { return b.set.Name }

// NumBatches returns the number of batches of one epoch.
func (b *Batches) NumBatches() int {
	n, size := b.set.Len(), b.opts.BatchSize
	if b.opts.DropLast {
		return n / size
	}
	return (n + size - 1) / size
}

// Epoch returns the number of epochs started so far (Iter() calls).
func (b *Batches) Epoch() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.epoch
}

// Order returns the order of the images in the given epoch: the identity without Shuffle, else a
// permutation determined by Seed and epoch.
func (b *Batches) Order(epoch int) []int {
	order := make([]int, b.set.Len())
	for i := range order {
		order[i] = i
	}
	if b.opts.Shuffle {
		rng := rand.New(rand.NewPCG(uint64(b.opts.Seed), uint64(epoch)))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}

// batchResult is a prepared batch.
type batchResult struct {
	batch train.Batch
	err   error
}

// Iter returns the batches of the next epoch. Breaking out of the loop stops the workers and frees
// the batches they prepared ahead.
func (b *Batches) Iter() iter.Seq2[train.Batch, error] {
	b.mu.Lock()
	epoch := b.epoch
	b.epoch++
	b.mu.Unlock()
	return func(yield func(train.Batch, error) bool) {
		b.run(epoch, yield)
	}
}

// run produces the batches of one epoch in order, built by parallel workers.
func (b *Batches) run(epoch int, yield func(train.Batch, error) bool) {
	order := b.Order(epoch)
	numBatches := b.NumBatches()
	results := make([]chan batchResult, numBatches)
	for i := range results {
		results[i] = make(chan batchResult, 1)
	}
	done := make(chan struct{})
	slots := make(chan struct{}, b.opts.Prefetch) // Bounds the batches prepared ahead.
	jobs := make(chan int)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(jobs)
		for j := range numBatches {
			select {
			case slots <- struct{}{}:
			case <-done:
				return
			}
			select {
			case jobs <- j:
			case <-done:
				return
			}
		}
	})
	for range b.opts.Workers {
		wg.Go(func() {
			for j := range jobs {
				results[j] <- b.build(epoch, j, order)
			}
		})
	}
	defer func() {
		close(done)
		wg.Wait()
		for _, ch := range results { // Free batches prepared but not consumed.
			select {
			case r := <-ch:
				if r.err == nil {
					_ = r.batch.Finalize()
				}
			default:
			}
		}
	}()
	for j := range numBatches {
		r := <-results[j]
		<-slots
		if !yield(r.batch, r.err) || r.err != nil {
			return
		}
	}
}

// build prepares batch j of the epoch from the images order[j*B:(j+1)*B].
func (b *Batches) build(epoch, j int, order []int) (r batchResult) {
	size := b.opts.BatchSize
	indices := order[j*size : min((j+1)*size, len(order))]
	n := len(indices)
	var inputs *tensors.Tensor
	if b.opts.Layout == NHWC {
		inputs = tensors.FromShape(shapes.Make(dtypes.Float32, n, ImageSize, ImageSize, Channels))
	} else {
		inputs = tensors.FromShape(shapes.Make(dtypes.Float32, n, Channels, ImageSize, ImageSize))
	}
	labels := make([]int32, n)
	var rng *rand.Rand
	if b.opts.Augment {
		// Seeded per (seed, epoch, batch) so the result does not depend on which worker builds it.
		rng = rand.New(rand.NewPCG(uint64(b.opts.Seed)^0x9e3779b97f4a7c15, uint64(epoch)<<32|uint64(j)))
	}
	err := tensors.MutableFlatData(inputs, func(flat []float32) {
		for k, idx := range indices {
			labels[k] = b.set.Labels[idx]
			dst := flat[k*RecordPixels : (k+1)*RecordPixels]
			src := b.set.Record(idx)
			if rng != nil {
				t := b.translate()
				dy, dx, flip := rng.IntN(2*t+1)-t, rng.IntN(2*t+1)-t, rng.IntN(2) == 1
				if b.opts.AlternateFlip { // The random flip is still drawn: the translations stay the same.
					flip = b.FlipAt(epoch, idx)
				}
				augmentInto(dst, src, b.opts.Layout, dy, dx, flip)
			} else {
				convertInto(dst, src, b.opts.Layout)
			}
		}
	})
	if err != nil {
		_ = inputs.FinalizeAll()
		return batchResult{err: errors.WithMessagef(err, "batch %d of %s", j, b.set.Name)}
	}
	return batchResult{batch: train.Batch{
		Inputs: []*tensors.Tensor{inputs},
		Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(labels, n)},
	}}
}

// toUnit maps a byte to [0,1].
var toUnit = func() (table [256]float32) {
	for i := range table {
		table[i] = float32(i) / 255
	}
	return table
}()

// convertInto writes the CHW record src into dst (3072 float32 in [0,1]) in the given layout.
func convertInto(dst []float32, src []uint8, layout Layout) {
	if layout == NCHW {
		for i, v := range src {
			dst[i] = toUnit[v]
		}
		return
	}
	const planeSize = ImageSize * ImageSize
	for c := range Channels {
		plane := src[c*planeSize : (c+1)*planeSize]
		for p, v := range plane {
			dst[p*Channels+c] = toUnit[v]
		}
	}
}

// FirstFlip reports whether the alternating flip (BatchOptions.AlternateFlip) mirrors image i of
// the set in epoch 0: a fair coin per image, determined by Seed and i.
func (b *Batches) FirstFlip(i int) bool {
	z := uint64(b.opts.Seed)*0x9e3779b97f4a7c15 + uint64(i) + 0x632be59bd9b4e019 // splitmix64
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return (z^z>>31)&1 == 1
}

// FlipAt reports whether the alternating flip mirrors image i of the set in epoch (0-based):
// FirstFlip(i) in even epochs, its opposite in odd ones.
func (b *Batches) FlipAt(epoch, i int) bool {
	return b.FirstFlip(i) != (epoch%2 == 1)
}

// translate returns the largest translation of the augmentation.
func (b *Batches) translate() int {
	if b.opts.AugmentTranslate > 0 {
		return b.opts.AugmentTranslate
	}
	return AugmentPadding
}

// augmentInto writes into dst the 32×32 window at offset (dy, dx) of the record src (the crop of
// the zero-padded image, e.g. 40×40 at (4+dy, 4+dx) for the default padding), then flipped horizontally if flip. Output pixel
// (y, x) is source pixel (y+dy, x'+dx), x' = x or 31-x when flipped, or 0 outside the image.
func augmentInto(dst []float32, src []uint8, layout Layout, dy, dx int, flip bool) {
	const planeSize = ImageSize * ImageSize
	// Output columns x whose source column x'+dx lies inside the image.
	x0, x1 := max(0, -dx), min(ImageSize, ImageSize-dx)
	if flip {
		x0, x1 = max(0, dx), min(ImageSize, ImageSize+dx)
	}
	for c := range Channels {
		plane := src[c*planeSize : (c+1)*planeSize]
		for y := range ImageSize {
			sy := y + dy
			for x := range ImageSize {
				var v float32
				if sy >= 0 && sy < ImageSize && x >= x0 && x < x1 {
					sx := x + dx
					if flip {
						sx = ImageSize - 1 - x + dx
					}
					v = toUnit[plane[sy*ImageSize+sx]]
				}
				if layout == NCHW {
					dst[c*planeSize+y*ImageSize+x] = v
				} else {
					dst[(y*ImageSize+x)*Channels+c] = v
				}
			}
		}
	}
}
