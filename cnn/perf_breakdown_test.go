package cnn

import (
	"os"
	"sort"
	"testing"
	"time"

	"github.com/gomlx/compute"

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
		{"conv1 patches only", func(x, w, dy, y64, gp *graph.Node) *graph.Node {
			xin := graph.Reshape(graph.Slice(graph.Reshape(y64, -1), graph.AxisRange(0, 128*32*32*3)), 128, 32, 32, 3)
			return im2colPatches(Conv2d{In: 3, Out: 32, Kernel: 5, Stride: 4, Padding: 2}, xin)
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
		{"conv2 dw splitK2 im2col", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return dwSplitK(c, x, dy, 2) }},
		{"conv2 dw splitK4 im2col", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return dwSplitK(c, x, dy, 4) }},
		{"conv2 dw halves native", func(x, w, dy, y64, gp *graph.Node) *graph.Node {
			h := B / 2
			var parts []*graph.Node
			for i := range 2 {
				xs := graph.Slice(x, graph.AxisRange(i*h, (i+1)*h))
				ds := graph.Slice(dy, graph.AxisRange(i*h, (i+1)*h))
				parts = append(parts, graph.Gradient(graph.ReduceAllSum(graph.Mul(conv2(xs, w), ds)), w)[0])
			}
			return graph.Add(parts[0], parts[1])
		}},
		{"conv2 all native", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return convAll(x, w, dy, 1, conv2) }},
		{"conv2 all halves", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return convAll(x, w, dy, 2, conv2) }},
		{"conv2 all quarters", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return convAll(x, w, dy, 4, conv2) }},
		{"conv1 all im2col", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return conv1All(y64, w, dy, 1) }},
		{"conv1 all im2col halves", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return conv1All(y64, w, dy, 2) }},
		{"conv1 all im2col quarters", func(x, w, dy, y64, gp *graph.Node) *graph.Node { return conv1All(y64, w, dy, 4) }},
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

// dwSplitK is conv c's kernel gradient as im2col, the batch reduction split into p chunks (a batched
// matrix product, then a sum).
func dwSplitK(c Conv2d, x, dy *graph.Node, p int) *graph.Node {
	cols := im2colPatches(c, x) // [B,H',W',K·K·C]
	d := cols.Shape().Dimensions
	n := d[0] * d[1] * d[2] / p
	colsP := graph.Reshape(cols, p, n, d[3])
	dyP := graph.Reshape(dy, p, n, c.Out)
	return graph.Reshape(graph.ReduceSum(graph.Einsum("pni,pno->pio", colsP, dyP), 0), c.Kernel, c.Kernel, c.In, c.Out)
}

// convAll is conv's forward and both gradients with the batch split into p chunks.
func convAll(x, w, dy *graph.Node, p int, conv func(x, w *graph.Node) *graph.Node) *graph.Node {
	n := x.Shape().Dimensions[0] / p
	var ys []*graph.Node
	for i := range p {
		ys = append(ys, conv(graph.Slice(x, graph.AxisRange(i*n, (i+1)*n)), w))
	}
	y := ys[0]
	if p > 1 {
		y = graph.Concatenate(ys, 0)
	}
	g := graph.Gradient(graph.ReduceAllSum(graph.Mul(y, dy)), x, w)
	return graph.Add(graph.ReduceAllSum(g[0]), graph.ReduceAllSum(g[1]))
}

// conv1All is convAll for the lecture's first convolution (im2col) with only its kernel gradient.
func conv1All(y64, w, dy *graph.Node, p int) *graph.Node {
	xin := graph.Reshape(graph.Slice(graph.Reshape(y64, -1), graph.AxisRange(0, 128*32*32*3)), 128, 32, 32, 3)
	w1 := graph.Reshape(graph.Slice(graph.Reshape(w, -1), graph.AxisRange(0, 5*5*3*32)), 5, 5, 3, 32)
	d := graph.Reshape(graph.Slice(graph.Reshape(dy, -1), graph.AxisRange(0, 128*8*8*32)), 128, 8, 8, 32)
	c := Conv2d{In: 3, Out: 32, Kernel: 5, Stride: 4, Padding: 2}
	n := 128 / p
	var ys []*graph.Node
	for i := range p {
		ys = append(ys, im2colConv(c, graph.Slice(xin, graph.AxisRange(i*n, (i+1)*n)), w1))
	}
	y := ys[0]
	if p > 1 {
		y = graph.Concatenate(ys, 0)
	}
	return graph.ReduceAllSum(graph.Gradient(graph.ReduceAllSum(graph.Mul(y, d)), w1)[0])
}
