package cnn

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/internal/testkit"
	"github.com/gomlx/gomlx/core/tensors"
)

// nchwInput returns a deterministic [n,c,h,w] batch with values in [-2, 2).
func nchwInput(n, c, h, w int) ([]float32, *tensors.Tensor) {
	data := make([]float32, n*c*h*w)
	for i := range data {
		data[i] = float32((i*37)%64)/16 - 2
	}
	return data, tensors.FromFlatDataAndDimensions(append([]float32(nil), data...), n, c, h, w)
}

// at returns x[n][c][i][j] of an NCHW slice.
func at(x []float32, dims [4]int, n, c, i, j int) float64 {
	return float64(x[((n*dims[1]+c)*dims[2]+i)*dims[3]+j])
}

// checkValues fails unless got equals want within tol everywhere.
func checkValues(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > tol {
			t.Fatalf("%s: value %d = %.7g, want %.7g (tolerance %g)", what, i, got[i], want[i], tol)
		}
	}
}

// runLayer runs RunLayer and returns the flat output.
func runLayer(t *testing.T, name string, l Layer, x *tensors.Tensor, params map[string]*Param, training bool) ([]float32, map[string]*Param) {
	t.Helper()
	b := testkit.Backends(t)[name]
	data, err := tensors.CopyFlatData[float32](x)
	if err != nil {
		t.Fatal(err)
	}
	fresh := tensors.FromFlatDataAndDimensions(data, x.Shape().Dimensions...) // x stays on the host.
	out, after, err := RunLayer(b, l, fresh, params, training, 7)
	if err != nil {
		t.Fatal(err)
	}
	values, err := tensors.CopyFlatData[float32](out)
	if err != nil {
		t.Fatal(err)
	}
	return values, after
}

// TestBatchNorm2d checks BatchNorm2d against a float64 implementation of PyTorch's formulas:
// training normalises with the batch mean and biased variance and updates the running statistics
// with momentum and the unbiased variance; inference uses the running statistics.
func TestBatchNorm2d(t *testing.T) {
	t.Parallel()
	dims := [4]int{3, 2, 2, 3}
	x, xt := nchwInput(dims[0], dims[1], dims[2], dims[3])
	bn := NewBatchNorm2d(2)
	params := map[string]*Param{
		"weight":       {Shape: []int{2}, Data: []float32{1.5, -0.5}},
		"bias":         {Shape: []int{2}, Data: []float32{0.25, 1}},
		"running_mean": {Shape: []int{2}, Data: []float32{0.1, -0.2}},
		"running_var":  {Shape: []int{2}, Data: []float32{2, 0.5}},
	}
	m := float64(dims[0] * dims[2] * dims[3])
	mean, variance := make([]float64, 2), make([]float64, 2)
	for c := range 2 {
		for n := range dims[0] {
			for i := range dims[2] {
				for j := range dims[3] {
					mean[c] += at(x, dims, n, c, i, j) / m
				}
			}
		}
		for n := range dims[0] {
			for i := range dims[2] {
				for j := range dims[3] {
					d := at(x, dims, n, c, i, j) - mean[c]
					variance[c] += d * d / m
				}
			}
		}
	}
	expect := func(meanOf, varOf func(c int) float64) []float64 {
		var want []float64
		for n := range dims[0] {
			for c := range 2 {
				for i := range dims[2] {
					for j := range dims[3] {
						v := (at(x, dims, n, c, i, j) - meanOf(c)) / math.Sqrt(varOf(c)+1e-5)
						want = append(want, v*float64(params["weight"].Data[c])+float64(params["bias"].Data[c]))
					}
				}
			}
		}
		return want
	}
	for _, name := range []string{"xla:cpu", "go"} {
		t.Run(name, func(t *testing.T) {
			got, after := runLayer(t, name, bn, xt, params, true)
			checkValues(t, "training output", got, expect(func(c int) float64 { return mean[c] }, func(c int) float64 { return variance[c] }), 1e-5)
			var wantMean, wantVar []float64
			for c := range 2 {
				wantMean = append(wantMean, 0.9*float64(params["running_mean"].Data[c])+0.1*mean[c])
				wantVar = append(wantVar, 0.9*float64(params["running_var"].Data[c])+0.1*variance[c]*m/(m-1))
			}
			checkValues(t, "running_mean", after["running_mean"].Data, wantMean, 1e-6)
			checkValues(t, "running_var", after["running_var"].Data, wantVar, 1e-6)
			got, after = runLayer(t, name, bn, xt, params, false)
			rm, rv := params["running_mean"].Data, params["running_var"].Data
			checkValues(t, "inference output", got, expect(func(c int) float64 { return float64(rm[c]) }, func(c int) float64 { return float64(rv[c]) }), 1e-5)
			checkValues(t, "running_mean unchanged in inference", after["running_mean"].Data, []float64{float64(rm[0]), float64(rm[1])}, 0)
		})
	}
}

// TestSimpleLayers checks GELU, LeakyReLU, Scale, MaxPool2d with stride ≠ kernel, global pooling, Conv2d
// without bias and Dropout against float64 computations, on both backends.
func TestSimpleLayers(t *testing.T) {
	t.Parallel()
	dims := [4]int{2, 2, 5, 5}
	x, xt := nchwInput(dims[0], dims[1], dims[2], dims[3])
	var gelu, scale, leaky []float64
	for _, v := range x {
		gelu = append(gelu, float64(v)*0.5*(1+math.Erf(float64(v)/math.Sqrt2)))
		leaky = append(leaky, math.Max(float64(v), 0)+0.1*math.Min(float64(v), 0))
		scale = append(scale, float64(v)*0.125)
	}
	var maxPool, gap, gmp []float64
	for n := range dims[0] {
		for c := range dims[1] {
			for i := 0; i+3 <= dims[2]; i += 2 {
				for j := 0; j+3 <= dims[3]; j += 2 {
					best := math.Inf(-1)
					for di := range 3 {
						for dj := range 3 {
							best = math.Max(best, at(x, dims, n, c, i+di, j+dj))
						}
					}
					maxPool = append(maxPool, best)
				}
			}
		}
	}
	for n := range dims[0] {
		for c := range dims[1] {
			sum, best := 0.0, math.Inf(-1)
			for i := range dims[2] {
				for j := range dims[3] {
					sum += at(x, dims, n, c, i, j)
					best = math.Max(best, at(x, dims, n, c, i, j))
				}
			}
			gap, gmp = append(gap, sum/25), append(gmp, best)
		}
	}
	weight := []float32{1, -1, 0.5, 2, 0, 1, -2, 1} // [out 2, in 2, 1, 2] with kernel... see below
	conv := Conv2d{In: 2, Out: 1, Kernel: 2, Stride: 1, Padding: 0, NoBias: true}
	var convWant []float64
	for n := range dims[0] {
		for i := 0; i+2 <= dims[2]; i++ {
			for j := 0; j+2 <= dims[3]; j++ {
				s := 0.0
				for c := range 2 {
					for di := range 2 {
						for dj := range 2 {
							s += float64(weight[c*4+di*2+dj]) * at(x, dims, n, c, i+di, j+dj)
						}
					}
				}
				convWant = append(convWant, s)
			}
		}
	}
	convParams := map[string]*Param{"weight": {Shape: []int{1, 2, 2, 2}, Data: weight}}
	tests := []struct {
		name   string
		layer  Layer
		params map[string]*Param
		want   []float64
	}{
		{"GELU", GELU{}, nil, gelu},
		{"LeakyReLU(0.1)", LeakyReLU{Slope: 0.1}, nil, leaky},
		{"Scale", Scale{Factor: 0.125}, nil, scale},
		{"MaxPool2d(3, stride 2)", MaxPool2d{Kernel: 3, Stride: 2}, nil, maxPool},
		{"GlobalAvgPool2d", GlobalAvgPool2d{}, nil, gap},
		{"GlobalMaxPool2d", GlobalMaxPool2d{}, nil, gmp},
		{"Conv2d without bias", conv, convParams, convWant},
		{"Dropout in inference", Dropout{P: 0.5}, nil, func() []float64 {
			var v []float64
			for _, f := range x {
				v = append(v, float64(f))
			}
			return v
		}()},
	}
	for _, name := range []string{"xla:cpu", "go"} {
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				got, _ := runLayer(t, name, tc.layer, xt, tc.params, false)
				checkValues(t, tc.name, got, tc.want, 1e-5)
			})
		}
		t.Run(name+"/Dropout in training", func(t *testing.T) {
			got, _ := runLayer(t, name, Dropout{P: 0.25}, xt, nil, true)
			dropped := 0
			for i, v := range got {
				switch {
				case v == 0 && x[i] != 0:
					dropped++
				case v != 0 && math.Abs(float64(v)-float64(x[i])/0.75) > 1e-5:
					t.Fatalf("value %d = %g, want 0 or %g", i, v, x[i]/0.75)
				}
			}
			if frac := float64(dropped) / float64(len(got)); frac < 0.1 || frac > 0.4 {
				t.Errorf("dropped %d of %d values (%.2f), want about 0.25", dropped, len(got), frac)
			}
			again, _ := runLayer(t, name, Dropout{P: 0.25}, xt, nil, true)
			if !reflect.DeepEqual(got, again) {
				t.Error("Dropout with the same seed gave another mask")
			}
		})
	}
}

// TestModelDescription checks the nested model's JSON round trip, its summary (nested rows,
// computed non-trainable totals), that every registered type decodes to itself and that
// EveryLayerModel uses every registered type.
func TestModelDescription(t *testing.T) {
	t.Parallel()
	m := EveryLayerModel(3)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back := &Model{}
	if err := json.Unmarshal(data, back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, back) {
		t.Errorf("JSON round trip changed the model:\n%s", data)
	}
	summary, err := m.Summary()
	if err != nil {
		t.Fatal(err)
	}
	trainable, buffers := m.ParamCounts()
	// BatchNorm2d buffers: 32 + 64 + 64 (shortcut) + 32 channels, two buffers each.
	if want := 2 * (32 + 64 + 64 + 64 + 32); buffers != want {
		t.Errorf("non-trainable values = %d, want %d", buffers, want)
	}
	if i, j := strings.Index(summary, "BatchNorm2d-6 "), strings.Index(summary, "Residual-12 "); i < 0 || j < i {
		t.Errorf("summary: want the block's rows (BatchNorm2d-6 …) before its own row Residual-12:\n%s", summary)
	}
	for _, want := range []string{"Sequential-", "GELU-", fmt.Sprintf("Non-trainable params: %s", thousands(buffers)),
		fmt.Sprintf("Trainable params: %s", thousands(trainable))} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	used := map[string]bool{}
	_ = m.Walk(func(n Node) error { used[n.Layer.Type()] = true; return nil })
	for _, name := range LayerTypes() {
		if !used[name] {
			t.Errorf("EveryLayerModel does not use the registered type %s: add it there, so that the "+
				"backend, checkpoint and ONNX parity tests cover it", name)
		}
		l := layerTypes[name]()
		if got := reflect.ValueOf(l).Elem().Interface().(Layer).Type(); got != name {
			t.Errorf("registry entry %q makes a %s", name, got)
		}
	}
}
