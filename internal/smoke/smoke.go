// Package smoke runs a small, fixed convolutional network forward and backward on a backend, so
// that the set-up (XLA plugin, toolchain) can be checked and different backends compared.
package smoke

import (
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	timage "github.com/gomlx/gomlx/core/tensors/images"
	"github.com/pkg/errors"
)

// Result holds the outputs of one forward and backward pass of the smoke network.
type Result struct {
	// Loss is the mean squared output of the network.
	Loss float32
	// Gradients are the flattened gradients of Loss with respect to the two kernels and the dense weights.
	Gradients []float32
}

// Shapes of the smoke network: a batch of 4 RGB 16×16 images, conv 3→8 (k3, stride 2, pad 1),
// ReLU, conv 8→16 (k3, pad 1), ReLU, 2×2 mean pool, dense 256→10.
const (
	batch, channels, size = 4, 3, 16
)

// deterministic fills n values in [-scale, scale) from a fixed linear congruential sequence.
func deterministic(n int, seed uint32, scale float32) []float32 {
	values := make([]float32, n)
	state := seed
	for i := range values {
		state = state*1664525 + 1013904223
		values[i] = (float32(state>>8)/float32(1<<24)*2 - 1) * scale
	}
	return values
}

// Run executes the smoke network once on b and returns its loss and gradients.
func Run(b compute.Backend) (result Result, err error) {
	x := tensors.FromFlatDataAndDimensions(deterministic(batch*channels*size*size, 1, 1), batch, channels, size, size)
	k1 := tensors.FromFlatDataAndDimensions(deterministic(8*3*3*3, 2, 0.3), 8, 3, 3, 3)
	k2 := tensors.FromFlatDataAndDimensions(deterministic(16*8*3*3, 3, 0.2), 16, 8, 3, 3)
	w := tensors.FromFlatDataAndDimensions(deterministic(256*10, 4, 0.1), 256, 10)
	outputs, err := graph.ExecOnceN(b, network, x, k1, k2, w)
	if err != nil {
		return result, errors.WithMessagef(err, "running the smoke network on backend %s", b.Name())
	}
	result.Loss = tensors.MustCopyFlatData[float32](outputs[0])[0]
	for _, g := range outputs[1:] {
		result.Gradients = append(result.Gradients, tensors.MustCopyFlatData[float32](g)...)
	}
	return result, nil
}

// network is the graph function: it returns the loss followed by the gradients of k1, k2 and w.
func network(x, k1, k2, w *graph.Node) []*graph.Node {
	relu := func(n *graph.Node) *graph.Node { return graph.Max(n, graph.ZerosLike(n)) }
	y := graph.Convolve(x, k1).ChannelsAxis(timage.ChannelsFirst).Strides(2).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	y = relu(y)
	y = graph.Convolve(y, k2).ChannelsAxis(timage.ChannelsFirst).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
	y = relu(y)
	y = graph.MeanPool(y).ChannelsAxis(timage.ChannelsFirst).Window(2).Done()
	y = graph.Reshape(y, batch, -1)
	logits := graph.Dot(y, w).Product()
	loss := graph.ReduceAllMean(graph.Square(logits))
	return append([]*graph.Node{loss}, graph.Gradient(loss, k1, k2, w)...)
}

// MaxAbsDiff returns the largest absolute difference between the losses and gradients of a and b.
// It returns +Inf if they have different numbers of gradients.
func MaxAbsDiff(a, b Result) float64 {
	if len(a.Gradients) != len(b.Gradients) {
		return math.Inf(1)
	}
	diff := math.Abs(float64(a.Loss - b.Loss))
	for i := range a.Gradients {
		diff = max(diff, math.Abs(float64(a.Gradients[i]-b.Gradients[i])))
	}
	return diff
}
