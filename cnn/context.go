package cnn

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// Context is what a layer's Apply gets: where its variables live (scoped under the model, so
// models nest), whether the graph trains, the layout of its input and the graph options.
type Context struct {
	store *model.Store
	path  string // Store path of the layer's scope, e.g. "/model/05_Residual/body/00_Conv2d".
	model string // Model name, for error messages.
	// Training is true in the training step's graph (BatchNorm2d uses batch statistics, Dropout drops).
	Training bool
	// ChannelsLast tells whether the layer's rank-4 input is NHWC (else NCHW). A container that
	// changes its output's layout sets it before returning.
	ChannelsLast bool
	// Options are the graph rewrites in force.
	Options GraphOptions
}

// Path returns the store path of the layer's scope.
func (c *Context) Path() string { return c.path }

// In returns the context of a child scope (e.g. "body/00_Conv2d"), with the same layout.
func (c *Context) In(scope string) *Context {
	child := *c
	child.path = model.JoinPath("/", c.path, scope)
	return &child
}

// variable returns the layer's variable name or panics naming it.
func (c *Context) variable(name string) *model.Variable {
	path := model.JoinPath("/", c.path, name)
	v := c.store.GetVariable(path)
	if v == nil {
		exceptions.Panicf("model %q: variable %s missing (weights not initialised?)", c.model, path)
	}
	return v
}

// Param returns the node of the layer's parameter or buffer name in graph g.
func (c *Context) Param(g *graph.Graph, name string) *graph.Node {
	return c.variable(name).NodeValue(g)
}

// SetBuffer sets the new value of the layer's buffer name (e.g. a running mean) computed in the
// graph: the step that runs the graph stores it.
func (c *Context) SetBuffer(name string, value *graph.Node) {
	c.variable(name).SetNodeValue(value)
}

// RandomUniform returns values uniform in [0,1) from the store's random state (seeded by
// NewTrained, saved in checkpoints).
func (c *Context) RandomUniform(g *graph.Graph, shape shapes.Shape) *graph.Node {
	return c.store.RandomUniform(g, shape)
}

// applySequence applies layers in order, converting the layout before each layer as its Layout
// requires; children live under prefix (e.g. "body/").
func applySequence(c *Context, prefix string, layers []Layer, x *graph.Node) *graph.Node {
	for i, l := range layers {
		x = toLayout(c, l.Layout(), x)
		child := c.In(prefix + LayerScope(i, l))
		x = l.Apply(child, x)
		c.ChannelsLast = child.ChannelsLast && x.Rank() == 4
	}
	return x
}

// toLayout transposes x into the layout a layer requires (see Layout).
func toLayout(c *Context, need Layout, x *graph.Node) *graph.Node {
	if x.Rank() != 4 {
		c.ChannelsLast = false
		return x
	}
	switch {
	case need == LayoutSpatial && c.Options.ChannelsLast && !c.ChannelsLast:
		c.ChannelsLast = true
		return graph.TransposeAllDims(x, 0, 2, 3, 1)
	case need == LayoutNCHW && c.ChannelsLast:
		c.ChannelsLast = false
		return graph.TransposeAllDims(x, 0, 3, 1, 2)
	}
	return x
}

// setLayout transposes a rank-4 x from layout channelsLast into layout want.
func setLayout(x *graph.Node, channelsLast, want bool) *graph.Node {
	if x.Rank() != 4 || channelsLast == want {
		return x
	}
	if want {
		return graph.TransposeAllDims(x, 0, 2, 3, 1)
	}
	return graph.TransposeAllDims(x, 0, 3, 1, 2)
}

// GraphOptions are the graph rewrites cnnlab applies for speed; each keeps the results equal
// within float32 rounding (tests compare every one against the plain graph). They are values held
// by a Trained model (Trained.Options) and passed explicitly; DefaultGraphOptions gives each
// backend's measured defaults.
type GraphOptions struct {
	// ChannelsLast runs convolutions and pooling in NHWC, with transposes where the layout changes,
	// so variables, inputs and outputs stay in PyTorch's NCHW/OIHW layouts. XLA's CPU convolutions
	// (Eigen) work in NHWC: given NCHW it inserts the same transposes around every convolution and
	// in the backward pass too (TestChannelsLastEqual).
	ChannelsLast bool `json:"channels_last"`
	// ConvMethod is "auto" (im2col on the pure-Go backend and for strided convolutions elsewhere),
	// "native" (the backend's convolution) or "im2col" (shifted slices concatenated, then one matrix
	// product). GoMLX's pure-Go backend runs im2col far faster (its matrix product is vectorised);
	// XLA's CPU backend runs the weight gradient of a strided convolution outside its fast path.
	ConvMethod string `json:"conv_method"`
	// Im2colKernelGrad computes the kernel gradient of a backend-native convolution (ConvMethod
	// native, or auto at stride 1) as one matrix product of the input's im2col patches with the
	// output gradient, while the forward pass and the input gradient stay the backend's
	// convolutions. XLA's CPU backend runs the kernel gradient (a convolution with the batch as
	// its contraction) far below its forward speed: ConvNet7BN's 16×16×64→256 layer at batch 128,
	// forward 0.88 s, input gradient 1.27 s, kernel gradient 11.1 s native vs 2.4 s as im2col
	// (2 loaded cores, see docs/benchmarks.md). Needs ChannelsLast.
	Im2colKernelGrad bool `json:"im2col_kernel_grad"`
	// ConvBatchSplit is the number of batch chunks each convolution runs in (1: none): XLA's CPU
	// backend computes a convolution's kernel gradient with poor parallelism; as the sum of two
	// half-batch gradients it runs faster (lecture CNN conv2 at batch 128: kernel gradient 5.5 → 3.8
	// ms, forward + both gradients 10.4 → 7.4 ms, TestPerfBreakdown, 2 cores).
	ConvBatchSplit int `json:"conv_batch_split"`
	// ConvMinChunk is the smallest chunk ConvBatchSplit makes (smaller batches run whole).
	ConvMinChunk int `json:"conv_min_chunk"`
	// ForwardChunk is the largest batch chunk a training step runs a model with convolutions on
	// at once (0: no limit), so the chunks' activations stay in the CPU's caches. Not applied to
	// models with a BatchCoupler layer (BatchNorm2d): chunks would change its batch statistics.
	// cnnlab bench, lecture CNN on xla:cpu, medians of 5 rounds: batch 512 6,473 → 8,644 img/s.
	ForwardChunk int `json:"forward_chunk"`
	// PoolReshape computes average pooling with stride = kernel as a reshape and a mean: its
	// gradient is a broadcast, where XLA's CPU backend runs the reduce-window gradient as a slow
	// generic loop (~2 ms of an ~18 ms training step of the lecture CNN at batch 128).
	PoolReshape bool `json:"pool_reshape"`
	// MaxPoolReshape computes max pooling with stride = kernel as a reshape and a maximum, with
	// PyTorch's gradient (to the first maximum of each window): XLA's CPU backend runs the
	// reduce-window gradient (select-and-scatter) as a slow generic loop — [128,32,32,64] max pool 2,
	// gradient 2.9 s as select-and-scatter, 0.43 s as a reshape (2 loaded cores).
	MaxPoolReshape bool `json:"max_pool_reshape"`
}

// Convolution methods of GraphOptions.ConvMethod.
const (
	ConvAuto   = "auto"
	ConvNative = "native"
	ConvIm2col = "im2col"
)

// DefaultGraphOptions returns the measured defaults for backend b: all rewrites on XLA's CPU
// backend; channels-last, im2col and average pooling as a reshape elsewhere, without batch
// splitting (GPUs were measured unsplit; the pure-Go backend gains nothing from it).
func DefaultGraphOptions(b compute.Backend) GraphOptions {
	o := GraphOptions{ChannelsLast: true, ConvMethod: ConvAuto, ConvBatchSplit: 1, ConvMinChunk: 16, PoolReshape: true}
	if isXLACPUBackend(b) {
		o.ConvBatchSplit, o.ForwardChunk = 2, 64
	}
	return o
}

// DefaultGraphOptionsFor returns DefaultGraphOptions(b) plus, on XLA's CPU backend, the kernel
// gradient as im2col (Im2colKernelGrad) and max pooling as a reshape (MaxPoolReshape) for every
// model but the lecture's own (LectureCNN, LectureCNNMaxPool, MLP): they change float32 rounding,
// and the lecture models' committed results stay bit-identical without them. Measured on
// ConvNet7BN at batch 128 (cnnlab bench, 2 loaded cores): 6–7 → 13–17 img/s with the kernel
// gradient alone (CPU time per image 52–56 → 30–35 ms).
func DefaultGraphOptionsFor(b compute.Backend, m *Model) GraphOptions {
	o := DefaultGraphOptions(b)
	if isXLACPUBackend(b) && !isLectureModel(m) {
		o.Im2colKernelGrad, o.MaxPoolReshape = true, true
	}
	return o
}

// isLectureModel reports whether m is one of the lecture's models.
func isLectureModel(m *Model) bool {
	switch m.Name {
	case NameLectureCNN, NameLectureCNNMaxPool, NameMLP:
		return true
	}
	return false
}

// PlainGraphOptions are no rewrites at all: NCHW, the backend's convolution, no splitting, and
// reduce-window pooling — the reference the rewrites are tested against.
func PlainGraphOptions() GraphOptions {
	return GraphOptions{ConvMethod: ConvNative, ConvBatchSplit: 1, ConvMinChunk: 16}
}

// isXLACPUBackend reports whether b is XLA's CPU PJRT plugin.
func isXLACPUBackend(b compute.Backend) bool {
	p, ok := b.(interface{ PluginName() string })
	return ok && p.PluginName() == "cpu"
}

// isGoBackend reports whether graph g runs on GoMLX's pure-Go backend.
func isGoBackend(g *graph.Graph) bool {
	b := g.Backend()
	return b != nil && (b.String() == "go" || b.Name() == "Go Backend")
}
