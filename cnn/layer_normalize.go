package cnn

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/pkg/errors"
)

// Normalize subtracts a per-channel mean and divides by a per-channel standard deviation, as
// torchvision's transforms.Normalize (here part of the model, so exported models take [0,1] pixels).
type Normalize struct {
	Mean [3]float32 `json:"mean"`
	Std  [3]float32 `json:"std"`
}

// Type implements Layer.
func (Normalize) Type() string { return "Normalize" }

// OutputShape implements Layer: the shape is unchanged; the input must have 3 channels.
func (n Normalize) OutputShape(in []int) ([]int, error) {
	if err := needCHW("Normalize", 3, in); err != nil {
		return nil, err
	}
	for c, s := range n.Std {
		if !(s > 0) {
			return nil, errors.Errorf("Normalize: std[%d] = %g, must be > 0", c, s)
		}
	}
	return clone(in), nil
}

// Params implements Layer: the constants are hyper-parameters, not parameters.
func (Normalize) Params() []ParamSpec { return nil }

// Layout implements Layer.
func (Normalize) Layout() Layout { return LayoutAny }

// Apply implements Layer: (x − mean) / std per channel.
func (n Normalize) Apply(c *Context, x *graph.Node) *graph.Node {
	g := x.Graph()
	dims := []int{1, 1, 1, 1}
	dims[channelAxis(c.ChannelsLast)] = 3
	mean := graph.Reshape(graph.Const(g, n.Mean[:]), dims...)
	std := graph.Reshape(graph.Const(g, n.Std[:]), dims...)
	return graph.Div(graph.Sub(x, mean), std)
}

// MACs implements Layer (element-wise work is not counted).
func (Normalize) MACs(_, _ []int) int64 { return 0 }

// ONNX implements Layer: Sub and Div by [1,3,1,1] constants.
func (n Normalize) ONNX(e ONNXEmitter, x string) (string, error) {
	mean := e.Const("mean", n.Mean[:], 1, 3, 1, 1)
	std := e.Const("std", n.Std[:], 1, 3, 1, 1)
	return e.Node("Div", []string{e.Node("Sub", []string{x, mean}), std}), nil
}
