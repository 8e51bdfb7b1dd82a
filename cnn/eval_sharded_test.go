package cnn

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/internal/testenv"
	"github.com/cnnlab/cnnlab/internal/testkit"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/distributed"
)

// evalRun is the outcome of one evaluation in the tests: the figures and every image's logits.
type evalRun struct {
	ev      *Evaluation
	logits  []float32
	seconds float64
}

// evaluateOn evaluates tr on s with test-time augmentation tta, on one device (devices 1) or sharded over a
// fresh mesh of devices devices, with the padding rows filled with pad.
func evaluateOn(t *testing.T, b compute.Backend, tr *Trained, s *datasets.Set, devices int, tta TTA, pad float32) evalRun {
	t.Helper()
	e := NewEvaluator(b, tr).WithTTA(tta)
	e.padValue = pad
	if devices > 1 {
		mesh, err := distributed.NewDeviceMesh([]int{devices}, []string{"batch"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Sharded(mesh, nil); err != nil {
			t.Fatal(err)
		}
	}
	var r evalRun
	start := time.Now()
	var err error
	if r.ev, err = e.evaluate(s, &r.logits); err != nil {
		t.Fatalf("%d device(s): %v", devices, err)
	}
	r.seconds = time.Since(start).Seconds()
	return r
}

// firstOf returns the first n images of s as a set of the same classes.
func firstOf(s *datasets.Set, n int) *datasets.Set {
	return &datasets.Set{Name: fmt.Sprintf("%s[:%d]", s.Name, n), ClassIDs: s.ClassIDs, ClassNames: s.ClassNames,
		Labels: s.Labels[:n], Pixels: s.Pixels[:n*datasets.RecordPixels]}
}

// topGap returns the difference between the largest and the second largest value of row.
func topGap(row []float32) float64 {
	first, second := math.Inf(-1), math.Inf(-1)
	for _, v := range row {
		switch x := float64(v); {
		case x > first:
			first, second = x, first
		case x > second:
			second = x
		}
	}
	return first - second
}

// compareEvaluations fails t unless got matches want to float32 rounding: every logit within tol,
// the loss within lossTol, and the same prediction for every image whose two highest logits are
// more than 2·tol apart (and the accuracy and top-5 counts then follow). It returns the largest
// |Δlogit|.
func compareEvaluations(t *testing.T, what string, got, want evalRun, numClasses int, tol, lossTol float64) float64 {
	t.Helper()
	if len(got.logits) != len(want.logits) || len(got.ev.Predictions) != len(want.ev.Predictions) {
		t.Fatalf("%s: %d logits and %d predictions, want %d and %d", what, len(got.logits), len(got.ev.Predictions),
			len(want.logits), len(want.ev.Predictions))
	}
	worst, at := 0.0, 0
	for i := range got.logits {
		if d := math.Abs(float64(got.logits[i]) - float64(want.logits[i])); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if worst > tol {
		t.Errorf("%s: logit %d (image %d) is %g, one device's %g: |Δ| %g > %g", what, at, at/numClasses,
			got.logits[at], want.logits[at], worst, tol)
	}
	nearTies := 0
	for i, p := range got.ev.Predictions {
		if p == want.ev.Predictions[i] {
			continue
		}
		if gap := topGap(want.logits[i*numClasses : (i+1)*numClasses]); gap > 2*tol {
			t.Errorf("%s: image %d predicted %d, one device %d, with its two highest logits %g apart", what, i, p, want.ev.Predictions[i], gap)
		}
		nearTies++
	}
	n := float64(len(got.ev.Predictions))
	if d := math.Abs(got.ev.Loss - want.ev.Loss); d > lossTol {
		t.Errorf("%s: loss %.9g, one device's %.9g: |Δ| %g > %g", what, got.ev.Loss, want.ev.Loss, d, lossTol)
	}
	for _, m := range []struct {
		name      string
		got, want float64
	}{{"accuracy", got.ev.Accuracy, want.ev.Accuracy}, {"top-5", got.ev.Top5, want.ev.Top5}} {
		if d := math.Abs(m.got-m.want) * n; d > float64(nearTies)+0.5 {
			t.Errorf("%s: %s %.6f, one device's %.6f: %.0f images apart, %d near-ties", what, m.name, m.got, m.want, d, nearTies)
		}
	}
	t.Logf("%s: max |Δlogit| %.3g over %d; loss %.9f vs %.9f (|Δ| %.3g); accuracy %.4f vs %.4f, top-5 %.4f vs %.4f; "+
		"%d prediction(s) differ at near-ties; %.1f s vs %.1f s (%.0f vs %.0f images/s)",
		what, worst, len(got.logits), got.ev.Loss, want.ev.Loss, math.Abs(got.ev.Loss-want.ev.Loss), got.ev.Accuracy,
		want.ev.Accuracy, got.ev.Top5, want.ev.Top5, nearTies, got.seconds, want.seconds, n/got.seconds, n/want.seconds)
	return worst
}

// TestShardedEvaluationMatchesOneDevice evaluates the lecture's CNN and ConvNet7BN (100 classes,
// seeded weights) on the first 1,030 CIFAR-100 test images — two full batches of 500 and a last
// one of 30, padded — on one device and split across 2 and 4 of XLA's CPU devices, with and
// without flip TTA (the lecture's CNN also with flip-translate TTA): the logits, predictions, loss, accuracy and top-5 agree to float32 rounding.
func TestShardedEvaluationMatchesOneDevice(t *testing.T) {
	b := testkit.Backends(t)["xla:cpu"]
	if b.NumDevices() < 4 {
		t.Fatalf("xla:cpu has %d device(s), the test needs 4", b.NumDevices())
	}
	data, err := datasets.LoadCIFAR100(testenv.CIFAR100Dir(t))
	if err != nil {
		t.Fatal(err)
	}
	set := firstOf(data.Test, 1030)
	tests := []struct {
		name     string
		newModel func(int) *Model
		tta      []TTA
		// tol bounds |Δlogit|, lossTol |Δloss|.
		tol, lossTol float64
	}{
		{"LectureCNN", LectureCNN, []TTA{TTANone, TTAFlip, TTAFlipTranslate}, 1e-5, 1e-6},
		{"ConvNet7BN", ConvNet7BN, []TTA{TTANone, TTAFlip}, 1e-4, 1e-5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewTrained(tc.newModel(100), 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, tta := range tc.tta {
				one := evaluateOn(t, b, tr, set, 1, tta, 0)
				for _, n := range []int{2, 4} {
					got := evaluateOn(t, b, tr, set, n, tta, 0)
					compareEvaluations(t, fmt.Sprintf("%s, TTA %v, %d devices vs 1", tc.name, tta, n), got, one, 100, tc.tol, tc.lossTol)
				}
			}
		})
	}
}

// leakPad is the padding value of TestShardedEvaluationDropsPadding: pixels are in [0, 1], and
// rows of 1e4 give logits in the hundreds or more, so a padding row counted anywhere would change
// the loss by far more than rounding. (NaN would not do: the lecture CNN's ReLU and max pooling
// turn NaN inputs into finite logits on XLA's CPU.)
const leakPad = 1e4

// TestShardedEvaluationDropsPadding fills the padding rows of the last, partial batch with
// leakPad instead of zeros and checks that on one device and sharded over 2, 3 and 4 devices (3:
// the batch of 500 rounded up to 501; 7 images: one batch of 8 on 2 and 4 devices, of 9 on 3) the
// figures and logits are those of zero padding, bit for bit, and every image of the set, and only
// those, has a prediction. It checks that the padding does reach the graph (the padding rows'
// logits are far from those of zero rows), and that Logits of a number of images that is not a
// multiple of the devices returns those images' logits.
func TestShardedEvaluationDropsPadding(t *testing.T) {
	b := testkit.Backends(t)["xla:cpu"]
	tr, err := NewTrained(LectureCNN(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1030, 7} {
		set := testkit.SyntheticSet(size, 15)
		for _, n := range []int{1, 2, 3, 4} {
			t.Run(fmt.Sprintf("%d_images_%d_devices", size, n), func(t *testing.T) {
				zero := evaluateOn(t, b, tr, set, n, TTANone, 0)
				leak := evaluateOn(t, b, tr, set, n, TTANone, leakPad)
				if len(leak.ev.Predictions) != size || len(leak.logits) != 3*size {
					t.Fatalf("%d predictions and %d logits, want %d and %d", len(leak.ev.Predictions), len(leak.logits), size, 3*size)
				}
				if leak.ev.Loss != zero.ev.Loss || leak.ev.Accuracy != zero.ev.Accuracy || leak.ev.Top5 != zero.ev.Top5 {
					t.Errorf("padding %g: loss %v, accuracy %v, top-5 %v; zero padding: %v, %v, %v", leakPad,
						leak.ev.Loss, leak.ev.Accuracy, leak.ev.Top5, zero.ev.Loss, zero.ev.Accuracy, zero.ev.Top5)
				}
				for i := range leak.logits {
					if leak.logits[i] != zero.logits[i] {
						t.Fatalf("logit %d: %g with padding %g, %g with zero padding", i, leak.logits[i], leakPad, zero.logits[i])
					}
				}
			})
		}
	}
	// The padding reaches the graph: 7 images and one padding row on 4 devices.
	set := testkit.SyntheticSet(7, 15)
	e := NewEvaluator(b, tr)
	mesh, err := distributed.NewDeviceMesh([]int{4}, []string{"batch"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Sharded(mesh, nil); err != nil {
		t.Fatal(err)
	}
	exec, err := e.currentExec()
	if err != nil {
		t.Fatal(err)
	}
	raw := map[float32][]float32{}
	for _, pad := range []float32{0, leakPad} {
		if raw[pad], err = e.run(exec, imagesTensor(set, 0, 7, 8, pad)); err != nil {
			t.Fatal(err)
		}
	}
	far := 0.0
	for i := range raw[0] {
		d := math.Abs(float64(raw[leakPad][i]) - float64(raw[0][i]))
		if i < 7*3 && d != 0 {
			t.Fatalf("logit %d of an image changes by %g with the padding", i, d)
		}
		far = math.Max(far, d)
	}
	t.Logf("padding rows of %g: their logits %v, those of zero rows %v", leakPad, raw[leakPad][7*3:], raw[0][7*3:])
	if far < 1 {
		t.Fatalf("padding rows of %g change their logits by only %g: the test cannot see them counted", leakPad, far)
	}
	// Logits pads 7 images to 8 for 4 devices and returns the 7.
	e.padValue = leakPad
	logits, err := e.Logits(ImagesTensor(set, 0, 7, 7))
	if err != nil {
		t.Fatal(err)
	}
	if len(logits) != 7*3 {
		t.Fatalf("Logits of 7 images on 4 devices: %d values, want 21", len(logits))
	}
	for i, v := range logits {
		if v != raw[0][i] {
			t.Errorf("Logits of 7 images on 4 devices: value %d is %g, the padded batch's %g", i, v, raw[0][i])
		}
	}
}

// TestShardedErrors checks the set-up errors of Evaluator.Sharded, and that a mesh of one device
// is the single-device path.
func TestShardedErrors(t *testing.T) {
	b := testkit.Backends(t)["xla:cpu"]
	tr, err := NewTrained(LectureCNN(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	mesh := func(sizes ...int) *distributed.DeviceMesh {
		names := []string{"a", "b"}[:len(sizes)]
		m, err := distributed.NewDeviceMesh(sizes, names)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		name    string
		mesh    *distributed.DeviceMesh
		devices []compute.DeviceNum
		want    string // "": no error.
	}{
		{"one device", mesh(1), nil, ""},
		{"no mesh", nil, nil, ""},
		{"two axes", mesh(2, 2), nil, "has 2 axes, want one"},
		{"device count", mesh(2), []compute.DeviceNum{0, 1, 2}, "3 device(s) [0 1 2] for mesh"},
		{"too many", mesh(b.NumDevices() + 1), nil, fmt.Sprintf("backend %s has only %d", b.Name(), b.NumDevices())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEvaluator(b, tr).Sharded(tc.mesh, tc.devices)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Sharded: %v", err)
			case tc.want == "" && e.NumDevices() != 1:
				t.Fatalf("Sharded on %s: %d devices, want 1", tc.mesh, e.NumDevices())
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Sharded = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
