package cnn

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
)

// LeakyReLU is max(x, 0) + Slope·min(x, 0), PyTorch's nn.LeakyReLU(negative_slope=Slope): a ReLU
// whose negative side keeps a small gradient. PyTorch's default slope is 0.01.
type LeakyReLU struct {
	// Slope multiplies the negative inputs; it must be finite.
	Slope float64 `json:"slope"`
}

// Type implements Layer.
func (LeakyReLU) Type() string { return "LeakyReLU" }

// OutputShape implements Layer.
func (l LeakyReLU) OutputShape(in []int) ([]int, error) {
	if l.Slope != l.Slope || l.Slope > 1e300 || l.Slope < -1e300 {
		return nil, fmt.Errorf("LeakyReLU: slope %g is not finite", l.Slope)
	}
	return clone(in), nil
}

// Params implements Layer.
func (LeakyReLU) Params() []ParamSpec { return nil }

// Layout implements Layer.
func (LeakyReLU) Layout() Layout { return LayoutAny }

// Apply implements Layer.
func (l LeakyReLU) Apply(_ *Context, x *graph.Node) *graph.Node {
	zero := graph.ZerosLike(x)
	return graph.Add(graph.Max(x, zero), graph.MulScalar(graph.Min(x, zero), l.Slope))
}

// MACs implements Layer.
func (LeakyReLU) MACs(_, _ []int) int64 { return 0 }

// ONNX implements Layer with the standard LeakyRelu operator (attribute alpha).
func (l LeakyReLU) ONNX(e ONNXEmitter, x string) (string, error) {
	return e.Node("LeakyRelu", []string{x}, AttrFloat("alpha", float32(l.Slope))), nil
}
