package cnn

import (
	"fmt"

	"github.com/pkg/errors"
)

// Layer is one step of a sequential Model, like a module of the lecture's nn.Sequential.
//
// The concrete types (Normalize, Conv2d, ReLU, AvgPool2d, MaxPool2d, Flatten, Linear) are plain
// exported data: the graph builder, the summary table and exporters walk them with a type switch.
// A new layer type is added here and in graph.go's layerGraph; every consumer that does not know it
// fails with an error naming it.
type Layer interface {
	// Type is the layer's name in PyTorch ("Conv2d", "ReLU", ...), used in summaries and JSON.
	Type() string
	// OutputShape returns the layer's output shape (without the batch axis) for the given input
	// shape, or an error naming the layer when the input does not fit.
	OutputShape(in []int) ([]int, error)
	// ParamShapes returns the shapes of the layer's parameters in PyTorch layout, by name
	// ("weight", "bias"), in that order; nil for layers without parameters.
	ParamShapes() []ParamShape
}

// ParamShape names one parameter of a layer and gives its shape in PyTorch layout.
type ParamShape struct {
	// Name is "weight" or "bias", as in PyTorch's state_dict.
	Name string
	// Shape is the PyTorch shape: conv weight [out,in,kh,kw], linear weight [out,in], bias [out].
	Shape []int
	// FanIn is the number of inputs of one output unit, used by PyTorch's default initialisation.
	FanIn int
}

// Size returns the number of values of the parameter.
func (p ParamShape) Size() int {
	return product(p.Shape)
}

// PadMode is the padding mode of a convolution, as PyTorch's padding_mode. Only "zeros" is supported.
type PadMode string

// PadZeros pads with zeros, PyTorch's default padding_mode.
const PadZeros PadMode = "zeros"

// Normalize subtracts a per-channel mean and divides by a per-channel standard deviation, as
// torchvision's transforms.Normalize (here part of the model, so exported models take [0,1] pixels).
type Normalize struct {
	Mean [3]float32 `json:"mean"`
	Std  [3]float32 `json:"std"`
}

// Conv2d is a 2D convolution in NCHW layout, like torch.nn.Conv2d (groups 1, dilation 1, with bias).
type Conv2d struct {
	In      int     `json:"in"`
	Out     int     `json:"out"`
	Kernel  int     `json:"kernel"`
	Stride  int     `json:"stride"`
	Padding int     `json:"padding"`
	PadMode PadMode `json:"pad_mode,omitempty"`
}

// ReLU is the rectified linear unit max(x, 0).
type ReLU struct{}

// AvgPool2d averages non-overlapping (by default) windows, like torch.nn.AvgPool2d without padding.
type AvgPool2d struct {
	Kernel int `json:"kernel"`
	// Stride defaults to Kernel when 0, as in PyTorch.
	Stride int `json:"stride,omitempty"`
}

// MaxPool2d takes the maximum of windows, like torch.nn.MaxPool2d without padding.
type MaxPool2d struct {
	Kernel int `json:"kernel"`
	// Stride defaults to Kernel when 0, as in PyTorch.
	Stride int `json:"stride,omitempty"`
}

// Flatten turns [C,H,W] into [C·H·W] in PyTorch's (row-major NCHW) order, like torch.nn.Flatten.
type Flatten struct{}

// Linear is a fully connected layer y = x·Wᵀ + b with W of shape [Out,In], like torch.nn.Linear.
type Linear struct {
	In  int `json:"in"`
	Out int `json:"out"`
}

// Type implements Layer.
func (Normalize) Type() string { return "Normalize" }

// Type implements Layer.
func (Conv2d) Type() string { return "Conv2d" }

// Type implements Layer.
func (ReLU) Type() string { return "ReLU" }

// Type implements Layer.
func (AvgPool2d) Type() string { return "AvgPool2d" }

// Type implements Layer.
func (MaxPool2d) Type() string { return "MaxPool2d" }

// Type implements Layer.
func (Flatten) Type() string { return "Flatten" }

// Type implements Layer.
func (Linear) Type() string { return "Linear" }

// OutputShape implements Layer: the shape is unchanged; the input must have 3 channels.
func (n Normalize) OutputShape(in []int) ([]int, error) {
	if len(in) != 3 || in[0] != 3 {
		return nil, errors.Errorf("Normalize needs a [3,H,W] input, got %v", in)
	}
	for c, s := range n.Std {
		if !(s > 0) {
			return nil, errors.Errorf("Normalize: std[%d] = %g, must be > 0", c, s)
		}
	}
	return clone(in), nil
}

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
	if h < 1 || w < 1 {
		return nil, errors.Errorf("%s: input %v is smaller than the kernel", c, in)
	}
	return []int{c.Out, h, w}, nil
}

// validate checks the hyper-parameters of a convolution.
func (c Conv2d) validate() error {
	if c.In < 1 || c.Out < 1 || c.Kernel < 1 || c.Stride < 1 || c.Padding < 0 {
		return errors.Errorf("%s: channels, kernel and stride must be ≥ 1 and padding ≥ 0", c)
	}
	if c.PadMode != "" && c.PadMode != PadZeros {
		return errors.Errorf("%s: padding mode %q not supported (only %q)", c, c.PadMode, PadZeros)
	}
	return nil
}

// String returns the layer in PyTorch's notation.
func (c Conv2d) String() string {
	return fmt.Sprintf("Conv2d(%d, %d, kernel_size=%d, stride=%d, padding=%d)", c.In, c.Out, c.Kernel, c.Stride, c.Padding)
}

// OutputShape implements Layer.
func (ReLU) OutputShape(in []int) ([]int, error) { return clone(in), nil }

// OutputShape implements Layer.
func (p AvgPool2d) OutputShape(in []int) ([]int, error) {
	return poolOutputShape("AvgPool2d", p.Kernel, p.Stride, in)
}

// OutputShape implements Layer.
func (p MaxPool2d) OutputShape(in []int) ([]int, error) {
	return poolOutputShape("MaxPool2d", p.Kernel, p.Stride, in)
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

// OutputShape implements Layer.
func (Flatten) OutputShape(in []int) ([]int, error) {
	if len(in) == 0 {
		return nil, errors.New("Flatten needs a non-scalar input")
	}
	return []int{product(in)}, nil
}

// OutputShape implements Layer.
func (l Linear) OutputShape(in []int) ([]int, error) {
	if l.In < 1 || l.Out < 1 {
		return nil, errors.Errorf("Linear(%d, %d): sizes must be ≥ 1", l.In, l.Out)
	}
	if len(in) != 1 || in[0] != l.In {
		return nil, errors.Errorf("Linear(%d, %d) needs a [%d] input (add a Flatten?), got %v", l.In, l.Out, l.In, in)
	}
	return []int{l.Out}, nil
}

// ParamShapes implements Layer.
func (Normalize) ParamShapes() []ParamShape { return nil }

// ParamShapes implements Layer: weight [out,in,k,k] and bias [out].
func (c Conv2d) ParamShapes() []ParamShape {
	fanIn := c.In * c.Kernel * c.Kernel
	return []ParamShape{
		{Name: "weight", Shape: []int{c.Out, c.In, c.Kernel, c.Kernel}, FanIn: fanIn},
		{Name: "bias", Shape: []int{c.Out}, FanIn: fanIn},
	}
}

// ParamShapes implements Layer.
func (ReLU) ParamShapes() []ParamShape { return nil }

// ParamShapes implements Layer.
func (AvgPool2d) ParamShapes() []ParamShape { return nil }

// ParamShapes implements Layer.
func (MaxPool2d) ParamShapes() []ParamShape { return nil }

// ParamShapes implements Layer.
func (Flatten) ParamShapes() []ParamShape { return nil }

// ParamShapes implements Layer: weight [out,in] and bias [out].
func (l Linear) ParamShapes() []ParamShape {
	return []ParamShape{
		{Name: "weight", Shape: []int{l.Out, l.In}, FanIn: l.In},
		{Name: "bias", Shape: []int{l.Out}, FanIn: l.In},
	}
}

// NumParams returns the number of parameters of a layer.
func NumParams(l Layer) int {
	total := 0
	for _, p := range l.ParamShapes() {
		total += p.Size()
	}
	return total
}

// product returns the product of dims (1 for none).
func product(dims []int) int {
	p := 1
	for _, d := range dims {
		p *= d
	}
	return p
}

// clone returns a copy of dims.
func clone(dims []int) []int {
	return append([]int(nil), dims...)
}
