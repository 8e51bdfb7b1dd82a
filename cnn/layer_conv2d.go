package cnn

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	timage "github.com/gomlx/gomlx/core/tensors/images"
	"github.com/pkg/errors"
)

// Conv2d is a 2D convolution like torch.nn.Conv2d (dilation 1): weight [Out, In/Groups, K, K] and,
// unless NoBias, bias [Out]. With Whiten its weight is a patch-whitening filter bank computed from
// the data (Trained.InitWhitening) and not trained.
type Conv2d struct {
	In      int     `json:"in"`
	Out     int     `json:"out"`
	Kernel  int     `json:"kernel"`
	Stride  int     `json:"stride"`
	Padding int     `json:"padding"`
	PadMode PadMode `json:"pad_mode,omitempty"`
	// Groups splits the channels into independent groups, as PyTorch's groups; 0 means 1.
	Groups int `json:"groups,omitempty"`
	// NoBias drops the bias (PyTorch's bias=False), as before a BatchNorm2d.
	NoBias bool `json:"no_bias,omitempty"`
	// Whiten makes the weight a buffer — not trained — that Trained.InitWhitening sets from the
	// training images to airbench's patch-whitening filters: the eigenvectors of the K×K×In patch
	// covariance scaled by 1/√(λ+ε), and their negatives. It needs Out = 2·In·K² and one group.
	Whiten bool `json:"whiten,omitempty"`
}

// Type implements Layer.
func (Conv2d) Type() string { return "Conv2d" }

// groups returns the number of channel groups (at least 1).
func (c Conv2d) groups() int { return orOne(c.Groups) }

// OutputShape implements Layer.
func (c Conv2d) OutputShape(in []int) ([]int, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if len(in) != 3 || in[0] != c.In {
		return nil, errors.Errorf("%s needs a [%d,H,W] input, got %v", c, c.In, in)
	}
	h := (in[1]+2*c.Padding-c.Kernel)/c.Stride + 1
	w := (in[2]+2*c.Padding-c.Kernel)/c.Stride + 1
	if h < 1 || w < 1 || in[1]+2*c.Padding < c.Kernel || in[2]+2*c.Padding < c.Kernel {
		return nil, errors.Errorf("%s: input %v is smaller than the kernel", c, in)
	}
	return []int{c.Out, h, w}, nil
}

// validate checks the hyper-parameters of a convolution.
func (c Conv2d) validate() error {
	if c.In < 1 || c.Out < 1 || c.Kernel < 1 || c.Stride < 1 || c.Padding < 0 || c.Groups < 0 {
		return errors.Errorf("%s: channels, kernel and stride must be ≥ 1 and padding ≥ 0", c)
	}
	if c.In%c.groups() != 0 || c.Out%c.groups() != 0 {
		return errors.Errorf("%s: %d groups do not divide the channels", c, c.groups())
	}
	if c.PadMode != "" && c.PadMode != PadZeros && c.PadMode != PadReplicate {
		return errors.Errorf("%s: padding mode %q not supported (%q or %q)", c, c.PadMode, PadZeros, PadReplicate)
	}
	if c.Whiten && (c.groups() != 1 || c.Out != 2*c.In*c.Kernel*c.Kernel) {
		return errors.Errorf("%s: a whitening convolution needs one group and %d = 2·%d·%d² output channels", c, 2*c.In*c.Kernel*c.Kernel, c.In, c.Kernel)
	}
	return nil
}

// String returns the layer in PyTorch's notation.
func (c Conv2d) String() string {
	s := fmt.Sprintf("Conv2d(%d, %d, kernel_size=%d, stride=%d, padding=%d", c.In, c.Out, c.Kernel, c.Stride, c.Padding)
	if c.groups() > 1 {
		s += fmt.Sprintf(", groups=%d", c.groups())
	}
	if c.NoBias {
		s += ", bias=False"
	}
	if c.Whiten {
		s += ", whiten=True"
	}
	return s + ")"
}

// Params implements Layer: weight [out,in/groups,k,k] (a buffer with Whiten) and, unless NoBias,
// bias [out].
func (c Conv2d) Params() []ParamSpec {
	fanIn := c.In / c.groups() * c.Kernel * c.Kernel
	ps := []ParamSpec{{Name: "weight", Shape: []int{c.Out, c.In / c.groups(), c.Kernel, c.Kernel}, FanIn: fanIn, Init: InitFanIn, Buffer: c.Whiten}}
	if !c.NoBias {
		ps = append(ps, ParamSpec{Name: "bias", Shape: []int{c.Out}, FanIn: fanIn, Init: InitFanIn})
	}
	return ps
}

// Layout implements Layer.
func (Conv2d) Layout() Layout { return LayoutSpatial }

// MACs implements Layer: each output value is In/Groups × K × K multiply-accumulates.
func (c Conv2d) MACs(_, out []int) int64 {
	return int64(product(out)) * int64(c.In/c.groups()*c.Kernel*c.Kernel)
}

// Apply implements Layer: the convolution of x (NCHW, or NHWC if c.ChannelsLast: the OIHW kernel is
// transposed to HWIO in the graph), with the graph options' method and batch splitting, plus bias.
func (c Conv2d) Apply(ctx *Context, x *graph.Node) *graph.Node {
	g := x.Graph()
	weight := ctx.Param(g, "weight")
	if c.PadMode == PadReplicate && c.Padding > 0 {
		x = setLayout(Pad2D(setLayout(x, ctx.ChannelsLast, false), c.Padding, PadReplicate), false, ctx.ChannelsLast)
		c.Padding = 0
	}
	axis, biasDims := timage.ChannelsFirst, []int{1, c.Out, 1, 1}
	if ctx.ChannelsLast {
		weight = graph.TransposeAllDims(weight, 2, 3, 1, 0)
		axis, biasDims = timage.ChannelsLast, []int{1, 1, 1, c.Out}
	}
	var y *graph.Node
	if ctx.ChannelsLast && c.useIm2col(ctx.Options, g) {
		y = im2colConv(c, x, weight)
	} else {
		p := c.Padding
		y = splitBatch(x, convBatchChunks(ctx.Options, x), func(x *graph.Node) *graph.Node {
			conv := func(x, w *graph.Node) *graph.Node {
				return graph.Convolve(x, w).ChannelsAxis(axis).Strides(c.Stride).ChannelGroupCount(c.groups()).
					PaddingPerDim([][2]int{{p, p}, {p, p}}).Done()
			}
			if ctx.ChannelsLast && ctx.Options.Im2colKernelGrad && c.groups() == 1 {
				return convIm2colKernelGrad(c, x, weight, conv)
			}
			return conv(x, weight)
		})
	}
	if c.NoBias {
		return y
	}
	return graph.Add(y, graph.Reshape(ctx.Param(g, "bias"), biasDims...))
}

// ONNX implements Layer: Conv (with a Pad of mode edge first for replicate padding).
func (c Conv2d) ONNX(e ONNXEmitter, x string) (string, error) {
	if err := c.validate(); err != nil {
		return "", err
	}
	inputs := []string{x}
	w, err := e.Param("weight")
	if err != nil {
		return "", err
	}
	inputs = append(inputs, w)
	if !c.NoBias {
		b, err := e.Param("bias")
		if err != nil {
			return "", err
		}
		inputs = append(inputs, b)
	}
	p := int64(c.Padding)
	if c.PadMode == PadReplicate && p > 0 {
		pads := e.Int64s("pads", []int64{0, 0, p, p, 0, 0, p, p})
		inputs[0] = e.Node("Pad", []string{x, pads}, AttrString("mode", "edge"))
		p = 0
	}
	k, s := int64(c.Kernel), int64(c.Stride)
	return e.Node("Conv", inputs,
		AttrInts("dilations", 1, 1), AttrInt("group", int64(c.groups())), AttrInts("kernel_shape", k, k),
		AttrInts("pads", p, p, p, p), AttrInts("strides", s, s)), nil
}

// useIm2col reports whether the convolution runs as im2col (see GraphOptions.ConvMethod).
func (c Conv2d) useIm2col(o GraphOptions, g *graph.Graph) bool {
	if c.groups() > 1 {
		return false
	}
	switch o.ConvMethod {
	case ConvIm2col:
		return true
	case ConvNative:
		return false
	}
	return isGoBackend(g) || c.Stride > 1
}

// convBatchChunks returns into how many batch chunks the convolution of x is split.
func convBatchChunks(o GraphOptions, x *graph.Node) int {
	if o.ConvBatchSplit <= 1 {
		return 1
	}
	return max(1, min(o.ConvBatchSplit, x.Shape().Dimensions[0]/max(o.ConvMinChunk, 1)))
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

// convIm2colKernelGrad returns conv(x, hwio) — the backend's convolution of the NHWC x with the
// HWIO kernel, whose gradient with respect to x stays the backend's — with the gradient with
// respect to the kernel computed as im2col instead (GraphOptions.Im2colKernelGrad):
//
//	∂L/∂W[ky,kx,i,o] = Σ_{b,h,w} patches(x)[b,h,w,(ky,kx,i)] · ∂L/∂y[b,h,w,o]
//
// Reverse-mode autodiff reaches the output's identity (which records ∂L/∂y) before the kernel's
// (which then returns the product above): the backend's own kernel gradient, passed to the
// kernel's identity and unused, is removed from the compiled graph.
func convIm2colKernelGrad(c Conv2d, x, hwio *graph.Node, conv func(x, w *graph.Node) *graph.Node) *graph.Node {
	var dy *graph.Node
	w := graph.IdentityWithCustomGradient(hwio, func(w, native *graph.Node) *graph.Node {
		if dy == nil { // Not reached through the output: keep the backend's gradient.
			return native
		}
		grad := graph.Einsum("bhwi,bhwo->io", im2colPatches(c, x), dy)
		return graph.Reshape(grad, w.Shape().Dimensions...)
	})
	return graph.IdentityWithCustomGradient(conv(x, w), func(_, v *graph.Node) *graph.Node {
		dy = v
		return v
	})
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

// PadMode is the padding mode of a convolution, as PyTorch's padding_mode.
type PadMode string

// PadZeros pads with zeros, PyTorch's default padding_mode.
const PadZeros PadMode = "zeros"
