package cnn

import (
	"testing"

	"github.com/cnnlab/cnnlab/internal/testkit"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// TestMaxPoolFirstMaxGradient checks maxPoolReshape's values and its gradient's tie rule exactly:
// the gradient of each window goes to its first maximum in row-major order, as PyTorch's
// max_pool2d, and the rows and columns cropped by floor mode get none. Input: one 1-channel 5×5
// image whose top-left window is constant (four tied maxima), pooled 2×2.
func TestMaxPoolFirstMaxGradient(t *testing.T) {
	img := []float32{
		7, 7, 1, 2, 9,
		7, 7, 3, 0, 9,
		4, 5, 5, 6, 9,
		6, 1, 6, 2, 9,
		9, 9, 9, 9, 9,
	}
	wantY := []float32{7, 3, 6, 6}
	// dy = (1, 2, 3, 4) for the four windows: the tie of window 0 gives all to (0,0); window 1's
	// maximum 3 is at (1,2); window 2 (rows 2-3, cols 0-1) has 6 at (3,0); window 3 has 6 at (2,3)
	// and at (3,2): the first, (2,3), gets it. Row 4 and column 4 are cropped.
	wantGrad := []float32{
		1, 0, 0, 0, 0,
		0, 0, 2, 0, 0,
		0, 0, 0, 4, 0,
		3, 0, 0, 0, 0,
		0, 0, 0, 0, 0,
	}
	for name, b := range testkit.Backends(t) {
		for _, channelsLast := range []bool{false, true} {
			x := tensors.FromFlatDataAndDimensions(img, 1, 1, 5, 5) // NCHW; with one channel NHWC is a reshape.
			dy := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4}, 1, 1, 2, 2)
			e, err := graph.NewExec(b, func(x, dy *graph.Node) []*graph.Node {
				if channelsLast {
					x, dy = graph.Reshape(x, 1, 5, 5, 1), graph.Reshape(dy, 1, 2, 2, 1)
				}
				y := maxPoolReshape(x, 2, channelsLast)
				grad := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, dy)), x)[0]
				return []*graph.Node{graph.Reshape(y, 4), graph.Reshape(grad, 25)}
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := e.Call(x, dy)
			if err != nil {
				t.Fatalf("%s channels-last %v: %v", name, channelsLast, err)
			}
			gotY, gotGrad := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
			for i := range wantY {
				if gotY[i] != wantY[i] {
					t.Errorf("%s channels-last %v: pooled %v, want %v", name, channelsLast, gotY, wantY)
					break
				}
			}
			for i := range wantGrad {
				if gotGrad[i] != wantGrad[i] {
					t.Errorf("%s channels-last %v: gradient\n%v\nwant\n%v", name, channelsLast, gotGrad, wantGrad)
					break
				}
			}
		}
	}
}
