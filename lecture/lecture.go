package lecture

// The worked examples of the lecture's slides (convolution by hand, padding and stride, pooling and
// the output-size formula), computed with GoMLX operations so that a notebook can show that the
// library does exactly what the slides do by hand.

import (
	"github.com/cnnlab/cnnlab/cnn"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// ConvOptions configures Convolve2D. The zero value is a convolution with stride 1, no padding and
// one channel group.
type ConvOptions struct {
	// Stride is the step of the kernel on both spatial axes; 0 means 1.
	Stride int `json:"stride,omitempty"`
	// Padding is added on each side of both spatial axes; default 0.
	Padding int `json:"padding,omitempty"`
	// PadMode is how padding is filled: PadZeros (the default, also when empty) or PadReplicate.
	PadMode cnn.PadMode `json:"pad_mode,omitempty"`
	// Groups splits the input channels into independent groups, as PyTorch's groups; 0 means 1.
	// Groups equal to the number of input channels is a depthwise convolution: each output channel
	// sees one input channel, which is how HandConvolution gets the per-channel sums of the slide.
	Groups int `json:"groups,omitempty"`
}

// orOne returns v, or 1 when v is 0.
func orOne(v int) int {
	if v == 0 {
		return 1
	}
	return v
}

// PoolOp is the reduction a pooling window applies.
type PoolOp string

// Pooling operations of the lecture.
const (
	// PoolMax takes the maximum of each window (PyTorch's MaxPool2d).
	PoolMax PoolOp = "max"
	// PoolAverage takes the mean of each window (PyTorch's AvgPool2d).
	PoolAverage PoolOp = "avg"
)

// StrideInput returns the 5×5 input of the slide "padding and stride".
func StrideInput() [][]float32 {
	return [][]float32{
		{2, 2, 3, 3, 3},
		{0, 1, 3, 0, 3},
		{2, 3, 0, 1, 3},
		{3, 3, 2, 1, 2},
		{3, 3, 0, 2, 3},
	}
}

// StrideKernel returns the 3×3 kernel of the slide "padding and stride".
func StrideKernel() [][]float32 {
	return [][]float32{
		{2, 0, 1},
		{1, 0, 0},
		{0, 1, 1},
	}
}

// StrideOptions returns the convolution options of the slide "padding and stride": zero
// padding 1 and stride 2, which turn the 5×5 input into a 3×3 map.
func StrideOptions() ConvOptions {
	return ConvOptions{Stride: 2, Padding: 1, PadMode: cnn.PadZeros}
}

// SlideStrideOutputErratum returns the output the slide prints for the "padding and stride"
// example, [[1,6,5],[7,10,9],[7,10,8]]. The figure comes from Dumoulin and Visin's "A guide to
// convolution arithmetic for deep learning" and is known to be wrong: convolving the slide's input
// and kernel gives [[1,5,6],[7,8,3],[3,10,4]], which is what RunConv2D computes and the tests
// check. It is kept only so that the notebook can show both.
func SlideStrideOutputErratum() [][]float32 {
	return [][]float32{
		{1, 6, 5},
		{7, 10, 9},
		{7, 10, 8},
	}
}

// PoolInput returns the 4×4 input of the pooling slide (2×2 windows, stride 2).
func PoolInput() [][]float32 {
	return [][]float32{
		{2, 2, 7, 3},
		{9, 4, 6, 1},
		{8, 5, 2, 4},
		{3, 1, 2, 6},
	}
}

// ConvInput returns the top-left corner (2×2 pixels) of the RGB image of the slide
// "convolution by hand", as [channel R,G,B][row][column]. On the slide the image is zero-padded,
// so the kernel's first window covers a row and a column of zeros and these four pixels.
func ConvInput() [][][]float32 {
	return [][][]float32{
		{{156, 155}, {153, 154}}, // R
		{{167, 166}, {164, 165}}, // G
		{{163, 162}, {160, 161}}, // B
	}
}

// ConvKernel returns the 3×3×3 kernel of the slide "convolution by hand", as
// [channel R,G,B][row][column].
func ConvKernel() [][][]float32 {
	return [][][]float32{
		{{-1, -1, 1}, {0, 1, -1}, {0, 1, 1}}, // R
		{{1, 0, 0}, {1, -1, -1}, {1, 0, -1}}, // G
		{{0, 1, 1}, {0, 1, 0}, {1, -1, 1}},   // B
	}
}

// ConvBias is the bias of the slide "convolution by hand".
const ConvBias float32 = 1

// HandConvResult is the slide "convolution by hand" computed with GoMLX.
type HandConvResult struct {
	// Window is the zero-padded top-left 3×3 window of the image, [channel R,G,B][row][column].
	Window [][][]float32 `json:"window"`
	// ChannelSums are the per-channel sums Σ window_c ⊙ kernel_c, from a depthwise convolution.
	ChannelSums []float32 `json:"channel_sums"`
	// Bias is the bias added to the output.
	Bias float32 `json:"bias"`
	// Output is the full 3-channel convolution plus the bias: the first value of the feature map.
	Output float32 `json:"output"`
}

// HandConvolution computes the slide "convolution by hand" on backend b: it pads
// ConvInput with one row and one column of zeros (top and left, as at the corner of the
// padded image), then computes the per-channel sums with a depthwise convolution (groups = 3) and
// the output with the full convolution plus ConvBias. The slide gives channel sums 308,
// −498, 164 and output −25.
func HandConvolution(b compute.Backend) (HandConvResult, error) {
	input := tensors.FromValue([][][][]float32{ConvInput()})
	outs, err := callGraph(b, func(g *graph.Graph, in []*graph.Node) []*graph.Node {
		return []*graph.Node{graph.Pad(in[0], graph.ScalarZero(g, in[0].DType()), graph.PadAxis{}, graph.PadAxis{},
			graph.PadAxis{Start: 1}, graph.PadAxis{Start: 1})}
	}, input)
	if err != nil {
		return HandConvResult{}, errors.WithMessage(err, "convolution by hand: padding")
	}
	window := outs[0].Value().([][][][]float32)[0]
	var kernel []float32
	for _, plane := range ConvKernel() {
		for _, row := range plane {
			kernel = append(kernel, row...)
		}
	}
	// The model's Conv2d layer, once depthwise (groups = 3: one sum per channel) and once full.
	run := func(layer cnn.Conv2d, params map[string]*cnn.Param) ([]float32, error) {
		out, _, err := cnn.RunLayer(b, layer, tensors.FromValue([][][][]float32{window}), params, false, 0)
		if err != nil {
			return nil, err
		}
		return tensors.CopyFlatData[float32](out)
	}
	sums, err := run(cnn.Conv2d{In: 3, Out: 3, Kernel: 3, Stride: 1, Groups: 3, NoBias: true, PadMode: cnn.PadZeros},
		map[string]*cnn.Param{"weight": {Shape: []int{3, 1, 3, 3}, Data: kernel}})
	if err != nil {
		return HandConvResult{}, errors.WithMessage(err, "convolution by hand: channel sums")
	}
	output, err := run(cnn.Conv2d{In: 3, Out: 1, Kernel: 3, Stride: 1, PadMode: cnn.PadZeros},
		map[string]*cnn.Param{"weight": {Shape: []int{1, 3, 3, 3}, Data: kernel}, "bias": {Shape: []int{1}, Data: []float32{ConvBias}}})
	if err != nil {
		return HandConvResult{}, errors.WithMessage(err, "convolution by hand: output")
	}
	return HandConvResult{Window: window, ChannelSums: sums, Bias: ConvBias, Output: output[0]}, nil
}

// RunConv2D convolves a single-channel image with a single square kernel on backend b, for the
// slides' worked examples: it builds the Conv2d layer a model uses (1 channel in and out, no bias,
// the options' stride, padding and padding mode) and runs it through the model's graph code
// (RunLayer).
func RunConv2D(b compute.Backend, input, kernel [][]float32, opts ConvOptions) ([][]float32, error) {
	if err := checkMatrix(input); err != nil {
		return nil, errors.WithMessage(err, "RunConv2D input")
	}
	if err := checkMatrix(kernel); err != nil {
		return nil, errors.WithMessage(err, "RunConv2D kernel")
	}
	k := len(kernel)
	if len(kernel[0]) != k {
		return nil, errors.Errorf("RunConv2D kernel: %d×%d, a Conv2d kernel is square", k, len(kernel[0]))
	}
	if orOne(opts.Groups) != 1 {
		return nil, errors.Errorf("RunConv2D: groups %d on a single channel", opts.Groups)
	}
	mode := opts.PadMode
	if mode == "" {
		mode = cnn.PadZeros
	}
	layer := cnn.Conv2d{In: 1, Out: 1, Kernel: k, Stride: orOne(opts.Stride), Padding: opts.Padding, PadMode: mode, NoBias: true}
	weight := make([]float32, 0, k*k)
	for _, row := range kernel {
		weight = append(weight, row...)
	}
	return runLayerOnImage(b, layer, input, map[string]*cnn.Param{"weight": {Shape: []int{1, 1, k, k}, Data: weight}})
}

// runLayerOnImage runs layer on input as a [1,1,H,W] batch (RunLayer, inference) and returns the
// [H',W'] result.
func runLayerOnImage(b compute.Backend, layer cnn.Layer, input [][]float32, params map[string]*cnn.Param) ([][]float32, error) {
	out, _, err := cnn.RunLayer(b, layer, tensors.FromValue([][][][]float32{{input}}), params, false, 0)
	if err != nil {
		return nil, err
	}
	return out.Value().([][][][]float32)[0][0], nil
}

// RunPad2D pads a single-channel image by p on each side on backend b (Pad2D), for the notebook.
func RunPad2D(b compute.Backend, input [][]float32, p int, mode cnn.PadMode) ([][]float32, error) {
	if err := checkMatrix(input); err != nil {
		return nil, errors.WithMessage(err, "RunPad2D input")
	}
	return runOnImage(b, input, func(x *graph.Node) *graph.Node { return cnn.Pad2D(x, p, mode) })
}

// RunPool2D pools a single-channel image on backend b, for the slides' worked examples: it builds
// the MaxPool2d or AvgPool2d layer a model uses and runs it through the model's graph code
// (RunLayer), so the worked example is the training code's pooling.
func RunPool2D(b compute.Backend, input [][]float32, window, stride int, op PoolOp) ([][]float32, error) {
	if err := checkMatrix(input); err != nil {
		return nil, errors.WithMessage(err, "RunPool2D input")
	}
	var layer cnn.Layer
	switch op {
	case PoolMax:
		layer = cnn.MaxPool2d{Kernel: window, Stride: stride}
	case PoolAverage:
		layer = cnn.AvgPool2d{Kernel: window, Stride: stride}
	default:
		return nil, errors.Errorf("RunPool2D: pooling operation %q not supported (use %q or %q)", op, PoolMax, PoolAverage)
	}
	if window < 1 || stride < 1 {
		return nil, errors.Errorf("RunPool2D: window %d and stride %d must be ≥ 1", window, stride)
	}
	return runLayerOnImage(b, layer, input, nil)
}

// runOnImage runs fn on input as a [1,1,H,W] tensor and returns the [H',W'] result.
func runOnImage(b compute.Backend, input [][]float32, fn func(x *graph.Node) *graph.Node) ([][]float32, error) {
	outs, err := callGraph(b, func(_ *graph.Graph, in []*graph.Node) []*graph.Node {
		return []*graph.Node{fn(in[0])}
	}, tensors.FromValue([][][][]float32{{input}}))
	if err != nil {
		return nil, err
	}
	return outs[0].Value().([][][][]float32)[0][0], nil
}

// checkMatrix returns an error unless m is a non-empty rectangular matrix.
func checkMatrix(m [][]float32) error {
	if len(m) == 0 || len(m[0]) == 0 {
		return errors.New("empty matrix")
	}
	for i, row := range m {
		if len(row) != len(m[0]) {
			return errors.Errorf("row %d has %d values, row 0 has %d", i, len(row), len(m[0]))
		}
	}
	return nil
}

// callGraph builds, compiles and runs fn once on backend b with the given inputs, turning the
// panics of graph building into errors.
func callGraph(b compute.Backend, fn func(g *graph.Graph, in []*graph.Node) []*graph.Node,
	inputs ...any) (outs []*tensors.Tensor, err error) {
	if b == nil {
		return nil, errors.New("nil backend")
	}
	caught := exceptions.TryCatch[error](func() {
		outs, err = graph.CallOnceN(b, fn, inputs...)
	})
	if caught != nil {
		return nil, errors.WithMessagef(caught, "building the graph on backend %s", b.Name())
	}
	if err != nil {
		return nil, errors.WithMessagef(err, "running the graph on backend %s", b.Name())
	}
	return outs, nil
}
