package cnn

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/pkg/errors"
)

// BatchNorm2d normalises each channel, like torch.nn.BatchNorm2d: in training with the batch's
// mean and (biased) variance over N, H, W, updating the running statistics as
// running ← (1 − momentum)·running + momentum·batch (the variance unbiased, ×n/(n−1)); in inference
// with the running statistics. y = (x − mean)/√(var + eps)·weight + bias. Gradients flow through
// the batch statistics, as in PyTorch.
type BatchNorm2d struct {
	// Channels is num_features.
	Channels int `json:"channels"`
	// Momentum is PyTorch's momentum (0.1 by default, see NewBatchNorm2d).
	Momentum float64 `json:"momentum"`
	// Eps is added to the variance (1e-5 by default).
	Eps float64 `json:"eps"`
	// NoScale drops the learned weight (fixed at 1; airbench's BN without scale).
	NoScale bool `json:"no_scale,omitempty"`
}

// NewBatchNorm2d returns a BatchNorm2d with PyTorch's defaults: momentum 0.1, eps 1e-5.
func NewBatchNorm2d(channels int) BatchNorm2d {
	return BatchNorm2d{Channels: channels, Momentum: 0.1, Eps: 1e-5}
}

// Type implements Layer.
func (BatchNorm2d) Type() string { return "BatchNorm2d" }

// OutputShape implements Layer.
func (b BatchNorm2d) OutputShape(in []int) ([]int, error) {
	if b.Channels < 1 || !(b.Momentum > 0 && b.Momentum <= 1) || !(b.Eps > 0) {
		return nil, errors.Errorf("BatchNorm2d(%d, momentum=%g, eps=%g): need channels ≥ 1, 0 < momentum ≤ 1, eps > 0",
			b.Channels, b.Momentum, b.Eps)
	}
	if err := needCHW("BatchNorm2d", b.Channels, in); err != nil {
		return nil, err
	}
	return clone(in), nil
}

// Params implements Layer: weight (unless NoScale) and bias are trained; running_mean and
// running_var are buffers.
func (b BatchNorm2d) Params() []ParamSpec {
	shape := []int{b.Channels}
	var ps []ParamSpec
	if !b.NoScale {
		ps = append(ps, ParamSpec{Name: "weight", Shape: shape, Init: InitOnes})
	}
	return append(ps,
		ParamSpec{Name: "bias", Shape: shape, Init: InitZeros},
		ParamSpec{Name: "running_mean", Shape: shape, Init: InitZeros, Buffer: true},
		ParamSpec{Name: "running_var", Shape: shape, Init: InitOnes, Buffer: true})
}

// Layout implements Layer.
func (BatchNorm2d) Layout() Layout { return LayoutAny }

// CouplesBatch implements BatchCoupler: training uses the batch's statistics.
func (BatchNorm2d) CouplesBatch() bool { return true }

// MACs implements Layer (per-element work is not counted).
func (BatchNorm2d) MACs(_, _ []int) int64 { return 0 }

// Apply implements Layer.
func (b BatchNorm2d) Apply(c *Context, x *graph.Node) *graph.Node {
	g := x.Graph()
	ch := channelAxis(c.ChannelsLast)
	dims := []int{1, 1, 1, 1}
	dims[ch] = b.Channels
	var mean, variance *graph.Node
	if c.Training {
		axes := make([]int, 0, 3)
		for a := range 4 {
			if a != ch {
				axes = append(axes, a)
			}
		}
		mean = graph.ReduceMean(x, axes...)
		centred := graph.Sub(x, graph.Reshape(mean, dims...))
		variance = graph.ReduceMean(graph.Square(centred), axes...)
		n := float64(x.Shape().Size() / b.Channels)
		m := b.Momentum
		update := func(name string, batch *graph.Node) {
			running := c.Param(g, name)
			c.SetBuffer(name, graph.Add(graph.MulScalar(running, 1-m), graph.MulScalar(graph.StopGradient(batch), m)))
		}
		update("running_mean", mean)
		update("running_var", graph.MulScalar(variance, n/max(n-1, 1)))
	} else {
		mean, variance = c.Param(g, "running_mean"), c.Param(g, "running_var")
	}
	y := graph.Div(graph.Sub(x, graph.Reshape(mean, dims...)), graph.Sqrt(graph.AddScalar(graph.Reshape(variance, dims...), b.Eps)))
	if !b.NoScale {
		y = graph.Mul(y, graph.Reshape(c.Param(g, "weight"), dims...))
	}
	return graph.Add(y, graph.Reshape(c.Param(g, "bias"), dims...))
}

// ONNX implements Layer: BatchNormalization in inference mode with the running statistics
// (a constant scale of ones when NoScale).
func (b BatchNorm2d) ONNX(e ONNXEmitter, x string) (string, error) {
	var scale string
	if b.NoScale {
		ones := make([]float32, b.Channels)
		for i := range ones {
			ones[i] = 1
		}
		scale = e.Const("weight", ones, b.Channels)
	} else {
		var err error
		if scale, err = e.Param("weight"); err != nil {
			return "", err
		}
	}
	inputs := []string{x, scale}
	for _, name := range []string{"bias", "running_mean", "running_var"} {
		p, err := e.Param(name)
		if err != nil {
			return "", err
		}
		inputs = append(inputs, p)
	}
	return e.Node("BatchNormalization", inputs, AttrFloat("epsilon", float32(b.Eps)), AttrFloat("momentum", float32(1-b.Momentum))), nil
}

// Dropout zeroes each value with probability P while training and scales the others by 1/(1−P),
// like torch.nn.Dropout; in inference it is the identity (and is left out of ONNX). Its random
// numbers come from the model's store, seeded by NewTrained and saved in checkpoints.
type Dropout struct {
	P float64 `json:"p"`
}

// Type implements Layer.
func (Dropout) Type() string { return "Dropout" }

// OutputShape implements Layer.
func (d Dropout) OutputShape(in []int) ([]int, error) {
	if !(d.P >= 0 && d.P < 1) {
		return nil, errors.Errorf("Dropout(p=%g): p must be in [0, 1)", d.P)
	}
	return clone(in), nil
}

// Params implements Layer.
func (Dropout) Params() []ParamSpec { return nil }

// Layout implements Layer.
func (Dropout) Layout() Layout { return LayoutAny }

// MACs implements Layer.
func (Dropout) MACs(_, _ []int) int64 { return 0 }

// Apply implements Layer.
func (d Dropout) Apply(c *Context, x *graph.Node) *graph.Node {
	if !c.Training || d.P == 0 {
		return x
	}
	// The mask is drawn in NCHW order whatever the layout, so that it does not depend on it.
	nchw := setLayout(x, c.ChannelsLast, false)
	u := setLayout(c.RandomUniform(x.Graph(), nchw.Shape()), false, c.ChannelsLast)
	keep := graph.ConvertDType(graph.GreaterOrEqual(u, graph.Scalar(u.Graph(), u.DType(), d.P)), x.DType())
	return graph.Mul(x, graph.MulScalar(keep, 1/(1-d.P)))
}

// ONNX implements Layer: nothing in inference.
func (Dropout) ONNX(_ ONNXEmitter, x string) (string, error) { return x, nil }
