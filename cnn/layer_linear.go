package cnn

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/pkg/errors"
)

// Flatten turns [C,H,W] into [C·H·W] in PyTorch's (row-major NCHW) order, like torch.nn.Flatten.
type Flatten struct{}

// Type implements Layer.
func (Flatten) Type() string { return "Flatten" }

// OutputShape implements Layer.
func (Flatten) OutputShape(in []int) ([]int, error) {
	if len(in) == 0 {
		return nil, errors.New("Flatten needs a non-scalar input")
	}
	return []int{product(in)}, nil
}

// Params implements Layer.
func (Flatten) Params() []ParamSpec { return nil }

// Layout implements Layer: PyTorch's order is NCHW's.
func (Flatten) Layout() Layout { return LayoutNCHW }

// Apply implements Layer.
func (Flatten) Apply(_ *Context, x *graph.Node) *graph.Node {
	return graph.Reshape(x, x.Shape().Dimensions[0], -1)
}

// MACs implements Layer.
func (Flatten) MACs(_, _ []int) int64 { return 0 }

// ONNX implements Layer.
func (Flatten) ONNX(e ONNXEmitter, x string) (string, error) {
	return e.Node("Flatten", []string{x}, AttrInt("axis", 1)), nil
}

// Linear is a fully connected layer y = x·Wᵀ + b with W of shape [Out,In], like torch.nn.Linear.
type Linear struct {
	In  int `json:"in"`
	Out int `json:"out"`
}

// Type implements Layer.
func (Linear) Type() string { return "Linear" }

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

// Params implements Layer: weight [out,in] and bias [out].
func (l Linear) Params() []ParamSpec {
	return []ParamSpec{
		{Name: "weight", Shape: []int{l.Out, l.In}, FanIn: l.In, Init: InitFanIn},
		{Name: "bias", Shape: []int{l.Out}, FanIn: l.In, Init: InitFanIn},
	}
}

// Layout implements Layer.
func (Linear) Layout() Layout { return LayoutNCHW }

// Apply implements Layer.
func (l Linear) Apply(c *Context, x *graph.Node) *graph.Node {
	g := x.Graph()
	y := graph.Einsum("bi,oi->bo", x, c.Param(g, "weight"))
	return graph.Add(y, graph.InsertAxes(c.Param(g, "bias"), 0))
}

// MACs implements Layer.
func (l Linear) MACs(_, _ []int) int64 { return int64(l.In) * int64(l.Out) }

// ONNX implements Layer: Gemm with transB.
func (l Linear) ONNX(e ONNXEmitter, x string) (string, error) {
	w, err := e.Param("weight")
	if err != nil {
		return "", err
	}
	b, err := e.Param("bias")
	if err != nil {
		return "", err
	}
	return e.Node("Gemm", []string{x, w, b}, AttrFloat("alpha", 1), AttrFloat("beta", 1), AttrInt("transB", 1)), nil
}

// Scale multiplies its input by a constant Factor (e.g. a head that divides the logits by a
// temperature, as airbench's 1/8).
type Scale struct {
	Factor float32 `json:"factor"`
}

// Type implements Layer.
func (Scale) Type() string { return "Scale" }

// OutputShape implements Layer.
func (s Scale) OutputShape(in []int) ([]int, error) {
	if s.Factor == 0 || s.Factor != s.Factor {
		return nil, errors.Errorf("Scale(%g): the factor must be a non-zero number", s.Factor)
	}
	return clone(in), nil
}

// Params implements Layer.
func (Scale) Params() []ParamSpec { return nil }

// Layout implements Layer.
func (Scale) Layout() Layout { return LayoutAny }

// Apply implements Layer.
func (s Scale) Apply(_ *Context, x *graph.Node) *graph.Node {
	return graph.MulScalar(x, float64(s.Factor))
}

// MACs implements Layer.
func (Scale) MACs(_, _ []int) int64 { return 0 }

// ONNX implements Layer: Mul by a scalar constant.
func (s Scale) ONNX(e ONNXEmitter, x string) (string, error) {
	return e.Node("Mul", []string{x, e.Const("factor", []float32{s.Factor})}), nil
}
