package onnxexport

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/backend"
	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/onnxexport/internal/fixture"
	"github.com/gomlx/compute"
)

// Parity bounds of issue 6.
const (
	parityImages  = 1000
	maxParityDiff = 1e-4
	trainEpochs   = 8 // 8 epochs × 23 steps of 64 images: 184 steps on the 3-class subset.
)

// missing skips the test, or fails it under CI (where everything must be installed), for a
// prerequisite that is not there.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and "+format, args...)
	}
	t.Skipf(format+" — skipping", args...)
}

// python returns the ONNX venv's interpreter or skips (fails under CI).
func python(t *testing.T) string {
	t.Helper()
	py, err := FindPython()
	if err != nil {
		missing(t, "%v", err)
	}
	return py
}

// realData loads CIFAR-100 or skips (fails under CI).
func realData(t *testing.T) *fixture.Data {
	t.Helper()
	d, err := fixture.LoadData("")
	if err != nil {
		missing(t, "CIFAR-100 is not available ($%s): %v", datasets.DataDirEnv, err)
	}
	return d
}

// xlaBackend returns the default (XLA CPU) backend.
func xlaBackend(t *testing.T) compute.Backend {
	t.Helper()
	b, err := backend.New("")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParity exports models and compares ONNX Runtime (through the official checker first) and the
// ONNX file loaded back into GoMLX with cnnlab's own GoMLX inference, on the first 1,000 real
// CIFAR-100 test images.
func TestParity(t *testing.T) {
	py := python(t)
	data := realData(t)
	b := xlaBackend(t)
	images := cnn.ImagesTensor(data.All.Test, 0, parityImages, parityImages)

	train := func(m *cnn.Model) func(t *testing.T) *cnn.Trained {
		return func(t *testing.T) *cnn.Trained {
			tr, steps, err := fixture.Train(b, data, m, trainEpochs, 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s trained for %d steps", m.Name, steps)
			return tr
		}
	}
	initial := func(m *cnn.Model) func(t *testing.T) *cnn.Trained {
		return func(t *testing.T) *cnn.Trained { return trained(t, m) }
	}
	tests := []struct {
		name  string
		model func(t *testing.T) *cnn.Trained
		// ties allows argmax differences where GoMLX's two best logits are within 1e-5 (initial
		// weights of a 100-class model give near-equal logits, that rounding may swap).
		ties bool
	}{
		{"LectureCNN trained", train(cnn.LectureCNN(3)), false},
		{"LectureCNNMaxPool trained", train(cnn.LectureCNNMaxPool(3)), false},
		{"MLP initial weights", initial(withClasses(cnn.MLP(cnn.DefaultMLPHidden, 3))), false},
		{"LectureCNN 100 classes initial weights", initial(cnn.LectureCNN(100)), true},
		{"ConvNet7BN (the cifar100-1h preset's model) 100 classes initial weights", initial(cnn.ConvNet7BN(100)), true},
		{"EveryLayer (BatchNorm2d, Residual, GELU, Dropout, global pooling, Scale) trained", func(t *testing.T) *cnn.Trained {
			tr, steps, err := fixture.Train(b, data, cnn.EveryLayerModel(3), 2, 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("EveryLayer trained for %d steps", steps)
			return tr
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.model(t)
			path := filepath.Join(t.TempDir(), "model.onnx")
			info, err := ExportFile(tr, path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			classes := tr.Model.NumClasses()
			want, err := cnn.NewEvaluator(b, tr).Logits(images)
			if err != nil {
				t.Fatal(err)
			}
			ort, err := CheckWithORT(py, path, images)
			if err != nil {
				t.Fatal(err)
			}
			if ort.Checker != "ok" || strings.Join(ort.InputShape, ",") != "N,3,32,32" {
				t.Errorf("checker %q, ONNX Runtime input shape %v", ort.Checker, ort.InputShape)
			}
			if ort.Batch1MaxAbsDiff > maxParityDiff {
				t.Errorf("batch of 1 differs from the batch of %d by %g", parityImages, ort.Batch1MaxAbsDiff)
			}
			assertParity(t, "ONNX Runtime "+ort.ORTVersion, ort.Logits, want, classes, tc.ties)

			prog, err := LoadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			back, err := prog.Logits(b, images)
			if err != nil {
				t.Fatal(err)
			}
			assertParity(t, "ONNX loaded into GoMLX", back, want, classes, tc.ties)
			t.Logf("%s; ONNX Runtime %.1f ms for %d images (1 thread)", info, 1000*ort.Seconds, parityImages)
		})
	}
}

// assertParity checks got against want within maxParityDiff and with equal argmax everywhere
// (with ties, except where want's two best logits are within 1e-5).
func assertParity(t *testing.T, name string, got, want []float32, classes int, ties bool) {
	t.Helper()
	p, err := Compare(got, want, classes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Logf("%s vs GoMLX: %s", name, p)
	equal := p.ArgmaxEqual
	if ties {
		nearTies := 0
		for i := range p.Images {
			g, w := got[i*classes:(i+1)*classes], want[i*classes:(i+1)*classes]
			if a, b := Argmax(g), Argmax(w); a != b && math.Abs(float64(w[a])-float64(w[b])) <= 1e-5 {
				nearTies++
			}
		}
		if nearTies > 0 {
			t.Logf("%s: %d argmax differences are near-ties (two best logits within 1e-5)", name, nearTies)
		}
		equal += nearTies
	}
	if p.MaxAbsDiff > maxParityDiff || equal != p.Images || p.Images != parityImages {
		t.Errorf("%s vs GoMLX: %s; want max |Δ| ≤ %g and argmax equal on all %d", name, p, maxParityDiff, parityImages)
	}
}

// TestReplicatePaddingParity checks the Pad(mode=edge) + Conv translation of replicate padding:
// ONNX Runtime against the file loaded into GoMLX, whose Pad is cnn.Pad2D(PadReplicate). (The
// cnn package does not accept replicate padding in a Conv2d layer yet, so there is no cnn model
// to compare with directly.)
func TestReplicatePaddingParity(t *testing.T) {
	py := python(t)
	data := realData(t)
	b := xlaBackend(t)
	weights := trained(t, cnn.LectureCNN(3)).LayerParams
	pm, err := build(replicateModel(), weights, Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "replicate.onnx")
	if _, err := writeModel(pm, path); err != nil {
		t.Fatal(err)
	}
	images := cnn.ImagesTensor(data.All.Test, 0, parityImages, parityImages)
	ort, err := CheckWithORT(py, path, images)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Load(pm)
	if err != nil {
		t.Fatal(err)
	}
	back, err := prog.Logits(b, images)
	if err != nil {
		t.Fatal(err)
	}
	assertParity(t, "replicate padding: ONNX Runtime vs ONNX in GoMLX", ort.Logits, back, 3, false)
	// Zero padding gives other logits: the Pad nodes do something.
	zero, err := cnn.NewTrained(cnn.LectureCNN(3), 7)
	if err != nil {
		t.Fatal(err)
	}
	zeroLogits, err := cnn.NewEvaluator(b, zero).Logits(images)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := Compare(zeroLogits, back, 3); p.MaxAbsDiff < 1e-3 {
		t.Errorf("replicate and zero padding give the same logits (max |Δ| %g)", p.MaxAbsDiff)
	}
}

func TestFindPythonMissing(t *testing.T) {
	t.Setenv(PythonEnv, filepath.Join(t.TempDir(), "no-python"))
	if _, err := FindPython(); err == nil || !strings.Contains(err.Error(), "setup.sh --onnx") {
		t.Errorf("FindPython with a missing interpreter: %v", err)
	}
}
