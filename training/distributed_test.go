package training

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/internal/testenv"
	"github.com/cnnlab/cnnlab/internal/testkit"
	"github.com/cnnlab/cnnlab/lecture"
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

// trainOn trains a fresh newModel for set's classes (seed 1) with cfg on devices devices of b.
func trainOn(t *testing.T, b compute.Backend, newModel func(int) *cnn.Model, set *datasets.Set, cfg TrainConfig, devices int) parallelRun {
	t.Helper()
	return trainOnUntil(t, b, newModel, set, cfg, devices, 0, nil)
}

// errStopHere stops a training of trainOnUntil.
var errStopHere = errors.New("stopped by the test")

// trainOnUntil is trainOn stopped after step stop (0: not stopped), calling each (if not nil)
// after every step.
func trainOnUntil(t *testing.T, b compute.Backend, newModel func(int) *cnn.Model, set *datasets.Set, cfg TrainConfig,
	devices, stop int, each func(step int, tr *cnn.Trained)) parallelRun {
	t.Helper()
	tr, err := cnn.NewTrained(newModel(set.NumClasses()), 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Devices = devices
	cfg.AfterStep = func(step int) error {
		if each != nil {
			each(step, tr)
		}
		if step == stop {
			return errStopHere
		}
		return nil
	}
	history, err := Train(context.Background(), b, tr, set, nil, cfg)
	if err != nil && !(stop > 0 && errors.Is(err, errStopHere)) {
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

// firstImages returns the first n images of s as a set of the same classes.
func firstImages(s *datasets.Set, n int) *datasets.Set {
	return &datasets.Set{Name: fmt.Sprintf("%s[:%d]", s.Name, n), ClassIDs: s.ClassIDs, ClassNames: s.ClassNames,
		Labels: s.Labels[:n], Pixels: s.Pixels[:n*datasets.RecordPixels]}
}

// worstRelDiff returns the largest |a[i] − b[i]| / (atol + rtol·|b[i]|) — at most 1 when every
// value agrees within the tolerance — with its index and the absolute difference there.
func worstRelDiff(a, b []float32, atol, rtol float64) (ratio float64, at int, abs float64) {
	if len(a) != len(b) {
		return math.Inf(1), -1, math.Inf(1)
	}
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if r := d / (atol + rtol*math.Abs(float64(b[i]))); r > ratio || math.IsNaN(r) {
			ratio, at, abs = r, i, d
		}
	}
	return ratio, at, abs
}

// TestDataParallelMatchesOneDevice compares data-parallel training on 2 and 4 of XLA's CPU devices
// with one device, for the lecture's CNN (lecture settings, the lecture's classes) and ConvNet7BN
// (all 100 classes, the fast recipe's optimizer; 400 times the work per image, so fewer steps):
//
//   - from the same initial weights and seed, the first steps agree to float32 rounding: the
//     devices differ from one only in the order in which XLA sums the shares of the gradients
//     and of the batch statistics;
//   - after a few hundred steps on one device (the lecture's CNN; 24 for ConvNet7BN), one more
//     epoch from that checkpoint on 2 and 4 devices ends as on one, to float32 rounding, losses
//     included.
//
// Whole trainings are not compared after hundreds of steps: with ReLU and max pooling, the
// rounding differences flip a unit or a pooling choice at some step (the 1e-7 differences grow to
// 1e-1 between steps 30 and 100 for the lecture's CNN, 4 and 8 for ConvNet7BN: docs/distributed.md),
// as between any two BLAS libraries. The devices' copies of every variable must be identical: a
// step without the gradient all-reduce would update each copy with its own share's gradient.
func TestDataParallelMatchesOneDevice(t *testing.T) {
	b := testkit.Backends(t)["xla:cpu"]
	if b.NumDevices() < 4 {
		t.Fatalf("xla:cpu has %d device(s), the test needs 4", b.NumDevices())
	}
	data, err := datasets.LoadCIFAR100(testenv.CIFAR100Dir(t))
	if err != nil {
		t.Fatal(err)
	}
	lectureTrain, _, err := data.Subset(lecture.ClassIDs()...)
	if err != nil {
		t.Fatal(err)
	}
	lectureCfg := DefaultTrainConfig() // The lecture's optimizer: momentum 0.9, lr 0.05.
	lectureCfg.Epochs, lectureCfg.BatchSize = 30, 16
	zooCfg := TrainConfig{Epochs: 6, BatchSize: 8, Optimizer: OptimizerMomentum, LearningRate: 0.05, Momentum: 0.9,
		Nesterov: true, LabelSmoothing: 0.2, Augment: true, Seed: 1}
	tests := []struct {
		name     string
		newModel func(int) *cnn.Model
		set      *datasets.Set
		cfg      TrainConfig
		// steps is the number of steps on one device (a check of the set-up), early the steps of
		// the comparisons from the initial weights.
		steps int
		early []int
		// A value agrees when |difference| ≤ atol + rtol·|one device's value|; lossTol bounds the
		// difference of the resumed epoch's mean training loss.
		atol, rtol, lossTol float64
	}{
		{"LectureCNN", cnn.LectureCNN, firstImages(lectureTrain, 160), lectureCfg, 300, []int{1, 30}, 1e-6, 1e-5, 1e-6},
		{"ConvNet7BN", cnn.ConvNet7BN, firstImages(data.Train, 32), zooCfg, 24, []int{1, 2}, 2e-5, 2e-4, 1e-5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tc.cfg
			cfg.CheckpointDir = filepath.Join(dir, "one")
			early := map[int][]float32{}
			one := trainOnUntil(t, b, tc.newModel, tc.set, cfg, 1, 0, func(step int, tr *cnn.Trained) {
				if slices.Contains(tc.early, step) {
					early[step] = flatValues(t, tr)
				}
			})
			if last := one.history[len(one.history)-1]; last.Step != tc.steps {
				t.Fatalf("one device: %d steps, want %d", last.Step, tc.steps)
			}
			more := tc.cfg
			more.Epochs++
			resume := func(devices int) parallelRun {
				c := more
				c.CheckpointDir = filepath.Join(dir, fmt.Sprintf("resumed-on-%d", devices))
				copyDir(t, cfg.CheckpointDir, c.CheckpointDir)
				return trainOnUntil(t, b, tc.newModel, tc.set, c, devices, 0, nil)
			}
			oneMore := resume(1)
			for _, n := range []int{2, 4} {
				type comparison struct {
					what  string
					got   parallelRun
					wantW []float32
				}
				var comparisons []comparison
				trainOnUntil(t, b, tc.newModel, tc.set, tc.cfg, n, slices.Max(tc.early), func(step int, tr *cnn.Trained) {
					if slices.Contains(tc.early, step) { // No checkpoints: from the initial weights.
						r := parallelRun{trained: tr, weights: flatValues(t, tr)}
						var err error
						if r.divergence, r.where, err = ReplicaDivergence(tr.Store()); err != nil {
							t.Fatal(err)
						}
						comparisons = append(comparisons, comparison{fmt.Sprintf("step %d from the initial weights", step), r, early[step]})
					}
				})
				resumed := resume(n)
				comparisons = append(comparisons, comparison{fmt.Sprintf("one more epoch after step %d", tc.steps), resumed, oneMore.weights})
				for _, cmp := range comparisons {
					ratio, at, abs := worstRelDiff(cmp.got.weights, cmp.wantW, tc.atol, tc.rtol)
					maxAbs, _ := maxAbsDiff(cmp.got.weights, cmp.wantW)
					t.Logf("%s, %d devices vs 1, %s: max |Δvalue| %.3g over %d values; worst value %d: %.7g vs %.7g "+
						"(%.3g of the tolerance %g + %g·|value|); replicas differ by %.3g",
						tc.name, n, cmp.what, maxAbs, len(cmp.wantW), at, cmp.got.weights[at], cmp.wantW[at],
						ratio, tc.atol, tc.rtol, cmp.got.divergence)
					if cmp.got.divergence != 0 {
						t.Errorf("%d devices, %s: the devices' copies differ by %g at %s (gradients not all-reduced?)",
							n, cmp.what, cmp.got.divergence, cmp.got.where)
					}
					if ratio > 1 {
						t.Errorf("%d devices, %s: value %d is %g, one device's %g: |Δ| %g > %g + %g·|value|",
							n, cmp.what, at, cmp.got.weights[at], cmp.wantW[at], abs, tc.atol, tc.rtol)
					}
				}
				got, want := resumed.history[len(resumed.history)-1], oneMore.history[len(oneMore.history)-1]
				t.Logf("%s, %d devices vs 1: loss of the resumed epoch %.7f vs %.7f (|Δ| %.3g)",
					tc.name, n, got.TrainLoss, want.TrainLoss, math.Abs(got.TrainLoss-want.TrainLoss))
				if d := math.Abs(got.TrainLoss - want.TrainLoss); d > tc.lossTol {
					t.Errorf("%d devices: loss of the resumed epoch %g, one device's %g: |Δ| %g > %g", n, got.TrainLoss, want.TrainLoss, d, tc.lossTol)
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

// randomState returns the copies of t's random state (Dropout's), one per device (one if it is
// not distributed).
func randomState(t *testing.T, tr *cnn.Trained) [][]uint64 {
	t.Helper()
	v := tr.Store().GetVariable(model.JoinPath("/", model.RNGStateVariableName))
	if v == nil {
		t.Fatal("no random state in the store")
	}
	copies := []*tensors.Tensor{}
	if v.ShardingSpec() == nil {
		value, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		copies = append(copies, value)
	} else {
		dv, err := v.DistributedValue()
		if err != nil {
			t.Fatal(err)
		}
		copies = dv.Shards()
	}
	out := make([][]uint64, len(copies))
	for i, c := range copies {
		values, err := tensors.CopyFlatData[uint64](c)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = values
	}
	return out
}

// TestDataParallelDropout trains ResNetMini, whose Dropout draws from the store's random state, 6
// steps on 1, 2 and 4 devices from the same weights and random state: the losses are finite, the
// copies of every variable — the random state included — identical, and the weights those of one
// device to float32 rounding, so the dropout masks are one device's (the same random numbers for
// the same image, whatever the number of devices): one device with another random state, i.e.
// other masks, ends far from it.
func TestDataParallelDropout(t *testing.T) {
	b := testkit.Backends(t)["xla:cpu"]
	set := testkit.SyntheticSet(48, 14)
	cfg := TrainConfig{Epochs: 1, BatchSize: 8, Optimizer: OptimizerMomentum, LearningRate: 0.05, Momentum: 0.9, Seed: 1}
	var stateAfter [5][][]uint64
	run := func(devices int) parallelRun {
		return trainOnUntil(t, b, cnn.ResNetMini, set, cfg, devices, 0, func(_ int, tr *cnn.Trained) {
			stateAfter[devices] = randomState(t, tr)
		})
	}
	one := run(1)
	otherMasks, err := cnn.NewTrained(cnn.ResNetMini(set.NumClasses()), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := otherMasks.Store().SetRNGStateFromSeed(2); err != nil {
		t.Fatal(err)
	}
	if _, err := Train(context.Background(), b, otherMasks, set, nil, cfg); err != nil {
		t.Fatal(err)
	}
	dOther, _ := maxAbsDiff(flatValues(t, otherMasks), one.weights)
	t.Logf("one device, another random state (other dropout masks): max |Δvalue| %.3g", dOther)
	if dOther < 1e-4 {
		t.Fatalf("other dropout masks change the weights by only %g: the test cannot tell masks apart", dOther)
	}
	for _, n := range []int{2, 4} {
		r := run(n)
		d, at := maxAbsDiff(r.weights, one.weights)
		loss := r.history[0].TrainLoss
		t.Logf("ResNetMini, 6 steps on %d devices vs 1: max |Δvalue| %.3g at %d of %d; loss %.7f vs %.7f; copies differ by %.3g",
			n, d, at, len(one.weights), loss, one.history[0].TrainLoss, r.divergence)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			t.Errorf("%d devices: loss %g", n, loss)
		}
		if r.divergence != 0 {
			t.Errorf("%d devices: the copies differ by %g at %s", n, r.divergence, r.where)
		}
		if d > 1e-5 {
			t.Errorf("%d devices: weights differ from one device's by %g > 1e-5 (other masks: %g)", n, d, dOther)
		}
		for i, c := range stateAfter[n] {
			if !slices.Equal(c, stateAfter[1][0]) {
				t.Errorf("%d devices: device %d's random state %v, one device's %v", n, i, c, stateAfter[1][0])
			}
		}
	}
}

// TestDataParallelLookahead checks that lookahead (an in-graph update every few steps) runs
// data-parallel as on one device: 12 steps, lookahead every 4.
func TestDataParallelLookahead(t *testing.T) {
	b := testkit.Backends(t)["xla:cpu"]
	set := testkit.SyntheticSet(96, 13)
	cfg := quickConfig(2)
	cfg.LookaheadEvery, cfg.LookaheadDecay = 4, 0.95
	one := trainOn(t, b, cnn.LectureCNN, set, cfg, 1)
	two := trainOn(t, b, cnn.LectureCNN, set, cfg, 2)
	d, at := maxAbsDiff(two.weights, one.weights)
	t.Logf("lookahead every 4, 12 steps: 2 devices vs 1: max |Δvalue| %.3g at %d of %d; replicas differ by %.3g",
		d, at, len(one.weights), two.divergence)
	if d > 1e-6 || two.divergence != 0 {
		t.Errorf("2 devices: weights differ from one device's by %g (> 1e-6) or copies by %g (≠ 0)", d, two.divergence)
	}
}

// TestDataParallelEvaluation trains the lecture's CNN (100 classes) 2 epochs on 2 and 4 devices
// with Experiment.Run and a test set of 1,030 CIFAR-100 images (the last evaluation batch partial):
// the per-epoch test figures and the final reports, both from the evaluation sharded over the
// training's devices, are those of the one-device evaluation of the same weights — loss to 1e-6,
// every prediction, accuracy and top-5.
func TestDataParallelEvaluation(t *testing.T) {
	b := testkit.Backends(t)["xla:cpu"]
	data, err := datasets.LoadCIFAR100(testenv.CIFAR100Dir(t))
	if err != nil {
		t.Fatal(err)
	}
	trainSet, testSet := firstImages(data.Train, 64), firstImages(data.Test, 1030)
	for _, n := range []int{2, 4} {
		t.Run(fmt.Sprintf("%d_devices", n), func(t *testing.T) {
			cfg := quickConfig(2)
			cfg.Devices, cfg.LearningRate = n, 0.05
			e := &Experiment{Model: cnn.LectureCNN(100), Train: trainSet, Test: testSet, Config: cfg}
			r, err := e.Run(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			if d, where, err := ReplicaDivergence(r.Trained.Store()); err != nil || d != 0 {
				t.Fatalf("copies differ by %g at %s (%v)", d, where, err)
			}
			for _, tc := range []struct {
				name    string
				set     *datasets.Set
				sharded *cnn.Evaluation
			}{{"test", testSet, r.TestEval}, {"train", trainSet, r.TrainEval}} {
				one, err := cnn.NewEvaluator(b, r.Trained).Evaluate(tc.set)
				if err != nil {
					t.Fatal(err)
				}
				got := tc.sharded
				t.Logf("%d devices, %s set (%d images): loss %.9f vs one device %.9f (|Δ| %.3g); accuracy %.4f vs %.4f; top-5 %.4f vs %.4f",
					n, tc.name, tc.set.Len(), got.Loss, one.Loss, math.Abs(got.Loss-one.Loss), got.Accuracy, one.Accuracy, got.Top5, one.Top5)
				if math.Abs(got.Loss-one.Loss) > 1e-6 || got.Accuracy != one.Accuracy || got.Top5 != one.Top5 ||
					!slices.Equal(got.Predictions, one.Predictions) {
					t.Errorf("%d devices, %s set: sharded evaluation (loss %g, accuracy %g, top-5 %g) differs from one device's (%g, %g, %g)",
						n, tc.name, got.Loss, got.Accuracy, got.Top5, one.Loss, one.Accuracy, one.Top5)
				}
			}
			last := r.History[len(r.History)-1]
			if math.Abs(last.TestLoss-r.TestEval.Loss) > 1e-6 || last.TestAccuracy != r.TestEval.Accuracy {
				t.Errorf("last epoch's test loss %g, accuracy %g; final report's %g, %g (same weights)",
					last.TestLoss, last.TestAccuracy, r.TestEval.Loss, r.TestEval.Accuracy)
			}
		})
	}
}
