package onnxexport

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/training"
)

// trained returns m with seeded initial weights.
func trained(t *testing.T, m *cnn.Model) *cnn.Trained {
	t.Helper()
	tr, err := cnn.NewTrained(m, 7)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// withClasses sets the lecture's class ids and names on m.
func withClasses(m *cnn.Model) *cnn.Model {
	m.ClassIDs = []int{0, 55, 58}
	m.ClassNames = []string{"apple", "otter", "pickup_truck"}
	return m
}

func TestBuildGraph(t *testing.T) {
	tests := []struct {
		name    string
		model   *cnn.Model
		ops     string
		outputs string
		params  int
	}{
		{"lecture CNN", withClasses(cnn.LectureCNN(3)), "Sub Div Conv Relu Conv Relu AveragePool Flatten Gemm", "logits [N,3] float", 2432 + 18496 + 771},
		{"lecture CNN, max pooling", cnn.LectureCNNMaxPool(100), "Sub Div Conv Relu Conv Relu MaxPool Flatten Gemm", "logits [N,100] float", 2432 + 18496 + 25700},
		{"MLP", cnn.MLP(64, 3), "Sub Div Flatten Gemm Relu Gemm", "logits [N,3] float", 3072*64 + 64 + 64*3 + 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			info, err := Export(trained(t, tc.model), &buf, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(info.Ops, " "); got != tc.ops {
				t.Errorf("ops = %s, want %s", got, tc.ops)
			}
			if info.Opset != Opset || Opset < 17 {
				t.Errorf("opset = %d, want %d (≥ 17)", info.Opset, Opset)
			}
			if got := strings.Join(info.Inputs, ";"); got != "images [N,3,32,32] float" {
				t.Errorf("inputs = %s", got)
			}
			if got := strings.Join(info.Outputs, ";"); got != tc.outputs {
				t.Errorf("outputs = %s, want %s", got, tc.outputs)
			}
			if info.Params != tc.params || info.Params != tc.model.NumParams() {
				t.Errorf("params = %d, want %d (model: %d)", info.Params, tc.params, tc.model.NumParams())
			}
			if info.Bytes != int64(buf.Len()) || info.Bytes < int64(4*tc.params) {
				t.Errorf("size %d bytes for %d written and %d float32 parameters", info.Bytes, buf.Len(), tc.params)
			}
			if got := info.Metadata[MetaMean]; got != "0.5074,0.4867,0.4411" {
				t.Errorf("metadata %s = %q", MetaMean, got)
			}
			if got := info.Metadata[MetaStd]; got != "0.2011,0.1987,0.2025" {
				t.Errorf("metadata %s = %q", MetaStd, got)
			}
			if info.Metadata[MetaModel] != tc.model.Name {
				t.Errorf("metadata %s = %q, want %q", MetaModel, info.Metadata[MetaModel], tc.model.Name)
			}
			t.Log(info)
		})
	}
}

func TestMetadataClasses(t *testing.T) {
	info, err := Export(trained(t, withClasses(cnn.LectureCNN(3))), &bytes.Buffer{}, Options{Metadata: map[string]string{"note": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{MetaClassIDs: "0,55,58", MetaClassNames: `["apple","otter","pickup_truck"]`, "note": "x"}
	for k, v := range want {
		if info.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, info.Metadata[k], v)
		}
	}
	if _, err := Export(trained(t, cnn.LectureCNN(3)), &bytes.Buffer{}, Options{Metadata: map[string]string{MetaModel: "x"}}); err == nil {
		t.Error("overriding a reserved metadata key: no error")
	}
}

// mystery is a layer type that is not registered in cnn's layer registry.
type mystery struct{ cnn.ReLU }

// Type implements cnn.Layer.
func (mystery) Type() string { return "Mystery" }

func TestExportErrors(t *testing.T) {
	nan := trained(t, cnn.LectureCNN(3))
	w, err := nan.Weights(7)
	if err != nil {
		t.Fatal(err)
	}
	w["weight"].Data[5] = float32(math.NaN())
	if err := nan.SetWeights(7, w); err != nil {
		t.Fatal(err)
	}
	good := trained(t, cnn.LectureCNN(3))
	tests := []struct {
		name      string
		build     func() error
		untrained bool
		want      string
	}{
		{"nil model", func() error { _, err := Build(nil, Options{}); return err }, true, "no model"},
		{"no weights", func() error { _, err := Build(&cnn.Trained{Model: cnn.LectureCNN(3)}, Options{}); return err }, true, "no weights"},
		{"NaN weight", func() error { _, err := Build(nan, Options{}); return err }, false, `layer 07_Linear (Linear): parameter "weight" holds NaN at index 5`},
		{"unknown layer", func() error {
			m := cnn.MLP(8, 3)
			weights := trained(t, cnn.MLP(8, 3)).LayerParams
			m.Layers = append(m.Layers[:4:4], mystery{}, m.Layers[4])
			_, err := build(m, weights, Options{})
			return err
		}, false, "layer 04_Mystery: type Mystery (onnxexport.mystery) is not registered"},
		{"reflect padding", func() error {
			m := cnn.LectureCNN(3)
			c := m.Layers[1].(cnn.Conv2d)
			c.PadMode = "reflect"
			m.Layers[1] = c
			_, err := build(m, good.LayerParams, Options{})
			return err
		}, false, `padding mode "reflect" not supported`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.build()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if errors.Is(err, ErrUntrained) != tc.untrained {
				t.Errorf("errors.Is(%q, ErrUntrained) = %v, want %v", err, !tc.untrained, tc.untrained)
			}
		})
	}
}

func TestReplicatePaddingGraph(t *testing.T) {
	m := replicateModel()
	good := trained(t, cnn.LectureCNN(3))
	pm, err := build(m, good.LayerParams, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(Ops(pm), " "); got != "Sub Div Pad Conv Relu Pad Conv Relu AveragePool Flatten Gemm" {
		t.Errorf("ops = %s", got)
	}
}

// replicateModel is the lecture CNN with replicate padding in both convolutions.
func replicateModel() *cnn.Model {
	m := cnn.LectureCNN(3)
	for _, i := range []int{1, 3} {
		c := m.Layers[i].(cnn.Conv2d)
		c.PadMode = cnn.PadReplicate
		m.Layers[i] = c
	}
	return m
}

func TestExportDirUntrained(t *testing.T) {
	tests := []struct {
		name      string
		steps     int
		allow     bool
		untrained bool
	}{
		{"zero steps", 0, false, true},
		{"zero steps allowed", 0, true, false},
		{"trained", 25, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := training.SaveModel(dir, trained(t, withClasses(cnn.LectureCNN(3))), &training.CheckpointState{GlobalStep: tc.steps}); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "model.onnx")
			info, err := ExportDir(dir, out, Options{AllowUntrained: tc.allow})
			if tc.untrained {
				if !errors.Is(err, ErrUntrained) {
					t.Fatalf("error %v, want ErrUntrained", err)
				}
				if _, statErr := os.Stat(out); statErr == nil {
					t.Error("a file was written for an untrained model")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			back, err := Inspect(out)
			if err != nil {
				t.Fatal(err)
			}
			if back.Bytes != info.Bytes || back.Metadata[MetaTrainSteps] != info.Metadata[MetaTrainSteps] {
				t.Errorf("Inspect = %+v, ExportDir = %+v", back, info)
			}
			if want := map[int]string{0: "0", 25: "25"}[tc.steps]; back.Metadata[MetaTrainSteps] != want {
				t.Errorf("training steps %q, want %q", back.Metadata[MetaTrainSteps], want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name    string
		a, b    []float32
		classes int
		want    Parity
		wantErr bool
	}{
		{"equal", []float32{1, 2, 3, 4}, []float32{1, 2, 3, 4}, 2, Parity{Images: 2, Classes: 2, ArgmaxEqual: 2}, false},
		{"one flip", []float32{1, 2, 4, 3}, []float32{1, 2, 3, 4}, 2, Parity{Images: 2, Classes: 2, MaxAbsDiff: 1, ArgmaxEqual: 1}, false},
		{"NaN", []float32{float32(math.NaN()), 0}, []float32{0, 0}, 2, Parity{Images: 1, Classes: 2, MaxAbsDiff: math.Inf(1), ArgmaxEqual: 1}, false},
		{"lengths differ", []float32{1, 2}, []float32{1}, 1, Parity{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Compare(tc.a, tc.b, tc.classes)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Compare = %+v, want %+v", got, tc.want)
			}
		})
	}
}
