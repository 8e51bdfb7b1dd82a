package cnn

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/cnnlab/cnnlab/datasets"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// TestChannelsLastEqual checks that running the convolutions in NHWC (GraphOptions.ChannelsLast),
// with the backend's convolution or with im2col (ConvMethod), gives the NCHW results within 1e-5:
// logits, activations of a prefix, and the weights after training steps, on every backend, for
// both lecture CNNs and the residual network with BatchNorm2d.
func TestChannelsLastEqual(t *testing.T) {
	t.Parallel()
	set := syntheticSet(48, 3)
	for name, b := range newBackends(t) {
		for _, m := range []*Model{LectureCNN(3), LectureCNNMaxPool(3), ResNetMini(3)} {
			t.Run(name+"/"+m.Name, func(t *testing.T) {
				run := func(channelsLast bool, method string) (logits, acts, weights []float32) {
					o := PlainGraphOptions()
					o.ChannelsLast, o.ConvMethod = channelsLast, method
					return trainAndProbe(t, b, m, o, set, 1, 8, 4)
				}
				l0, a0, w0 := run(false, ConvNative)
				for _, method := range []string{ConvNative, ConvIm2col, ConvAuto} {
					l1, a1, w1 := run(true, method)
					checkClosePairs(t, "NCHW and NHWC with "+method, map[string][2][]float32{
						"logits": {l0, l1}, "activations": {a0, a1}, "weights": {w0, w1}})
				}
			})
		}
	}
}

// TestPoolReshapeEqual checks that average pooling as a reshape and a mean (PoolReshape) gives the
// reduce-window pooling's results within 1e-5: logits, activations up to the pooling and the
// weights after training steps (its gradient differs), on every backend.
func TestPoolReshapeEqual(t *testing.T) {
	t.Parallel()
	set := syntheticSet(48, 3)
	for name, b := range newBackends(t) {
		t.Run(name, func(t *testing.T) {
			run := func(reshape bool) (logits, acts, weights []float32) {
				o := DefaultGraphOptions(b)
				o.PoolReshape = reshape
				return trainAndProbe(t, b, LectureCNN(3), o, set, 2, 8, 6)
			}
			l0, a0, w0 := run(false)
			l1, a1, w1 := run(true)
			checkClosePairs(t, "reduce-window and reshape pooling", map[string][2][]float32{
				"logits": {l0, l1}, "activations": {a0, a1}, "weights": {w0, w1}})
		})
	}
}

// TestBatchSplitEqual checks that splitting the batch — the training step's forward pass into chunks
// of at most ForwardChunk images (16 in chunks of 5, 5 and 6 for ForwardChunk 6), each convolution
// into ConvBatchSplit chunks (also in inference) — gives the unsplit results within 1e-5: logits,
// activations and the weights after training steps (the kernel gradients are sums over the chunks),
// on every backend. For the model with BatchNorm2d the weights include its running statistics:
// forward chunks are not applied to it, convolution splits do not change its statistics.
func TestBatchSplitEqual(t *testing.T) {
	t.Parallel()
	set := syntheticSet(48, 3)
	for name, b := range newBackends(t) {
		for _, m := range []*Model{LectureCNN(3), ResNetMini(3)} {
			t.Run(name+"/"+m.Name, func(t *testing.T) {
				run := func(chunk, split int) (logits, acts, weights []float32) {
					o := DefaultGraphOptions(b)
					o.ForwardChunk, o.ConvBatchSplit, o.ConvMinChunk = chunk, split, 4
					return trainAndProbe(t, b, m, o, set, 2, 40, 4)
				}
				l0, a0, w0 := run(0, 1)
				for _, c := range []struct{ chunk, split int }{{0, 2}, {0, 3}, {6, 1}, {6, 2}, {8, 2}} {
					l1, a1, w1 := run(c.chunk, c.split)
					checkClosePairs(t, fmt.Sprintf("unsplit and split (forward chunks ≤ %d, convolutions in %d)", c.chunk, c.split),
						map[string][2][]float32{"logits": {l0, l1}, "activations": {a0, a1}, "weights": {w0, w1}})
				}
			})
		}
	}
}

// TestBatchSplitWhere checks the per-backend defaults and where the batch is split: only batches
// large enough (TestBatchSplitEqual would pass trivially if nothing were ever split), and never the
// forward pass of a model with batch statistics.
func TestBatchSplitWhere(t *testing.T) {
	t.Parallel()
	backends := newBackends(t)
	for _, c := range []struct {
		backend string
		batch   int
		want    int
	}{{"xla:cpu", 128, 2}, {"xla:cpu", 32, 2}, {"xla:cpu", 16, 1}, {"go", 128, 1}} {
		g := graph.NewGraph(backends[c.backend], "split")
		x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, c.batch, 8, 8, 32))
		if got := convBatchChunks(DefaultGraphOptions(backends[c.backend]), x); got != c.want {
			t.Errorf("%s, batch %d: convolution in %d chunks, want %d", c.backend, c.batch, got, c.want)
		}
		g.Finalize()
	}
	if DefaultGraphOptions(backends["xla:cpu"]).ForwardChunk != 64 || DefaultGraphOptions(backends["go"]).ForwardChunk != 0 {
		t.Error("ForwardChunk defaults: want 64 on xla:cpu, 0 on go")
	}
	if LectureCNN(3).couplesBatch() || !ResNetMini(3).couplesBatch() {
		t.Error("couplesBatch: want false for the lecture CNN, true for ResNetMini")
	}
}

// trainAndProbe trains a fresh m (seed 3) with graph options o on set for a few epochs
// (quickConfig) and returns the logits and the activations of its first actLayers layers on the
// first n images, and every weight and buffer.
func trainAndProbe(t *testing.T, b compute.Backend, m *Model, o GraphOptions, set *datasets.Set, epochs, n, actLayers int) (logits, acts, weights []float32) {
	t.Helper()
	tr, err := NewTrained(m, 3)
	if err != nil {
		t.Fatal(err)
	}
	tr.Options = &o
	if _, err := Train(context.Background(), b, tr, set, nil, quickConfig(epochs)); err != nil {
		t.Fatal(err)
	}
	images := ImagesTensor(set, 0, n, n)
	if logits, err = NewEvaluator(b, tr).Logits(images); err != nil {
		t.Fatal(err)
	}
	if acts, _, err = Activations(b, tr, actLayers, images); err != nil {
		t.Fatal(err)
	}
	return logits, acts, allWeights(t, tr)
}

// rewriteTolerance bounds the difference between two graphs computing the same thing in another
// order (layout, pooling formulation): float32 rounding accumulated over a few training steps.
const rewriteTolerance = 1e-5

// checkClosePairs fails the test when any pair of value lists (by name) differs in length or by more
// than rewriteTolerance; what names the two variants compared.
func checkClosePairs(t *testing.T, what string, pairs map[string][2][]float32) {
	t.Helper()
	for name, pair := range pairs {
		if len(pair[0]) != len(pair[1]) {
			t.Fatalf("%s: %d vs %d values", name, len(pair[0]), len(pair[1]))
		}
		worst := 0.0
		for i := range pair[0] {
			worst = math.Max(worst, math.Abs(float64(pair[0][i]-pair[1][i])))
		}
		if worst > rewriteTolerance {
			t.Errorf("%s: %s differ by %g > %g", name, what, worst, rewriteTolerance)
		}
	}
}
