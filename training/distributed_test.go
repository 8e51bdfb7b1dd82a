package training

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/internal/testkit"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/dtensor"
	"github.com/gomlx/gomlx/ml/model"
)

// parallelRun is the outcome of one data-parallel training in the tests.
type parallelRun struct {
	trained *cnn.Trained
	history []EpochStats
	weights []float32
	// divergence is the largest difference between the devices' copies of a variable after
	// training (ReplicaDivergence), at where.
	divergence float64
	where      string
}

// trainOn trains a fresh newModel(3) (seed 1) with cfg on devices devices of b.
func trainOn(t *testing.T, b compute.Backend, newModel func(int) *cnn.Model, set *datasets.Set, cfg TrainConfig, devices int) parallelRun {
	t.Helper()
	tr, err := cnn.NewTrained(newModel(set.NumClasses()), 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Devices = devices
	history, err := Train(context.Background(), b, tr, set, nil, cfg)
	if err != nil {
		t.Fatalf("%d device(s): %v", devices, err)
	}
	r := parallelRun{trained: tr, history: history}
	if r.divergence, r.where, err = ReplicaDivergence(tr.Store()); err != nil {
		t.Fatal(err)
	}
	r.weights = flatValues(t, tr)
	return r
}

// maxAbsDiff returns the largest |a[i] − b[i]| and its index (+Inf if the lengths differ).
func maxAbsDiff(a, b []float32) (float64, int) {
	if len(a) != len(b) {
		return math.Inf(1), -1
	}
	d, at := 0.0, 0
	for i := range a {
		if x := math.Abs(float64(a[i]) - float64(b[i])); x > d || math.IsNaN(x) {
			d, at = x, i
		}
	}
	return d, at
}

// TestDataParallelMatchesOneDevice trains with the same global batches and seed on 1, 2 and 4 of
// XLA's CPU devices and compares the epochs' losses and every weight and BatchNorm statistic with
// the single-device run. The devices differ from one device only in the order in which XLA sums
// the gradients' shares, so the results agree to float32 rounding, grown by the steps:
// tolerances below are a few times the largest difference measured (see docs/distributed.md).
// The devices' copies of every variable must be identical: a missing gradient all-reduce would
// update each copy with its own share's gradient and make them diverge at the first step.
func TestDataParallelMatchesOneDevice(t *testing.T) {
	b := testkit.Backends(t)["xla:cpu"]
	if b.NumDevices() < 4 {
		t.Fatalf("xla:cpu has %d device(s), the test needs 4", b.NumDevices())
	}
	tests := []struct {
		name     string
		newModel func(int) *cnn.Model
		images   int
		cfg      TrainConfig
		// steps is the number of steps of the training (a check of the set-up).
		steps int
		// weightTol and lossTol are the largest accepted |difference| to one device.
		weightTol, lossTol float64
	}{
		{"LectureCNN", cnn.LectureCNN, 96, TrainConfig{Epochs: 50, BatchSize: 16, Optimizer: OptimizerMomentum,
			LearningRate: 0.01, Momentum: 0.9, Seed: 1}, 300, 1e-4, 1e-5},
		{"ConvNet7BN", cnn.ConvNet7BN, 64, TrainConfig{Epochs: 5, BatchSize: 16, Optimizer: OptimizerMomentum,
			LearningRate: 0.01, Momentum: 0.9, Nesterov: true, Seed: 1}, 20, 1e-4, 1e-5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set := testkit.SyntheticSet(tc.images, 7)
			one := trainOn(t, b, tc.newModel, set, tc.cfg, 1)
			if last := one.history[len(one.history)-1]; last.Step != tc.steps {
				t.Fatalf("one device: %d steps, want %d", last.Step, tc.steps)
			}
			for _, n := range []int{2, 4} {
				r := trainOn(t, b, tc.newModel, set, tc.cfg, n)
				wd, at := maxAbsDiff(r.weights, one.weights)
				ld := 0.0
				for i, h := range r.history {
					ld = max(ld, math.Abs(h.TrainLoss-one.history[i].TrainLoss))
				}
				t.Logf("%s, %d steps: %d devices vs 1: max |Δweight| %.3g (value %d of %d), max |Δepoch loss| %.3g; "+
					"final loss %.6f vs %.6f; replicas differ by %.3g",
					tc.name, tc.steps, n, wd, at, len(r.weights), ld, r.history[len(r.history)-1].TrainLoss,
					one.history[len(one.history)-1].TrainLoss, r.divergence)
				if r.divergence != 0 {
					t.Errorf("%d devices: the devices' copies differ by %g at %s (gradients not all-reduced?)", n, r.divergence, r.where)
				}
				if wd > tc.weightTol {
					t.Errorf("%d devices: weights differ from one device's by %g > %g", n, wd, tc.weightTol)
				}
				if ld > tc.lossTol {
					t.Errorf("%d devices: epoch losses differ from one device's by %g > %g", n, ld, tc.lossTol)
				}
			}
		})
	}
}

// TestReplicaDivergenceDetects checks that ReplicaDivergence, the check of the test above, sees
// one device's copy of one weight changed by 1e-3: what a step without the gradient all-reduce
// does to the copies.
func TestReplicaDivergenceDetects(t *testing.T) {
	b := testkit.Backends(t)["xla:cpu"]
	set := testkit.SyntheticSet(32, 8)
	cfg := quickConfig(1)
	r := trainOn(t, b, cnn.LectureCNN, set, cfg, 2)
	if r.divergence != 0 {
		t.Fatalf("after training: copies differ by %g at %s", r.divergence, r.where)
	}
	var v *model.Variable
	for candidate := range r.trained.Store().IterVariables() {
		if strings.HasSuffix(candidate.Path(), "/bias") {
			v = candidate // The last layer's bias: 3 values.
		}
	}
	if v == nil {
		t.Fatal("no bias variable")
	}
	dv, err := v.DistributedValue()
	if err != nil {
		t.Fatal(err)
	}
	shards := make([]*tensors.Tensor, len(dv.Shards()))
	for i, s := range dv.Shards() {
		values, err := tensors.CopyFlatData[float32](s)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			values[2] += 1e-3
		}
		shards[i] = tensors.FromFlatDataAndDimensions(values, s.Shape().Dimensions...)
	}
	changed, err := dtensor.NewTensor(dv.ShardingSpec(), shards)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.SetDistributedValue(changed); err != nil {
		t.Fatal(err)
	}
	d, where, err := ReplicaDivergence(r.trained.Store())
	if err != nil {
		t.Fatal(err)
	}
	if want := v.Path() + "[2] on device 1"; math.Abs(d-1e-3) > 1e-6 || where != want {
		t.Errorf("ReplicaDivergence = %g at %q, want 1e-3 at %q", d, where, want)
	}
}

// bnProbe is a small model whose one BatchNorm2d normalises the first convolution's output; its
// momentum 1 makes the running statistics those of the last batch.
func bnProbe(numClasses int) *cnn.Model {
	return &cnn.Model{Name: "BNProbe", InputShape: [3]int{3, 32, 32}, Layers: []cnn.Layer{
		cnn.Conv2d{In: 3, Out: 4, Kernel: 3, Stride: 2, Padding: 1, PadMode: cnn.PadZeros, NoBias: true},
		cnn.BatchNorm2d{Channels: 4, Momentum: 1, Eps: 1e-5}, cnn.ReLU{}, cnn.GlobalAvgPool2d{}, cnn.Linear{In: 4, Out: numClasses}}}
}

// TestBatchNormStatisticsSynchronised checks which BatchNorm statistics data-parallel training
// uses: the global batch's (PyTorch's SyncBatchNorm), not each device's share's (DDP's default).
// One step on 2 devices of a batch whose halves — the devices' shares — have different brightness
// gives the running variance of one device; the per-share alternative, computed by training
// each share alone on one device, is far from it.
func TestBatchNormStatisticsSynchronised(t *testing.T) {
	b := testkit.Backends(t)["xla:cpu"]
	const batch = 16
	set := testkit.SyntheticSet(batch, 9)
	cfg := TrainConfig{Epochs: 1, BatchSize: batch, Optimizer: OptimizerSGD, LearningRate: 0.01, Seed: 3}
	batches, err := datasets.NewBatches(set, datasets.BatchOptions{BatchSize: batch, Shuffle: true, Seed: cfg.Seed, DropLast: true})
	if err != nil {
		t.Fatal(err)
	}
	order := batches.Order(0)
	for k, idx := range order { // Device 0's share bright, device 1's dark.
		pixels := set.Pixels[idx*datasets.RecordPixels : (idx+1)*datasets.RecordPixels]
		for j, p := range pixels {
			if k < batch/2 {
				pixels[j] = 128 + p/2
			} else {
				pixels[j] = p / 4
			}
		}
	}
	runningVar := func(r parallelRun) []float32 {
		params, err := r.trained.Weights(1)
		if err != nil {
			t.Fatal(err)
		}
		return params["running_var"].Data
	}
	one := trainOn(t, b, bnProbe, set, cfg, 1)
	two := trainOn(t, b, bnProbe, set, cfg, 2)
	// The shares alone, each on one device, as per-device statistics would see them.
	var shares [2][]float32
	for i := range shares {
		part := &datasets.Set{Name: fmt.Sprintf("share %d", i), ClassIDs: set.ClassIDs, ClassNames: set.ClassNames}
		for _, idx := range order[i*batch/2 : (i+1)*batch/2] {
			part.Labels = append(part.Labels, set.Labels[idx])
			part.Pixels = append(part.Pixels, set.Record(idx)...)
		}
		shareCfg := cfg
		shareCfg.BatchSize = batch / 2
		shares[i] = runningVar(trainOn(t, b, bnProbe, part, shareCfg, 1))
	}
	global, synced := runningVar(one), runningVar(two)
	perDevice := make([]float32, len(global))
	for i := range perDevice {
		perDevice[i] = (shares[0][i] + shares[1][i]) / 2
	}
	dSync, _ := maxAbsDiff(synced, global)
	dLocal, _ := maxAbsDiff(perDevice, global)
	t.Logf("running_var after one step: one device %v, 2 devices %v (|Δ| %.3g); mean of the shares' own %v (|Δ| %.3g)",
		global, synced, dSync, perDevice, dLocal)
	if dSync > 1e-6 {
		t.Errorf("2 devices: running variance differs from the global batch's by %g > 1e-6", dSync)
	}
	if dLocal < 1e-3 {
		t.Fatalf("the shares' own statistics are only %g from the global ones: the test cannot tell them apart", dLocal)
	}
	if two.divergence != 0 {
		t.Errorf("2 devices: copies differ by %g at %s", two.divergence, two.where)
	}
}

// TestDataParallelResumeOnOtherDeviceCount interrupts a 2-device training after a checkpoint and
// resumes it on 4 devices and on 1: both end as the uninterrupted 2-device run, to float rounding.
func TestDataParallelResumeOnOtherDeviceCount(t *testing.T) {
	b := testkit.Backends(t)["xla:cpu"]
	set := testkit.SyntheticSet(96, 10)
	cfg := quickConfig(2)
	reference := trainOn(t, b, cnn.LectureCNN, set, cfg, 2)
	for _, resumeOn := range []int{4, 1} {
		t.Run(fmt.Sprintf("2to%d", resumeOn), func(t *testing.T) {
			dir := t.TempDir()
			c := cfg
			c.CheckpointDir, c.CheckpointEvery, c.Devices = dir, 4, 2
			errStop := errors.New("simulated interruption")
			c.AfterStep = func(step int) error {
				if step == 8 {
					return errStop
				}
				return nil
			}
			first, _ := cnn.NewTrained(cnn.LectureCNN(3), 1)
			if _, err := Train(context.Background(), b, first, set, nil, c); !errors.Is(err, errStop) {
				t.Fatalf("first run: %v, want the interruption", err)
			}
			c.AfterStep, c.Devices = nil, resumeOn
			resumed, _ := cnn.NewTrained(cnn.LectureCNN(3), 1)
			if _, err := Train(context.Background(), b, resumed, set, nil, c); err != nil {
				t.Fatal(err)
			}
			d, _ := maxAbsDiff(flatValues(t, resumed), reference.weights)
			t.Logf("resumed on %d device(s): max |Δweight| to the uninterrupted 2-device run %.3g", resumeOn, d)
			if d > 1e-5 {
				t.Errorf("resumed on %d device(s): weights differ by %g > 1e-5", resumeOn, d)
			}
			loaded, _, err := LoadModel(dir)
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := maxAbsDiff(flatValues(t, loaded), flatValues(t, resumed)); d != 0 {
				t.Errorf("the checkpoint's weights differ from the trained ones by %g", d)
			}
		})
	}
}

func TestDataParallelErrors(t *testing.T) {
	tests := []struct {
		devices, available, batch int
		want                      string // "": no error.
	}{
		{0, 4, 64, ""},
		{1, 4, 63, ""},
		{4, 4, 64, ""},
		{2, 4, 6, ""},
		{-1, 4, 64, "devices -1: want ≥ 1"},
		{5, 4, 64, "devices 5: the backend has only 4 device(s)"},
		{2, 1, 64, "devices 2: the backend has only 1 device(s)"},
		{3, 4, 64, "batch size 64 is not divisible by devices 3"},
		{4, 4, 6, "batch size 6 is not divisible by devices 4"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d_of_%d_batch_%d", tc.devices, tc.available, tc.batch), func(t *testing.T) {
			err := CheckDevices(tc.devices, tc.available, tc.batch)
			if tc.want == "" && err != nil {
				t.Fatalf("CheckDevices: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("CheckDevices = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Train checks before training, on the backend's own count.
	b := testkit.Backends(t)["xla:cpu"]
	set := testkit.SyntheticSet(32, 11)
	tr, _ := cnn.NewTrained(cnn.LectureCNN(3), 1)
	cfg := quickConfig(1)
	cfg.Devices = b.NumDevices() + 1
	cfg.BatchSize = 2 * cfg.Devices
	want := fmt.Sprintf("devices %d: the backend has only %d device(s)", cfg.Devices, b.NumDevices())
	if _, err := Train(context.Background(), b, tr, set, nil, cfg); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Train with Devices %d = %v, want an error containing %q", cfg.Devices, err, want)
	}
}
