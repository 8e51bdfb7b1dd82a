package cnn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	timage "github.com/gomlx/gomlx/core/tensors/images"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// ModelScope is the store scope under which the layers' variables live: /model/<layer scope>/weight.
const ModelScope = "model"

// Trained is a Model with its weights, held in a GoMLX model.Store (which also holds the optimizer
// state and the global step while training).
type Trained struct {
	// Model is the architecture.
	Model *Model
	store *model.Store
}

// Param is one parameter tensor of a layer in PyTorch layout, as float32.
type Param struct {
	// Shape in PyTorch layout: conv weight [out,in,kh,kw], linear weight [out,in], bias [out].
	Shape []int `json:"shape"`
	// Data holds the values in row-major order.
	Data []float32 `json:"-"`
}

// NewTrained validates m and initialises its weights as PyTorch does by default (Conv2d and
// Linear weights and biases uniform in ±1/√fan_in), from a generator seeded with seed, on the host:
// the same seed gives the same weights on every backend.
func NewTrained(m *Model, seed int64) (*Trained, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	t := &Trained{Model: m, store: model.NewStore()}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x636e6e6c6162)) // "cnnlab"
	for i, l := range m.Layers {
		for _, ps := range l.ParamShapes() {
			bound := 1 / math.Sqrt(float64(ps.FanIn))
			data := make([]float32, ps.Size())
			for j := range data {
				data[j] = float32((2*rng.Float64() - 1) * bound)
			}
			if err := t.setParam(i, ps, data); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// Store returns the model.Store holding the weights (and, while training, the optimizer state).
func (t *Trained) Store() *model.Store { return t.store }

// LayerScope returns the scope name of layer i, e.g. "01_Conv2d".
func LayerScope(i int, l Layer) string {
	return fmt.Sprintf("%02d_%s", i, l.Type())
}

// variablePath returns the store path of parameter name of layer i.
func (t *Trained) variablePath(i int, name string) string {
	return model.JoinPath("/", ModelScope, LayerScope(i, t.Model.Layers[i]), name)
}

// setParam creates or overwrites the variable of parameter ps of layer i with data.
func (t *Trained) setParam(i int, ps ParamShape, data []float32) error {
	if len(data) != ps.Size() {
		return errors.Errorf("layer %d %s: %d values for %s of shape %v", i, t.Model.Layers[i].Type(), len(data), ps.Name, ps.Shape)
	}
	value := tensors.FromFlatDataAndDimensions(append([]float32(nil), data...), ps.Shape...)
	path := t.variablePath(i, ps.Name)
	if v := t.store.GetVariable(path); v != nil {
		return errors.WithMessagef(v.SetValue(value), "setting %s", path)
	}
	_, err := t.store.CreateVariable(path, value)
	return errors.WithMessagef(err, "creating %s", path)
}

// Weights returns the parameters of layer layerIndex by name ("weight", "bias") in PyTorch
// layout, copied to the host; an empty map for layers without parameters.
func (t *Trained) Weights(layerIndex int) (map[string]*Param, error) {
	if layerIndex < 0 || layerIndex >= len(t.Model.Layers) {
		return nil, errors.Errorf("layer index %d out of range [0,%d)", layerIndex, len(t.Model.Layers))
	}
	params := map[string]*Param{}
	for _, ps := range t.Model.Layers[layerIndex].ParamShapes() {
		path := t.variablePath(layerIndex, ps.Name)
		v := t.store.GetVariable(path)
		if v == nil {
			return nil, errors.Errorf("variable %s missing", path)
		}
		value, err := v.Value()
		if err != nil {
			return nil, errors.WithMessagef(err, "reading %s", path)
		}
		data, err := tensors.CopyFlatData[float32](value)
		if err != nil {
			return nil, errors.WithMessagef(err, "reading %s", path)
		}
		params[ps.Name] = &Param{Shape: clone(ps.Shape), Data: data}
	}
	return params, nil
}

// SetWeights replaces the parameters of layer layerIndex with params (PyTorch layout); every
// parameter of the layer must be given with its exact shape.
func (t *Trained) SetWeights(layerIndex int, params map[string]*Param) error {
	if layerIndex < 0 || layerIndex >= len(t.Model.Layers) {
		return errors.Errorf("layer index %d out of range [0,%d)", layerIndex, len(t.Model.Layers))
	}
	for _, ps := range t.Model.Layers[layerIndex].ParamShapes() {
		p, found := params[ps.Name]
		if !found || p == nil {
			return errors.Errorf("layer %d: parameter %q missing", layerIndex, ps.Name)
		}
		if fmt.Sprint(p.Shape) != fmt.Sprint(ps.Shape) {
			return errors.Errorf("layer %d: parameter %q has shape %v, want %v", layerIndex, ps.Name, p.Shape, ps.Shape)
		}
		if err := t.setParam(layerIndex, ps, p.Data); err != nil {
			return err
		}
	}
	return nil
}

// Forward builds the graph of m applied to images ([batch,3,32,32] float32 in [0,1], NCHW) and
// returns the logits [batch,numClasses]. The variables are read from scope's store under
// /model/<LayerScope>. It is a graph-building function: it panics on errors (GoMLX converts them
// into errors at Exec time).
func (m *Model) Forward(scope *model.Scope, images *graph.Node) *graph.Node {
	store := scope.Store()
	x := images
	if x.DType() != dtypes.Float32 {
		x = graph.ConvertDType(x, dtypes.Float32)
	}
	if want := append([]int{x.Shape().Dimensions[0]}, m.InputShape[:]...); fmt.Sprint(x.Shape().Dimensions) != fmt.Sprint(want) {
		exceptions.Panicf("model %q: input shape %v, want %v", m.Name, x.Shape().Dimensions, want)
	}
	return m.forward(store, x)
}

// trainForward is Forward for the training step: on XLA's CPU backend, a model with convolutions
// runs on chunks of at most forwardChunk images (see forwardChunk). Inference graphs are not
// chunked: there the chunks only add compilation time (20 epochs of the 3-class experiment, with
// its 300- and 500-image evaluation graphs: 7.7–8.0 s chunked, 6.1–6.4 s not).
func (m *Model) trainForward(scope *model.Scope, images *graph.Node) *graph.Node {
	n := images.Shape().Dimensions[0]
	if forwardChunk > 0 && n > forwardChunk && m.hasConv() && isXLACPU(images.Graph()) {
		chunks := (n + forwardChunk - 1) / forwardChunk
		return splitBatch(images, chunks, func(x *graph.Node) *graph.Node { return m.Forward(scope, x) })
	}
	return m.Forward(scope, images)
}

// forwardChunk is the largest batch chunk a training step runs a model with convolutions on at
// once, on XLA's CPU backend (0: no limit; GPUs are not split): the chunks' activations stay in the
// CPU's caches (the lecture CNN's patches and activations of 512 images take ≈ 30 MB). cnnlab
// bench, lecture CNN on xla:cpu, 5 alternating rounds, medians: batch 512 6,473 → 8,644 img/s,
// batch 128 8,224 → 9,269 (with convBatchSplit); chunks of 32 and 128 were no better. Tests change it.
var forwardChunk = 64

// hasConv reports whether m has a convolution.
func (m *Model) hasConv() bool {
	for _, l := range m.Layers {
		if _, ok := l.(Conv2d); ok {
			return true
		}
	}
	return false
}

// forward is Forward on a float32 batch.
func (m *Model) forward(store *model.Store, x *graph.Node) *graph.Node {
	channelsLast := false // Whether x is in NHWC (see convChannelsLast).
	for i, l := range m.Layers {
		param := func(name string) *graph.Node {
			path := model.JoinPath("/", ModelScope, LayerScope(i, l), name)
			v := store.GetVariable(path)
			if v == nil {
				exceptions.Panicf("model %q layer %d (%s): variable %s missing (weights not initialised?)", m.Name, i, l.Type(), path)
			}
			return v.NodeValue(x.Graph())
		}
		switch l.(type) {
		case Conv2d, AvgPool2d, MaxPool2d:
			if convChannelsLast && !channelsLast && x.Rank() == 4 {
				x, channelsLast = graph.TransposeAllDims(x, 0, 2, 3, 1), true
			}
		case Normalize, ReLU:
		default:
			if channelsLast {
				x, channelsLast = graph.TransposeAllDims(x, 0, 3, 1, 2), false
			}
		}
		x = layerGraphLayout(l, x, param, channelsLast)
	}
	if channelsLast {
		x = graph.TransposeAllDims(x, 0, 3, 1, 2)
	}
	return x
}

// convChannelsLast makes Forward run the convolutions and pooling in NHWC (channels last), with
// transposes at the first such layer and before Flatten/Linear (or the output), so the variables,
// the inputs and the outputs stay in PyTorch's NCHW/OIHW layouts. XLA's CPU convolutions (Eigen)
// work in NHWC: given NCHW it inserts the same transposes itself, around every convolution and in
// the backward pass too. The results equal NCHW's within float32 rounding (TestChannelsLastEqual).
var convChannelsLast = true

// layerGraph applies one layer to an NCHW x. param returns a layer's parameter node by name.
func layerGraph(l Layer, x *graph.Node, param func(name string) *graph.Node) *graph.Node {
	return layerGraphLayout(l, x, param, false)
}

// layerGraphLayout applies one layer to x, which is NHWC if channelsLast (only for Normalize,
// Conv2d, ReLU and the pooling layers), else NCHW.
func layerGraphLayout(l Layer, x *graph.Node, param func(name string) *graph.Node, channelsLast bool) *graph.Node {
	axis := timage.ChannelsFirst
	if channelsLast {
		axis = timage.ChannelsLast
	}
	switch l := l.(type) {
	case Normalize:
		return normalizeGraph(l, x, channelsLast)
	case Conv2d:
		return conv2dGraph(l, x, param("weight"), param("bias"), channelsLast)
	case ReLU:
		return graph.Max(x, graph.ZerosLike(x))
	case AvgPool2d:
		if poolReshape && poolStride(l.Kernel, l.Stride) == l.Kernel {
			return avgPoolReshape(x, l.Kernel, channelsLast)
		}
		return graph.MeanPool(x).ChannelsAxis(axis).Window(l.Kernel).Strides(poolStride(l.Kernel, l.Stride)).NoPadding().Done()
	case MaxPool2d:
		return graph.MaxPool(x).ChannelsAxis(axis).Window(l.Kernel).Strides(poolStride(l.Kernel, l.Stride)).NoPadding().Done()
	case Flatten:
		return graph.Reshape(x, x.Shape().Dimensions[0], -1)
	case Linear:
		// y = x·Wᵀ + b with W [out,in], as torch.nn.Linear.
		y := graph.Einsum("bi,oi->bo", x, param("weight"))
		return graph.Add(y, graph.InsertAxes(param("bias"), 0))
	}
	exceptions.Panicf("layer type %s (%T) has no graph implementation", l.Type(), l)
	return nil
}

// normalizeGraph computes (x - mean) / std per channel of an NCHW (or, if channelsLast, NHWC) x.
func normalizeGraph(n Normalize, x *graph.Node, channelsLast bool) *graph.Node {
	g := x.Graph()
	dims := []int{1, 3, 1, 1}
	if channelsLast {
		dims = []int{1, 1, 1, 3}
	}
	mean := graph.Reshape(graph.Const(g, n.Mean[:]), dims...)
	std := graph.Reshape(graph.Const(g, n.Std[:]), dims...)
	return graph.Div(graph.Sub(x, mean), std)
}

// conv2dGraph is a zero-padded convolution with an OIHW kernel, plus bias, of an NCHW x (or, if
// channelsLast, NHWC: the kernel is transposed to HWIO in the graph).
func conv2dGraph(c Conv2d, x, weight, bias *graph.Node, channelsLast bool) *graph.Node {
	p := c.Padding
	axis, biasDims := timage.ChannelsFirst, []int{1, c.Out, 1, 1}
	if channelsLast {
		weight = graph.TransposeAllDims(weight, 2, 3, 1, 0)
		axis, biasDims = timage.ChannelsLast, []int{1, 1, 1, c.Out}
	}
	var y *graph.Node
	if channelsLast && useIm2col(x.Graph(), c) {
		y = im2colConv(c, x, weight)
	} else {
		y = splitBatch(x, convBatchChunks(x), func(x *graph.Node) *graph.Node {
			return graph.Convolve(x, weight).ChannelsAxis(axis).Strides(c.Stride).
				PaddingPerDim([][2]int{{p, p}, {p, p}}).Done()
		})
	}
	return graph.Add(y, graph.Reshape(bias, biasDims...))
}

// convBatchSplit is the number of batch chunks the backend's convolutions run in on XLA's CPU
// backend (1: none; GPUs are not split). That backend computes a convolution's kernel gradient — a
// reduction over the whole batch into a small [K,K,C,O] result — with poor parallelism; as the sum
// of two half-batch gradients it runs faster: the lecture CNN's second convolution at batch 128,
// kernel gradient 5.5 → 3.8 ms, forward + both gradients 10.4 → 7.4 ms (TestPerfBreakdown, 2
// cores). Tests and benchmarks change it.
var convBatchSplit = 2

// convMinChunk is the smallest batch chunk convBatchSplit makes (smaller batches run whole).
var convMinChunk = 16

// convBatchChunks returns into how many batch chunks the convolution of x is split.
func convBatchChunks(x *graph.Node) int {
	if convBatchSplit <= 1 || !isXLACPU(x.Graph()) {
		return 1
	}
	return max(1, min(convBatchSplit, x.Shape().Dimensions[0]/convMinChunk))
}

// splitBatch applies f to chunks consecutive slices of x along its batch axis (the first) and
// concatenates the results, so that the gradients of f's parameters are sums over the chunks.
func splitBatch(x *graph.Node, chunks int, f func(x *graph.Node) *graph.Node) *graph.Node {
	n := x.Shape().Dimensions[0]
	if chunks <= 1 || n < chunks {
		return f(x)
	}
	parts := make([]*graph.Node, chunks)
	for i := range chunks {
		parts[i] = f(graph.Slice(x, graph.AxisRange(i*n/chunks, (i+1)*n/chunks)))
	}
	return graph.Concatenate(parts, 0)
}

// isXLACPU reports whether graph g runs on XLA's CPU PJRT plugin.
func isXLACPU(g *graph.Graph) bool {
	b, ok := g.Backend().(interface{ PluginName() string })
	return ok && b.PluginName() == "cpu"
}

// isGoBackend reports whether graph g runs on GoMLX's pure-Go backend.
func isGoBackend(g *graph.Graph) bool {
	b := g.Backend()
	return b != nil && (b.String() == "go" || b.Name() == "Go Backend")
}

// Convolution methods (convMethod): the backend's convolution, or im2col (the K×K shifted, strided
// slices of the padded input concatenated along channels, then one matrix product). GoMLX's pure-Go
// backend runs im2col far faster (its matrix product is vectorised, its convolution is not). XLA's
// CPU backend runs the weight gradient of a strided convolution (a convolution with a dilated
// window) outside its fast Eigen path, so im2col pays there for strided convolutions only.
const (
	convAuto   = "auto" // im2col on the pure-Go backend, and for strided convolutions elsewhere.
	convNative = "native"
	convIm2col = "im2col"
)

// convMethod selects the convolution method (tests and benchmarks change it).
var convMethod = convAuto

// useIm2col reports whether convolution c in graph g uses im2col.
func useIm2col(g *graph.Graph, c Conv2d) bool {
	switch convMethod {
	case convIm2col:
		return true
	case convNative:
		return false
	}
	if isGoBackend(g) {
		return true
	}
	return c.Stride > 1
}

// im2colConv is the zero-padded convolution of an NHWC x with an HWIO kernel as a matrix product of
// the input patches [B,H',W',K·K·C] (ordered ky, kx, c) with the kernel reshaped [K·K·C, O].
func im2colConv(c Conv2d, x, hwio *graph.Node) *graph.Node {
	cols := im2colPatches(c, x)
	w := graph.Reshape(hwio, c.Kernel*c.Kernel*c.In, c.Out)
	return graph.Einsum("bhwi,io->bhwo", cols, w)
}

// im2colPatches returns the patches [B,H',W',K·K·C] (ordered ky, kx, c) of the zero-padded NHWC x
// under convolution c's windows.
func im2colPatches(c Conv2d, x *graph.Node) *graph.Node {
	k, s, p := c.Kernel, c.Stride, c.Padding
	if p > 0 {
		zero := graph.Const(x.Graph(), float32(0))
		if x.DType() != zero.DType() {
			zero = graph.ConvertDType(zero, x.DType())
		}
		x = graph.Pad(x, zero, compute.PadAxis{}, compute.PadAxis{Start: p, End: p}, compute.PadAxis{Start: p, End: p}, compute.PadAxis{})
	}
	dims := x.Shape().Dimensions
	oh, ow := (dims[1]-k)/s+1, (dims[2]-k)/s+1
	patches := make([]*graph.Node, 0, k*k)
	for dy := range k {
		for dx := range k {
			patches = append(patches, graph.Slice(x, graph.AxisRange(),
				graph.AxisRange(dy, dy+(oh-1)*s+1).Stride(s), graph.AxisRange(dx, dx+(ow-1)*s+1).Stride(s), graph.AxisRange()))
		}
	}
	return graph.Concatenate(patches, 3)
}

// poolReshape makes average pooling with non-overlapping windows (stride = kernel) a reshape and a
// mean over the window axes instead of a reduce-window: the same values (within float32
// rounding), but its gradient is a broadcast, where XLA's CPU backend runs the reduce-window
// gradient (a reduce-window with a dilated input) as a slow generic loop (~2 ms of a ~18 ms
// training step of the lecture CNN at batch 128).
var poolReshape = true

// avgPoolReshape is the average pooling of x (NCHW, or NHWC if channelsLast) over k×k windows with
// stride k, without padding (floor mode: trailing rows and columns that do not fill a window are
// dropped, as in PyTorch).
func avgPoolReshape(x *graph.Node, k int, channelsLast bool) *graph.Node {
	dims := x.Shape().Dimensions
	hAxis := 2
	if channelsLast {
		hAxis = 1
	}
	h, w := dims[hAxis]/k, dims[hAxis+1]/k
	if h*k != dims[hAxis] || w*k != dims[hAxis+1] {
		ranges := make([]graph.SliceAxisSpec, 4)
		for i := range ranges {
			ranges[i] = graph.AxisRange()
		}
		ranges[hAxis], ranges[hAxis+1] = graph.AxisRange(0, h*k), graph.AxisRange(0, w*k)
		x = graph.Slice(x, ranges...)
	}
	if channelsLast {
		x = graph.Reshape(x, dims[0], h, k, w, k, dims[3])
		return graph.ReduceMean(x, 2, 4)
	}
	x = graph.Reshape(x, dims[0], dims[1], h, k, w, k)
	return graph.ReduceMean(x, 3, 5)
}
