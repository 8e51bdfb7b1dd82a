package cnn

// Padding and the output-size formula: the lecture's zero and replicate padding, used by Conv2d and
// by the slides' examples (package lecture) alike.

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// PadReplicate pads by repeating the border values outward (PyTorch's padding_mode="replicate",
// NumPy's "edge"): the lecture's second way of padding, besides zeros.
const PadReplicate PadMode = "replicate"

// OutputSize returns the size of a convolution's (or pooling's) output along one spatial axis, the
// lecture's formula ⌊(n + 2p − k)/s⌋ + 1 for an input of size n, kernel size k, stride s and
// padding p on each side. It returns 0 when the arguments are invalid (n or k < 1, s < 1, p < 0)
// or when the kernel does not fit in the padded input.
func OutputSize(n, kernel, stride, padding int) int {
	if n < 1 || kernel < 1 || stride < 1 || padding < 0 || n+2*padding < kernel {
		return 0
	}
	return (n+2*padding-kernel)/stride + 1
}

// Pad2D pads the two spatial axes of x, shaped NCHW ([batch, channels, height, width]), by p
// values on each side: with zeros for PadZeros (or an empty mode), or with copies of the border
// values for PadReplicate.
//
// GoMLX's Pad only fills with a constant, so replicate padding concatenates copies of the first
// and last row (column). This is a graph-building function and panics on invalid arguments, as
// GoMLX's operations do.
func Pad2D(x *graph.Node, p int, mode PadMode) *graph.Node {
	if x.Rank() != 4 {
		exceptions.Panicf("Pad2D: x must be NCHW (rank 4), got shape %s", x.Shape())
	}
	if p < 0 {
		exceptions.Panicf("Pad2D: padding must be ≥ 0, got %d", p)
	}
	switch mode {
	case PadZeros, "":
		if p == 0 {
			return x
		}
		zero := graph.ScalarZero(x.Graph(), x.DType())
		return graph.Pad(x, zero, graph.PadAxis{}, graph.PadAxis{}, graph.PadAxis{Start: p, End: p},
			graph.PadAxis{Start: p, End: p})
	case PadReplicate:
		return replicateAxis(replicateAxis(x, 2, p), 3, p)
	default:
		exceptions.Panicf("Pad2D: padding mode %q not supported (use %q or %q)", mode, PadZeros, PadReplicate)
		return nil
	}
}

// replicateAxis pads x along axis with p copies of its first and of its last slice.
func replicateAxis(x *graph.Node, axis, p int) *graph.Node {
	if p == 0 {
		return x
	}
	n := x.Shape().Dimensions[axis]
	if n < 1 {
		exceptions.Panicf("Pad2D: cannot replicate the border of an empty axis %d of %s", axis, x.Shape())
	}
	first := graph.SliceAxis(x, axis, graph.AxisRange(0, 1))
	last := graph.SliceAxis(x, axis, graph.AxisRange(n-1, n))
	parts := make([]*graph.Node, 0, 2*p+1)
	for range p {
		parts = append(parts, first)
	}
	parts = append(parts, x)
	for range p {
		parts = append(parts, last)
	}
	return graph.Concatenate(parts, axis)
}

// orOne returns v, or 1 when v is 0 (an unset stride or group count).
func orOne(v int) int {
	if v == 0 {
		return 1
	}
	return v
}
