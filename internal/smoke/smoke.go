// Package smoke runs a small, fixed convolutional network forward and backward on a backend, so
// that the set-up (XLA plugin, toolchain) can be checked and different backends compared.
package smoke

import (
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/distributed"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/dtensor"
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
	in := inputs()
	outputs, err := graph.ExecOnceN(b, network, in[0], in[1], in[2], in[3])
	if err != nil {
		return result, errors.WithMessagef(err, "running the smoke network on backend %s", b.Name())
	}
	return collect(outputs)
}

// inputs returns the smoke network's images x and weights k1, k2 and w.
func inputs() []*tensors.Tensor {
	return []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(deterministic(batch*channels*size*size, 1, 1), batch, channels, size, size),
		tensors.FromFlatDataAndDimensions(deterministic(8*3*3*3, 2, 0.3), 8, 3, 3, 3),
		tensors.FromFlatDataAndDimensions(deterministic(16*8*3*3, 3, 0.2), 16, 8, 3, 3),
		tensors.FromFlatDataAndDimensions(deterministic(256*10, 4, 0.1), 256, 10),
	}
}

// collect copies the loss and the gradients of the network's outputs to a Result.
func collect(outputs []*tensors.Tensor) (result Result, err error) {
	loss, err := tensors.CopyFlatData[float32](outputs[0])
	if err != nil {
		return result, errors.WithMessage(err, "reading the smoke network's loss")
	}
	result.Loss = loss[0]
	for i, g := range outputs[1:] {
		values, err := tensors.CopyFlatData[float32](g)
		if err != nil {
			return result, errors.WithMessagef(err, "reading the smoke network's gradient %d", i)
		}
		result.Gradients = append(result.Gradients, values...)
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

// RunSharded executes the smoke network once with its batch of 4 images split across devices
// devices of b (XLA's AutoSharding: the kernels and weights replicated, the batch sharded; XLA
// reduces the gradients over the devices), and returns the first device's loss and gradients:
// they equal Run's to float rounding. devices must divide the batch of 4 and not exceed
// b.NumDevices(); 1 is Run.
func RunSharded(b compute.Backend, devices int) (result Result, err error) {
	switch {
	case devices < 1 || devices > b.NumDevices():
		return result, errors.Errorf("devices %d: backend %s has %d device(s)", devices, b.Name(), b.NumDevices())
	case batch%devices != 0:
		return result, errors.Errorf("devices %d: the smoke network's batch of %d images is not divisible by %d", devices, batch, devices)
	case devices == 1:
		return Run(b)
	}
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("running the smoke network on %d devices of backend %s: %v", devices, b.Name(), r)
		}
	}()
	mesh, err := distributed.NewDeviceMesh([]int{devices}, []string{"data"})
	if err != nil {
		return result, errors.WithMessagef(err, "mesh of %d devices", devices)
	}
	batchSpec, err := distributed.BuildSpec(mesh).S("data").Done()
	if err != nil {
		return result, errors.WithMessage(err, "sharding spec of the batch")
	}
	replicated := distributed.NewReplicatedShardingSpec(mesh)
	exec, err := graph.NewExec(b, network)
	if err != nil {
		return result, errors.WithMessagef(err, "smoke network on backend %s", b.Name())
	}
	defer exec.Finalize()
	exec = exec.AutoSharding(mesh).WithInputShardingSpecs(batchSpec, replicated).WithOutputShardingSpecs(replicated)
	args := make([]any, 4)
	for i, t := range inputs() {
		spec := replicated
		if i == 0 {
			spec = batchSpec
		}
		if args[i], err = dtensor.ShardTensor(spec, t); err != nil {
			return result, errors.WithMessagef(err, "splitting input %d over %d devices", i, devices)
		}
	}
	outputs, err := exec.DistributedCall(args...)
	if err != nil {
		return result, errors.WithMessagef(err, "running the smoke network on %d devices of backend %s", devices, b.Name())
	}
	first := make([]*tensors.Tensor, len(outputs))
	for i, o := range outputs {
		first[i] = o.Shards()[0]
	}
	return collect(first)
}
