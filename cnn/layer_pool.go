package cnn

import (
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	timage "github.com/gomlx/gomlx/core/tensors/images"
	"github.com/pkg/errors"
)

// AvgPool2d averages windows, like torch.nn.AvgPool2d without padding (floor mode).
type AvgPool2d struct {
	Kernel int `json:"kernel"`
	// Stride defaults to Kernel when 0, as in PyTorch.
	Stride int `json:"stride,omitempty"`
}

// MaxPool2d takes the maximum of windows, like torch.nn.MaxPool2d without padding (floor mode);
// the stride may differ from the kernel (overlapping windows for stride < kernel).
type MaxPool2d struct {
	Kernel int `json:"kernel"`
	// Stride defaults to Kernel when 0, as in PyTorch.
	Stride int `json:"stride,omitempty"`
}

// Type implements Layer.
func (AvgPool2d) Type() string { return "AvgPool2d" }

// Type implements Layer.
func (MaxPool2d) Type() string { return "MaxPool2d" }

// OutputShape implements Layer.
func (p AvgPool2d) OutputShape(in []int) ([]int, error) {
	return poolOutputShape("AvgPool2d", p.Kernel, p.Stride, in)
}

// OutputShape implements Layer.
func (p MaxPool2d) OutputShape(in []int) ([]int, error) {
	return poolOutputShape("MaxPool2d", p.Kernel, p.Stride, in)
}

// Params implements Layer.
func (AvgPool2d) Params() []ParamSpec { return nil }

// Params implements Layer.
func (MaxPool2d) Params() []ParamSpec { return nil }

// Layout implements Layer.
func (AvgPool2d) Layout() Layout { return LayoutSpatial }

// Layout implements Layer.
func (MaxPool2d) Layout() Layout { return LayoutSpatial }

// MACs implements Layer (comparisons and sums are not counted).
func (AvgPool2d) MACs(_, _ []int) int64 { return 0 }

// MACs implements Layer.
func (MaxPool2d) MACs(_, _ []int) int64 { return 0 }

// Apply implements Layer: a reshape and a mean when the windows tile the input and
// GraphOptions.PoolReshape is set, else a reduce-window.
func (p AvgPool2d) Apply(c *Context, x *graph.Node) *graph.Node {
	s := poolStride(p.Kernel, p.Stride)
	if c.Options.PoolReshape && s == p.Kernel {
		return avgPoolReshape(x, p.Kernel, c.ChannelsLast)
	}
	return graph.MeanPool(x).ChannelsAxis(poolAxis(c)).Window(p.Kernel).Strides(s).NoPadding().Done()
}

// Apply implements Layer.
func (p MaxPool2d) Apply(c *Context, x *graph.Node) *graph.Node {
	if c.Options.MaxPoolReshape && poolStride(p.Kernel, p.Stride) == p.Kernel {
		return maxPoolReshape(x, p.Kernel, c.ChannelsLast)
	}
	return graph.MaxPool(x).ChannelsAxis(poolAxis(c)).Window(p.Kernel).Strides(poolStride(p.Kernel, p.Stride)).NoPadding().Done()
}

// ONNX implements Layer.
func (p AvgPool2d) ONNX(e ONNXEmitter, x string) (string, error) {
	k, s := int64(p.Kernel), int64(poolStride(p.Kernel, p.Stride))
	return e.Node("AveragePool", []string{x}, AttrInt("ceil_mode", 0), AttrInt("count_include_pad", 0),
		AttrInts("kernel_shape", k, k), AttrInts("pads", 0, 0, 0, 0), AttrInts("strides", s, s)), nil
}

// ONNX implements Layer.
func (p MaxPool2d) ONNX(e ONNXEmitter, x string) (string, error) {
	k, s := int64(p.Kernel), int64(poolStride(p.Kernel, p.Stride))
	return e.Node("MaxPool", []string{x}, AttrInt("ceil_mode", 0), AttrInts("dilations", 1, 1),
		AttrInts("kernel_shape", k, k), AttrInts("pads", 0, 0, 0, 0), AttrInts("strides", s, s)), nil
}

// poolAxis returns GoMLX's channels axis configuration for the context's layout.
func poolAxis(c *Context) timage.ChannelsAxisConfig {
	if c.ChannelsLast {
		return timage.ChannelsLast
	}
	return timage.ChannelsFirst
}

// poolStride returns the effective stride of a pooling layer: PyTorch's default is the kernel size.
func poolStride(kernel, stride int) int {
	if stride == 0 {
		return kernel
	}
	return stride
}

// poolOutputShape computes the output of a pooling layer without padding (floor mode, as PyTorch).
func poolOutputShape(name string, kernel, stride int, in []int) ([]int, error) {
	stride = poolStride(kernel, stride)
	if kernel < 1 || stride < 1 {
		return nil, errors.Errorf("%s(kernel %d, stride %d): kernel and stride must be ≥ 1", name, kernel, stride)
	}
	if len(in) != 3 || in[1] < kernel || in[2] < kernel {
		return nil, errors.Errorf("%s(%d) needs a [C,H,W] input of at least %d×%d, got %v", name, kernel, kernel, kernel, in)
	}
	return []int{in[0], (in[1]-kernel)/stride + 1, (in[2]-kernel)/stride + 1}, nil
}

// windowsReshape crops x (NCHW, or NHWC if channelsLast) to whole k×k windows (floor mode: the
// trailing rows and columns that do not fill a window are dropped, as in PyTorch) and reshapes it to
// [B,h,k,w,k,C] (NHWC) or [B,C,h,k,w,k]; it returns the reshaped node and the window axes.
func windowsReshape(x *graph.Node, k int, channelsLast bool) (*graph.Node, [2]int) {
	dims := x.Shape().Dimensions
	hAxis, _ := spatialAxes(channelsLast)
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
		return graph.Reshape(x, dims[0], h, k, w, k, dims[3]), [2]int{2, 4}
	}
	return graph.Reshape(x, dims[0], dims[1], h, k, w, k), [2]int{3, 5}
}

// maxPoolReshape is the max pooling of x (NCHW, or NHWC if channelsLast) over k×k windows with
// stride k, without padding (floor mode), as a reshape and a maximum (GraphOptions.MaxPoolReshape).
// Its gradient goes, as PyTorch's, to the first maximum of each window in row-major order (a
// plain maximum's gradient would go to every tied element: regions of equal values, such as the
// zero border of a translated image, are common). XLA's CPU backend runs the reduce-window
// gradient (select-and-scatter) as a slow generic loop.
func maxPoolReshape(x *graph.Node, k int, channelsLast bool) *graph.Node {
	var dy *graph.Node
	in := graph.IdentityWithCustomGradient(x, func(x, native *graph.Node) *graph.Node {
		if dy == nil {
			return native
		}
		return maxPoolFirstGrad(x, dy, k, channelsLast)
	})
	r, axes := windowsReshape(in, k, channelsLast)
	return graph.IdentityWithCustomGradient(graph.ReduceMax(r, axes[0], axes[1]), func(_, v *graph.Node) *graph.Node {
		dy = v
		return v
	})
}

// maxPoolFirstGrad returns the gradient of maxPoolReshape with respect to x given the output's
// gradient dy: dy at the first maximum of each window (row-major), zero elsewhere and in the
// cropped rows and columns.
func maxPoolFirstGrad(x, dy *graph.Node, k int, channelsLast bool) *graph.Node {
	g := x.Graph()
	r, axes := windowsReshape(x, k, channelsLast)
	keep := func(n *graph.Node) *graph.Node { return graph.ExpandAxes(n, axes[0], axes[1]) }
	rank := r.Rank()
	// pos[.., ky, .., kx, ..] = ky·k + kx, broadcast over the other axes.
	posDims := make([]int, rank)
	for i := range posDims {
		posDims[i] = 1
	}
	posDims[axes[0]], posDims[axes[1]] = k, k
	pos := graph.Reshape(graph.Iota(g, shapes.Make(dtypes.Int32, k*k), 0), posDims...)
	isMax := graph.Equal(r, keep(graph.ReduceMax(r, axes[0], axes[1])))
	candidates := graph.Where(isMax, graph.BroadcastToDims(pos, r.Shape().Dimensions...),
		graph.Scalar(g, dtypes.Int32, k*k))
	first := keep(graph.ReduceMin(candidates, axes[0], axes[1]))
	oneHot := graph.ConvertDType(graph.Equal(graph.BroadcastToDims(pos, r.Shape().Dimensions...), first), dy.DType())
	grad := graph.Reshape(graph.Mul(oneHot, keep(dy)), croppedDims(x, k, channelsLast)...)
	dims := x.Shape().Dimensions
	hAxis, _ := spatialAxes(channelsLast)
	if pad := [2]int{dims[hAxis] % k, dims[hAxis+1] % k}; pad != [2]int{} {
		spec := make([]compute.PadAxis, 4)
		spec[hAxis], spec[hAxis+1] = compute.PadAxis{End: pad[0]}, compute.PadAxis{End: pad[1]}
		grad = graph.Pad(grad, graph.ScalarZero(g, grad.DType()), spec...)
	}
	return grad
}

// croppedDims returns the dimensions of x cropped to whole k×k windows.
func croppedDims(x *graph.Node, k int, channelsLast bool) []int {
	dims := slices.Clone(x.Shape().Dimensions)
	hAxis, _ := spatialAxes(channelsLast)
	dims[hAxis], dims[hAxis+1] = dims[hAxis]/k*k, dims[hAxis+1]/k*k
	return dims
}

// avgPoolReshape is the average pooling of x (NCHW, or NHWC if channelsLast) over k×k windows with
// stride k, without padding (floor mode: trailing rows and columns that do not fill a window are
// dropped, as in PyTorch).
func avgPoolReshape(x *graph.Node, k int, channelsLast bool) *graph.Node {
	r, axes := windowsReshape(x, k, channelsLast)
	return graph.ReduceMean(r, axes[0], axes[1])
}

// GlobalAvgPool2d averages each channel over all positions: [C,H,W] → [C] (PyTorch's
// AdaptiveAvgPool2d(1) followed by Flatten).
type GlobalAvgPool2d struct{}

// GlobalMaxPool2d takes each channel's maximum over all positions: [C,H,W] → [C] (PyTorch's
// AdaptiveMaxPool2d(1) followed by Flatten).
type GlobalMaxPool2d struct{}

// Type implements Layer.
func (GlobalAvgPool2d) Type() string { return "GlobalAvgPool2d" }

// Type implements Layer.
func (GlobalMaxPool2d) Type() string { return "GlobalMaxPool2d" }

// OutputShape implements Layer.
func (GlobalAvgPool2d) OutputShape(in []int) ([]int, error) {
	return globalPoolShape("GlobalAvgPool2d", in)
}

// OutputShape implements Layer.
func (GlobalMaxPool2d) OutputShape(in []int) ([]int, error) {
	return globalPoolShape("GlobalMaxPool2d", in)
}

// globalPoolShape is [C] for a [C,H,W] input.
func globalPoolShape(name string, in []int) ([]int, error) {
	if err := needCHW(name, 0, in); err != nil {
		return nil, err
	}
	return []int{in[0]}, nil
}

// Params implements Layer.
func (GlobalAvgPool2d) Params() []ParamSpec { return nil }

// Params implements Layer.
func (GlobalMaxPool2d) Params() []ParamSpec { return nil }

// Layout implements Layer: the reduction works in either layout.
func (GlobalAvgPool2d) Layout() Layout { return LayoutAny }

// Layout implements Layer.
func (GlobalMaxPool2d) Layout() Layout { return LayoutAny }

// MACs implements Layer.
func (GlobalAvgPool2d) MACs(_, _ []int) int64 { return 0 }

// MACs implements Layer.
func (GlobalMaxPool2d) MACs(_, _ []int) int64 { return 0 }

// Apply implements Layer.
func (GlobalAvgPool2d) Apply(c *Context, x *graph.Node) *graph.Node {
	h, w := spatialAxes(c.ChannelsLast)
	return graph.ReduceMean(x, h, w)
}

// Apply implements Layer.
func (GlobalMaxPool2d) Apply(c *Context, x *graph.Node) *graph.Node {
	h, w := spatialAxes(c.ChannelsLast)
	return graph.ReduceMax(x, h, w)
}

// ONNX implements Layer: GlobalAveragePool, then Flatten.
func (GlobalAvgPool2d) ONNX(e ONNXEmitter, x string) (string, error) {
	return e.Node("Flatten", []string{e.Node("GlobalAveragePool", []string{x})}, AttrInt("axis", 1)), nil
}

// ONNX implements Layer: GlobalMaxPool, then Flatten.
func (GlobalMaxPool2d) ONNX(e ONNXEmitter, x string) (string, error) {
	return e.Node("Flatten", []string{e.Node("GlobalMaxPool", []string{x})}, AttrInt("axis", 1)), nil
}
