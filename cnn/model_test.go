package cnn

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/internal/testkit"
	"github.com/gomlx/gomlx/core/tensors"
)

func TestModelParams(t *testing.T) {
	tests := []struct {
		name       string
		model      *Model
		wantParams int
		wantShapes []string
	}{
		{"LectureCNN 3 classes", LectureCNN(3), 21_699, []string{
			"[3 32 32]", "[32 8 8]", "[32 8 8]", "[64 8 8]", "[64 8 8]", "[64 2 2]", "[256]", "[3]"}},
		{"LectureCNN 100 classes", LectureCNN(100), 46_628, nil},
		{"LectureCNNMaxPool 3 classes", LectureCNNMaxPool(3), 21_699, nil},
		{"MLP 512 hidden", MLP(512, 3), 3072*512 + 512 + 512*3 + 3, []string{
			"[3 32 32]", "[3072]", "[512]", "[512]", "[3]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.model.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tc.model.NumParams(); got != tc.wantParams {
				t.Errorf("NumParams() = %d, want %d", got, tc.wantParams)
			}
			shapes, err := tc.model.Shapes()
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.wantShapes {
				if got := fmt.Sprint(shapes[i]); got != want {
					t.Errorf("layer %d (%s) output %s, want %s", i, tc.model.Layers[i].Type(), got, want)
				}
			}
		})
	}
}

func TestModelInvalid(t *testing.T) {
	tests := []struct {
		name    string
		model   *Model
		wantErr string
	}{
		{"linear size mismatch", &Model{Name: "bad", InputShape: cifarInput, Layers: []Layer{Flatten{}, Linear{In: 100, Out: 3}}}, "Linear(100, 3)"},
		{"conv channels", &Model{Name: "bad", InputShape: cifarInput, Layers: []Layer{Conv2d{In: 1, Out: 2, Kernel: 3, Stride: 1}}}, "Conv2d(1, 2"},
		{"no layers", &Model{Name: "empty", InputShape: cifarInput}, "no layers"},
		{"not a vector", &Model{Name: "bad", InputShape: cifarInput, Layers: []Layer{ReLU{}}}, "not a vector"},
		{"class names", &Model{Name: "bad", InputShape: cifarInput, Layers: []Layer{Flatten{}, Linear{In: 3072, Out: 2}}, ClassNames: []string{"a"}}, "1 class names for 2 outputs"},
		{"pad mode", &Model{Name: "bad", InputShape: cifarInput, Layers: []Layer{Conv2d{In: 3, Out: 2, Kernel: 3, Stride: 1, PadMode: "reflect"}}}, "padding mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.model.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewModel(t *testing.T) {
	for _, name := range []string{"cnn", "cnn-maxpool", "mlp", NameLectureCNN} {
		if _, err := NewModel(name, 3); err != nil {
			t.Errorf("NewModel(%q): %v", name, err)
		}
	}
	if _, err := NewModel("resnet", 3); err == nil || !strings.Contains(err.Error(), "resnet") {
		t.Errorf("NewModel(resnet) = %v, want an error naming it", err)
	}
}

// wantLectureSummary is torchsummary's table for the lecture CNN with 3 classes (Normalize first).
const wantLectureSummary = `----------------------------------------------------------------
        Layer (type)               Output Shape         Param #
================================================================
         Normalize-1            [-1, 3, 32, 32]               0
            Conv2d-2             [-1, 32, 8, 8]           2,432
              ReLU-3             [-1, 32, 8, 8]               0
            Conv2d-4             [-1, 64, 8, 8]          18,496
              ReLU-5             [-1, 64, 8, 8]               0
         AvgPool2d-6             [-1, 64, 2, 2]               0
           Flatten-7                  [-1, 256]               0
            Linear-8                    [-1, 3]             771
================================================================
Total params: 21,699
Trainable params: 21,699
Non-trainable params: 0
----------------------------------------------------------------
Input size (MB): 0.01
Forward/backward pass size (MB): 0.12
Params size (MB): 0.08
Estimated Total Size (MB): 0.22
----------------------------------------------------------------
`

func TestSummary(t *testing.T) {
	got, err := LectureCNN(3).Summary()
	if err != nil {
		t.Fatal(err)
	}
	if got != wantLectureSummary {
		t.Errorf("Summary() =\n%s\nwant\n%s", got, wantLectureSummary)
	}
	got100, err := LectureCNN(100).Summary()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Linear-8                  [-1, 100]          25,700", "Total params: 46,628"} {
		if !strings.Contains(got100, want) {
			t.Errorf("Summary(100 classes) lacks %q:\n%s", want, got100)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 771: "771", 2432: "2,432", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestModelJSONRoundTrip(t *testing.T) {
	for _, m := range []*Model{LectureCNN(3), LectureCNNMaxPool(100), MLP(64, 3)} {
		m.ClassIDs = make([]int, m.NumClasses())
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back := &Model{}
		if err := json.Unmarshal(data, back); err != nil {
			t.Fatal(err)
		}
		again, _ := json.Marshal(back)
		if string(again) != string(data) {
			t.Errorf("round trip changed %s:\n%s\n%s", m.Name, data, again)
		}
		if fmt.Sprintf("%#v", back.Layers) != fmt.Sprintf("%#v", m.Layers) {
			t.Errorf("layers differ: %#v vs %#v", back.Layers, m.Layers)
		}
	}
	var m Model
	err := json.Unmarshal([]byte(`{"name":"x","layers":[{"type":"Mystery","config":{}}]}`), &m)
	if err == nil || !strings.Contains(err.Error(), `unknown layer type "Mystery"`) {
		t.Errorf("unknown layer: got %v, want an error naming Mystery", err)
	}
}

func TestModelSaveLoadJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.json")
	m := LectureCNN(3)
	m.ClassIDs, m.ClassNames = []int{0, 55, 58}, []string{"apple", "otter", "pickup_truck"}
	if err := m.SaveJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadModelJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.NumParams() != 21_699 || back.ClassName(2) != "pickup_truck" {
		t.Errorf("loaded %+v", back)
	}
}

func TestWeightsLayoutAndInit(t *testing.T) {
	tr, err := NewTrained(LectureCNN(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		layer      int
		name       string
		wantShape  string
		wantBound  float64 // PyTorch default init: uniform in ±1/√fan_in.
		wantParams bool
	}{
		{1, "weight", "[32 3 5 5]", 1 / math.Sqrt(75), true},
		{1, "bias", "[32]", 1 / math.Sqrt(75), true},
		{3, "weight", "[64 32 3 3]", 1 / math.Sqrt(288), true},
		{7, "weight", "[3 256]", 1 / math.Sqrt(256), true},
		{7, "bias", "[3]", 1 / math.Sqrt(256), true},
	}
	for _, tc := range tests {
		params, err := tr.Weights(tc.layer)
		if err != nil {
			t.Fatal(err)
		}
		p := params[tc.name]
		if p == nil || fmt.Sprint(p.Shape) != tc.wantShape || len(p.Data) != product(p.Shape) {
			t.Fatalf("layer %d %s = %+v, want shape %s", tc.layer, tc.name, p, tc.wantShape)
		}
		maxAbs := 0.0
		for _, v := range p.Data {
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		}
		// With ≥ 3 uniform samples the largest |value| lies within the bound, and for ≥ 32 samples
		// above a third of it (probability of failure < (1/3)^32).
		if maxAbs > tc.wantBound || (len(p.Data) >= 32 && maxAbs < tc.wantBound/3) {
			t.Errorf("layer %d %s: max |w| = %g, bound %g", tc.layer, tc.name, maxAbs, tc.wantBound)
		}
	}
	if params, err := tr.Weights(2); err != nil || len(params) != 0 {
		t.Errorf("ReLU weights = %v, %v; want none", params, err)
	}
	if _, err := tr.Weights(8); err == nil {
		t.Error("Weights(8) of an 8-layer model: want an error")
	}
	// SetWeights round trip and shape check.
	params, _ := tr.Weights(7)
	params["bias"].Data = []float32{1, 2, 3}
	if err := tr.SetWeights(7, params); err != nil {
		t.Fatal(err)
	}
	back, _ := tr.Weights(7)
	if fmt.Sprint(back["bias"].Data) != "[1 2 3]" {
		t.Errorf("bias after SetWeights = %v", back["bias"].Data)
	}
	params["bias"].Shape = []int{4}
	if err := tr.SetWeights(7, params); err == nil {
		t.Error("SetWeights with a wrong shape: want an error")
	}
}

// syntheticImages returns n deterministic images in [0,1].
func syntheticImages(n int, seed uint32) *tensors.Tensor {
	data := make([]float32, n*3072)
	state := seed
	for i := range data {
		state = state*1664525 + 1013904223
		data[i] = float32(state>>8) / float32(1<<24)
	}
	return tensors.FromFlatDataAndDimensions(data, n, 3, 32, 32)
}

// backendTolerance is the largest accepted difference between the logits of two backends: both
// sum a few thousand float32 products in different orders, giving differences around 1e-6.
const backendTolerance = 1e-5

func TestForwardXLAAndGoAgree(t *testing.T) {
	backends := testkit.Backends(t)
	for _, m := range []*Model{LectureCNN(3), LectureCNNMaxPool(3), MLP(32, 3)} {
		t.Run(m.Name, func(t *testing.T) {
			tr, err := NewTrained(m, 7)
			if err != nil {
				t.Fatal(err)
			}
			var results [][]float32
			for _, name := range []string{"xla:cpu", "go"} {
				logits, err := NewEvaluator(backends[name], tr).Logits(syntheticImages(4, 3))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(logits) != 4*3 {
					t.Fatalf("%s: %d logits, want 12", name, len(logits))
				}
				results = append(results, logits)
			}
			maxDiff := 0.0
			for i := range results[0] {
				maxDiff = math.Max(maxDiff, math.Abs(float64(results[0][i]-results[1][i])))
			}
			t.Logf("max |xla - go| = %.3g over %d logits", maxDiff, len(results[0]))
			if maxDiff > backendTolerance {
				t.Errorf("xla:cpu and go logits differ by %g > %g", maxDiff, backendTolerance)
			}
		})
	}
}
