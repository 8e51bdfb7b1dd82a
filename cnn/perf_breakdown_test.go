package cnn

import (
	"github.com/gomlx/compute"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/cnnlab/cnnlab/backend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	timage "github.com/gomlx/gomlx/core/tensors/images"
)

func randT(dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32((i*7919)%1000)/1000 - 0.5
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

func conv2(x, w *graph.Node) *graph.Node {
	return graph.Convolve(x, w).ChannelsAxis(timage.ChannelsLast).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
}

func TestPerfBreakdown(t *testing.T) {
	if os.Getenv("CNNLAB_PERF") == "" {
		t.Skip("CNNLAB_PERF not set")
	}
	b, err := backend.New("xla:cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	B := 128
	x, w, dy := randT(B, 8, 8, 32), randT(3, 3, 32, 64), randT(B, 8, 8, 64)
	y64, gp := randT(B, 8, 8, 64), randT(B, 2, 2, 64)
	c := Conv2d{In: 32, Out: 64, Kernel: 3, Stride: 1, Padding: 1}
	cols, colsT, dyf := randT(B*64, 288), randT(288, B*64), randT(B*64, 64)
	if os.Getenv("CNNLAB_PERF") == "dot" {
		for _, cs := range []struct {
			name string
			fn   func(a, b *graph.Node) *graph.Node
			a    *tensors.Tensor
		}{
			{"dot n,i x n,o", func(a, b *graph.Node) *graph.Node { return graph.Einsum("ni,no->io", a, b) }, cols},
			{"dot i,n x n,o", func(a, b *graph.Node) *graph.Node { return graph.Einsum("in,no->io", a, b) }, colsT},
			{"dot n,i x n,o ->oi", func(a, b *graph.Node) *graph.Node { return graph.Einsum("ni,no->oi", a, b) }, cols},
			{"dot fwd n,i x i,o", func(a, b *graph.Node) *graph.Node {
				return graph.Einsum("ni,io->no", a, graph.Slice(b, graph.AxisRange(0, 288)))
			}, cols},
		} {
			e, _ := graph.NewExec(b, cs.fn)
			e.Call(cs.a, dyf)
			var ts []float64
			for range 7 {
				start := time.Now()
				for range 30 {
					out, err := e.Call(cs.a, dyf)
					if err != nil {
						t.Fatal(err)
					}
					out[0].FinalizeAll()
				}
				ts = append(ts, float64(time.Since(start).Microseconds())/30)
			}
			sort.Float64s(ts)
			t.Logf("%-26s median %7.0f µs  min %7.0f µs", cs.name, ts[3], ts[0])
		}
		return
	}
	cases := []struct {
		name string
		fn   func(x, w, dy, y64, gp *graph.Node) *graph.Node
	}{
		{"noop(x+1)", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return graph.AddScalar(x, 1) }},
		{"conv2 fwd", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return conv2(x, w) }},
		{"conv2 dx", func(x, w, dy, y64, gp *graph.Node) *graph.Node {
			return graph.Gradient(graph.ReduceAllSum(graph.Mul(conv2(x, w), dy)), x)[0]
		}},
		{"conv2 dw", func(x, w, dy, y64, gp *graph.Node) *graph.Node {
			return graph.Gradient(graph.ReduceAllSum(graph.Mul(conv2(x, w), dy)), w)[0]
		}},
		{"conv2 dw raw conv (no transp)", func(x, w, dy, y64, gp *graph.Node) *graph.Node {
			xt := graph.Reshape(x, 32, 8, 8, 128)   // stands for x transposed to [C,H,W,B]
			dyt := graph.Reshape(dy, 8, 8, 128, 64) // stands for dy transposed to [H,W,B,O]
			return graph.Convolve(xt, dyt).ChannelsAxis(timage.ChannelsLast).PaddingPerDim([][2]int{{1, 1}, {1, 1}}).Done()
		}},
		{"transposes for dw", func(x, w, dy, y64, gp *graph.Node) *graph.Node {
			return graph.Add(graph.ReduceAllSum(graph.TransposeAllDims(x, 3, 1, 2, 0)), graph.ReduceAllSum(graph.TransposeAllDims(dy, 1, 2, 0, 3)))
		}},
		{"conv1 im2col fwd", func(x, w, dy, y64, gp *graph.Node) *graph.Node {
			xin := graph.Reshape(graph.Slice(graph.Reshape(y64, -1), graph.AxisRange(0, 128*32*32*3)), 128, 32, 32, 3)
			w1 := graph.Reshape(graph.Slice(graph.Reshape(w, -1), graph.AxisRange(0, 5*5*3*32)), 5, 5, 3, 32)
			return im2colConv(Conv2d{In: 3, Out: 32, Kernel: 5, Stride: 4, Padding: 2}, xin, w1)
		}},
		{"conv1 im2col dw", func(x, w, dy, y64, gp *graph.Node) *graph.Node {
			xin := graph.Reshape(graph.Slice(graph.Reshape(y64, -1), graph.AxisRange(0, 128*32*32*3)), 128, 32, 32, 3)
			w1 := graph.Reshape(graph.Slice(graph.Reshape(w, -1), graph.AxisRange(0, 5*5*3*32)), 5, 5, 3, 32)
			d := graph.Reshape(graph.Slice(graph.Reshape(dy, -1), graph.AxisRange(0, 128*8*8*32)), 128, 8, 8, 32)
			return graph.Gradient(graph.ReduceAllSum(graph.Mul(im2colConv(Conv2d{In: 3, Out: 32, Kernel: 5, Stride: 4, Padding: 2}, xin, w1), d)), w1)[0]
		}},
		{"conv2 dw im2col", func(x, w, dy, y64, gp *graph.Node) *graph.Node {
			return graph.Gradient(graph.ReduceAllSum(graph.Mul(im2colConv(c, x, w), dy)), w)[0]
		}},
		{"conv2 dw 9 dots", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return dw9dots(x, dy) }},
		{"conv2 dw stack0 einsum", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return dwStack(x, dy) }},
		{"conv2 fwd im2col", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return im2colConv(c, x, w) }},
		{"avgpool fwd+bwd", func(x, w, dy, y64, gp *graph.Node) *graph.Node {
			p := graph.MeanPool(y64).ChannelsAxis(timage.ChannelsLast).Window(4).Strides(4).NoPadding().Done()
			return graph.Gradient(graph.ReduceAllSum(graph.Mul(p, gp)), y64)[0]
		}},
		{"avgpool reshape fwd+bwd", func(x, w, dy, y64, gp *graph.Node) *graph.Node {
			p := graph.ReduceMean(graph.Reshape(y64, B, 2, 4, 2, 4, 64), 2, 4)
			return graph.Gradient(graph.ReduceAllSum(graph.Mul(p, gp)), y64)[0]
		}},
	}
	for _, cs := range cases {
		e, err := graph.NewExec(b, cs.fn)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if _, err := e.Call(x, w, dy, y64, gp); err != nil {
				t.Fatal(err)
			}
		}
		var ts []float64
		for range 7 {
			n := 50
			start := time.Now()
			for range n {
				out, err := e.Call(x, w, dy, y64, gp)
				if err != nil {
					t.Fatal(err)
				}
				out[0].FinalizeAll()
			}
			ts = append(ts, float64(time.Since(start).Microseconds())/float64(n))
		}
		sort.Float64s(ts)
		t.Logf("%-26s median %7.0f µs  min %7.0f µs", cs.name, ts[3], ts[0])
	}
}

func shifted(x *graph.Node) []*graph.Node {
	zero := graph.Const(x.Graph(), float32(0))
	xp := graph.Pad(x, zero, compute.PadAxis{}, compute.PadAxis{Start: 1, End: 1}, compute.PadAxis{Start: 1, End: 1}, compute.PadAxis{})
	var out []*graph.Node
	for dy := range 3 {
		for dx := range 3 {
			out = append(out, graph.Slice(xp, graph.AxisRange(), graph.AxisRange(dy, dy+8), graph.AxisRange(dx, dx+8), graph.AxisRange()))
		}
	}
	return out
}

func dw9dots(x, dy *graph.Node) *graph.Node {
	var parts []*graph.Node
	for _, s := range shifted(x) {
		parts = append(parts, graph.InsertAxes(graph.Einsum("bhwi,bhwo->io", s, dy), 0))
	}
	return graph.Reshape(graph.Concatenate(parts, 0), 3, 3, 32, 64)
}

func dwStack(x, dy *graph.Node) *graph.Node {
	var parts []*graph.Node
	for _, s := range shifted(x) {
		parts = append(parts, graph.InsertAxes(s, 0))
	}
	st := graph.Concatenate(parts, 0) // [9,B,8,8,32]
	return graph.Reshape(graph.Einsum("kbhwi,bhwo->kio", st, dy), 3, 3, 32, 64)
}
