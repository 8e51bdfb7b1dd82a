package cnn

import (
	"math"

	"github.com/gomlx/gomlx/core/graph"
)

// ReLU is the rectified linear unit max(x, 0).
type ReLU struct{}

// Type implements Layer.
func (ReLU) Type() string { return "ReLU" }

// OutputShape implements Layer.
func (ReLU) OutputShape(in []int) ([]int, error) { return clone(in), nil }

// Params implements Layer.
func (ReLU) Params() []ParamSpec { return nil }

// Layout implements Layer.
func (ReLU) Layout() Layout { return LayoutAny }

// Apply implements Layer.
func (ReLU) Apply(_ *Context, x *graph.Node) *graph.Node { return graph.Max(x, graph.ZerosLike(x)) }

// MACs implements Layer.
func (ReLU) MACs(_, _ []int) int64 { return 0 }

// ONNX implements Layer.
func (ReLU) ONNX(e ONNXEmitter, x string) (string, error) { return e.Node("Relu", []string{x}), nil }

// GELU is the Gaussian error linear unit x·Φ(x) = x·½(1 + erf(x/√2)), PyTorch's nn.GELU() (the
// exact form, not the tanh approximation).
type GELU struct{}

// Type implements Layer.
func (GELU) Type() string { return "GELU" }

// OutputShape implements Layer.
func (GELU) OutputShape(in []int) ([]int, error) { return clone(in), nil }

// Params implements Layer.
func (GELU) Params() []ParamSpec { return nil }

// Layout implements Layer.
func (GELU) Layout() Layout { return LayoutAny }

// Apply implements Layer.
func (GELU) Apply(_ *Context, x *graph.Node) *graph.Node {
	cdf := graph.MulScalar(graph.AddScalar(graph.Erf(graph.DivScalar(x, math.Sqrt2)), 1), 0.5)
	return graph.Mul(x, cdf)
}

// MACs implements Layer.
func (GELU) MACs(_, _ []int) int64 { return 0 }

// ONNX implements Layer: opset 17 has no Gelu operator (it came in opset 20), so its Erf form:
// x · ½ · (1 + Erf(x / √2)).
func (GELU) ONNX(e ONNXEmitter, x string) (string, error) {
	sqrt2 := e.Const("sqrt2", []float32{math.Sqrt2})
	one := e.Const("one", []float32{1})
	half := e.Const("half", []float32{0.5})
	erf := e.Node("Erf", []string{e.Node("Div", []string{x, sqrt2})})
	cdf := e.Node("Mul", []string{e.Node("Add", []string{erf, one}), half})
	return e.Node("Mul", []string{x, cdf}), nil
}
