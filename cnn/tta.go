package cnn

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/pkg/errors"
)

// TTA is a test-time augmentation of an Evaluator: which views of each image are run through the
// model and how their logits are averaged.
type TTA int

const (
	// TTANone runs the image alone.
	TTANone TTA = iota
	// TTAFlip averages the logits of the image and of its horizontal mirror (the flip of
	// training-time augmentation): two forward passes.
	TTAFlip
	// TTAFlipTranslate is airbench's flip-and-translate TTA: one half the flip TTA of the image, one
	// quarter each the flip TTA of the image shifted by one pixel up-left and down-right (the edge
	// row and column reflected in, as reflect padding by 1 then a 32×32 crop): six forward passes.
	TTAFlipTranslate
)

// allTTA lists the TTA values, for ParseTTA.
func allTTA() []TTA { return []TTA{TTANone, TTAFlip, TTAFlipTranslate} }

// String returns the name of t as flags and reports spell it: none, flip or flip-translate.
func (t TTA) String() string {
	switch t {
	case TTANone:
		return "none"
	case TTAFlip:
		return "flip"
	case TTAFlipTranslate:
		return "flip-translate"
	}
	return fmt.Sprintf("TTA(%d)", int(t))
}

// Views returns the number of forward passes per image that t costs.
func (t TTA) Views() int {
	switch t {
	case TTAFlip:
		return 2
	case TTAFlipTranslate:
		return 6
	}
	return 1
}

// ParseTTA returns the TTA named s (none, flip or flip-translate).
func ParseTTA(s string) (TTA, error) {
	var names []string
	for _, t := range allTTA() {
		if s == t.String() {
			return t, nil
		}
		names = append(names, t.String())
	}
	return TTANone, errors.Errorf("test-time augmentation %q: want %s", s, strings.Join(names, ", "))
}

// ttaLogits returns the logits of images [n,3,H,W] (NCHW) under t, forward computing one view.
func ttaLogits(t TTA, forward func(*graph.Node) *graph.Node, images *graph.Node) *graph.Node {
	flipped := func(x *graph.Node) *graph.Node {
		// NCHW: axis 3 is the width.
		return graph.MulScalar(graph.Add(forward(x), forward(graph.Reverse(x, 3))), 0.5)
	}
	switch t {
	case TTAFlip:
		return flipped(images)
	case TTAFlipTranslate:
		upLeft := shiftReflect(shiftReflect(images, 2, -1), 3, -1)
		downRight := shiftReflect(shiftReflect(images, 2, 1), 3, 1)
		translated := graph.Add(flipped(upLeft), flipped(downRight))
		return graph.Add(graph.MulScalar(flipped(images), 0.5), graph.MulScalar(translated, 0.25))
	}
	return forward(images)
}

// shiftReflect shifts x by one position along axis with the edge reflected in: out[i] = x[r(i+d)]
// for d = ±1, where r reflects −1 to 1 and n to n−2 — the crop at offset 1+d of x reflect-padded
// by 1 (PyTorch's F.pad(x, (1,1,1,1), "reflect")[…, 1+d : 1+d+n]).
func shiftReflect(x *graph.Node, axis, d int) *graph.Node {
	n := x.Shape().Dimensions[axis]
	if d < 0 {
		return graph.Concatenate([]*graph.Node{
			graph.SliceAxis(x, axis, graph.AxisRange(1, 2)),
			graph.SliceAxis(x, axis, graph.AxisRange(0, n-1)),
		}, axis)
	}
	return graph.Concatenate([]*graph.Node{
		graph.SliceAxis(x, axis, graph.AxisRange(1, n)),
		graph.SliceAxis(x, axis, graph.AxisRange(n-2, n-1)),
	}, axis)
}
