package lecture

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/internal/testkit"
	"github.com/gomlx/compute"
)

// The values of the slides are small integers (or quarters), so every result is exact in float32
// whatever the order of summation: the tests compare with ==.

func TestHandConvolution(t *testing.T) {
	testkit.ForEachBackend(t, func(t *testing.T, b compute.Backend) {
		got, err := HandConvolution(b)
		if err != nil {
			t.Fatal(err)
		}
		wantWindow := [][][]float32{
			{{0, 0, 0}, {0, 156, 155}, {0, 153, 154}},
			{{0, 0, 0}, {0, 167, 166}, {0, 164, 165}},
			{{0, 0, 0}, {0, 163, 162}, {0, 160, 161}},
		}
		if !reflect.DeepEqual(got.Window, wantWindow) {
			t.Errorf("Window = %v, want %v", got.Window, wantWindow)
		}
		if want := []float32{308, -498, 164}; !reflect.DeepEqual(got.ChannelSums, want) {
			t.Errorf("ChannelSums = %v, want %v (slide)", got.ChannelSums, want)
		}
		if got.Output != -25 || got.Bias != 1 {
			t.Errorf("Output = %v (bias %v), want -25 (bias 1) as on the slide", got.Output, got.Bias)
		}
	})
}

// referenceConv2D is a plain-Go single-channel cross-correlation with zero padding, the reference
// for Convolve2D.
func referenceConv2D(input, kernel [][]float32, stride, padding int) [][]float32 {
	padded := referencePad(input, padding, cnn.PadZeros)
	return referenceValidConv(padded, kernel, stride)
}

// referenceValidConv correlates kernel with input at every stride-th position without padding.
func referenceValidConv(input, kernel [][]float32, stride int) [][]float32 {
	h := (len(input)-len(kernel))/stride + 1
	w := (len(input[0])-len(kernel[0]))/stride + 1
	out := make([][]float32, h)
	for i := range out {
		out[i] = make([]float32, w)
		for j := range out[i] {
			for di, row := range kernel {
				for dj, k := range row {
					out[i][j] += input[i*stride+di][j*stride+dj] * k
				}
			}
		}
	}
	return out
}

// referencePad pads a matrix by p on each side with zeros or by replicating the border.
func referencePad(input [][]float32, p int, mode cnn.PadMode) [][]float32 {
	h, w := len(input), len(input[0])
	clamp := func(v, n int) int { return min(max(v, 0), n-1) }
	out := make([][]float32, h+2*p)
	for i := range out {
		out[i] = make([]float32, w+2*p)
		for j := range out[i] {
			si, sj := i-p, j-p
			inside := si >= 0 && si < h && sj >= 0 && sj < w
			switch {
			case inside:
				out[i][j] = input[si][sj]
			case mode == cnn.PadReplicate:
				out[i][j] = input[clamp(si, h)][clamp(sj, w)]
			}
		}
	}
	return out
}

func TestRunConv2DStrideAndPadding(t *testing.T) {
	input, kernel := StrideInput(), StrideKernel()
	// The slide's example is fixed by its exact (corrected) values; stride 1 keeps the 5×5 size
	// with padding (k−1)/2 = 1 and is checked against the plain-Go reference.
	tests := []struct {
		name string
		opts ConvOptions
		want [][]float32
	}{
		{"slide stride 2 padding 1 (corrected)", StrideOptions(),
			[][]float32{{1, 5, 6}, {7, 8, 3}, {3, 10, 4}}},
		{"stride 1 padding 1 keeps 5x5", ConvOptions{Stride: 1, Padding: 1},
			referenceConv2D(input, kernel, 1, 1)},
		{"stride 1 no padding", ConvOptions{}, referenceConv2D(input, kernel, 1, 0)},
		{"stride 2 padding 1 reference", StrideOptions(), referenceConv2D(input, kernel, 2, 1)},
		{"replicate padding 1", ConvOptions{Padding: 1, PadMode: cnn.PadReplicate},
			referenceValidConv(referencePad(input, 1, cnn.PadReplicate), kernel, 1)},
		{"replicate padding 2 stride 2", ConvOptions{Padding: 2, Stride: 2, PadMode: cnn.PadReplicate},
			referenceValidConv(referencePad(input, 2, cnn.PadReplicate), kernel, 2)},
	}
	testkit.ForEachBackend(t, func(t *testing.T, b compute.Backend) {
		for _, tc := range tests {
			got, err := RunConv2D(b, input, kernel, tc.opts)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			}
		}
	})
}

func TestSlideStrideOutputErratum(t *testing.T) {
	// The slide's printed map differs from the true convolution (a known error of the figure).
	ref := referenceConv2D(StrideInput(), StrideKernel(), 2, 1)
	if reflect.DeepEqual(ref, SlideStrideOutputErratum()) {
		t.Fatalf("the slide's printed output %v equals the computed one; it is documented as an erratum",
			SlideStrideOutputErratum())
	}
	if n := len(SlideStrideOutputErratum()); n != len(ref) {
		t.Errorf("erratum has %d rows, the true map %d", n, len(ref))
	}
}

func TestRunPad2D(t *testing.T) {
	input := StrideInput()
	testkit.ForEachBackend(t, func(t *testing.T, b compute.Backend) {
		for _, mode := range []cnn.PadMode{cnn.PadZeros, cnn.PadReplicate} {
			for _, p := range []int{0, 1, 2} {
				got, err := RunPad2D(b, input, p, mode)
				if err != nil {
					t.Fatalf("%s p=%d: %v", mode, p, err)
				}
				if want := referencePad(input, p, mode); !reflect.DeepEqual(got, want) {
					t.Errorf("%s p=%d: got %v, want %v", mode, p, got, want)
				}
			}
		}
		// A hand-written corner: replicate padding copies the corner value 2 into the 3×3 corner.
		got, err := RunPad2D(b, [][]float32{{2, 3}, {0, 1}}, 1, cnn.PadReplicate)
		if err != nil {
			t.Fatal(err)
		}
		want := [][]float32{{2, 2, 3, 3}, {2, 2, 3, 3}, {0, 0, 1, 1}, {0, 0, 1, 1}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("replicate 2×2: got %v, want %v", got, want)
		}
	})
}

func TestRunPool2D(t *testing.T) {
	tests := []struct {
		op   PoolOp
		want [][]float32
	}{
		{PoolAverage, [][]float32{{4.25, 4.25}, {4.25, 3.5}}},
		{PoolMax, [][]float32{{9, 7}, {8, 6}}},
	}
	testkit.ForEachBackend(t, func(t *testing.T, b compute.Backend) {
		for _, tc := range tests {
			got, err := RunPool2D(b, PoolInput(), 2, 2, tc.op)
			if err != nil {
				t.Fatalf("%s: %v", tc.op, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s pooling: got %v, want %v (slide)", tc.op, got, tc.want)
			}
		}
	})
}

func TestRunErrors(t *testing.T) {
	testkit.ForEachBackend(t, func(t *testing.T, b compute.Backend) {
		if _, err := RunConv2D(b, [][]float32{{1, 2}, {3}}, StrideKernel(), ConvOptions{}); err == nil {
			t.Error("RunConv2D accepted a ragged input")
		}
		if _, err := RunConv2D(b, [][]float32{{1}}, StrideKernel(), ConvOptions{}); err == nil {
			t.Error("RunConv2D accepted a kernel larger than the input")
		}
		if _, err := RunPad2D(b, PoolInput(), 1, cnn.PadMode("circular")); err == nil {
			t.Error("RunPad2D accepted an unknown padding mode")
		}
		if _, err := RunPool2D(b, PoolInput(), 2, 2, PoolOp("median")); err == nil {
			t.Error("RunPool2D accepted an unknown pooling operation")
		}
	})
}

func TestOutputSize(t *testing.T) {
	tests := []struct {
		n, kernel, stride, padding, want int
	}{
		{5, 3, 2, 1, 3},  // slide "padding and stride".
		{5, 3, 1, 1, 5},  // stride 1, padding (k−1)/2 keeps the size.
		{5, 3, 1, 0, 3},  // no padding.
		{4, 2, 2, 0, 2},  // pooling slide.
		{32, 5, 4, 2, 8}, // lecture CNN, first convolution.
		{8, 3, 1, 1, 8},  // lecture CNN, second convolution.
		{8, 4, 4, 0, 2},  // lecture CNN, AvgPool2d(4).
		{2, 5, 1, 1, 0},  // kernel does not fit.
		{5, 3, 0, 1, 0},  // invalid stride.
		{5, 3, 1, -1, 0}, // invalid padding.
	}
	for _, tc := range tests {
		if got := cnn.OutputSize(tc.n, tc.kernel, tc.stride, tc.padding); got != tc.want {
			t.Errorf("OutputSize(n=%d, k=%d, s=%d, p=%d) = %d, want %d",
				tc.n, tc.kernel, tc.stride, tc.padding, got, tc.want)
		}
	}
	// The lecture CNN: 32 → conv k5 s4 p2 → conv k3 s1 p1 → avgpool 4; 64 channels · 2 · 2 = 256.
	size := cnn.OutputSize(cnn.OutputSize(cnn.OutputSize(32, 5, 4, 2), 3, 1, 1), 4, 4, 0)
	if flat := 64 * size * size; flat != 256 {
		t.Errorf("lecture CNN flattens to %d features, want 256", flat)
	}
}

// ExampleOutputSize shows the formula on the lecture CNN's first convolution.
func ExampleOutputSize() {
	fmt.Println(cnn.OutputSize(32, 5, 4, 2))
	// Output: 8
}
