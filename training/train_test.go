package training

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/internal/testenv"
	"github.com/cnnlab/cnnlab/internal/testkit"
	"github.com/cnnlab/cnnlab/lecture"
)

// lectureSets loads the lecture's 3-class subsets of the real CIFAR-100, or skips the test.
func lectureSets(t *testing.T) (train, test *datasets.Set) {
	t.Helper()
	dir := testenv.CIFAR100Dir(t)
	data, err := datasets.LoadCIFAR100(dir)
	if err != nil {
		t.Fatal(err)
	}
	train, test, err = data.Subset(lecture.ClassIDs()...)
	if err != nil {
		t.Fatal(err)
	}
	return train, test
}

// epochsFromEnv returns $CNNLAB_EPOCHS if set, else def.
func epochsFromEnv(t *testing.T, def int) int {
	s := os.Getenv("CNNLAB_EPOCHS")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("CNNLAB_EPOCHS=%q: want a positive integer", s)
	}
	return n
}

// Acceptance bounds of the 3-class experiment (issue 4): the lecture reports train accuracy 1.0 and
// test accuracy 0.8933 on 300 test images, whose sampling noise alone is about ±0.017.
const (
	minTrainAccuracy = 0.99
	minTestAccuracy  = 0.86
	maxTestAccuracy  = 0.93
)

func TestLectureExperimentRealData(t *testing.T) {
	trainSet, testSet := lectureSets(t)
	b := testkit.Backends(t)["xla:cpu"]
	cfg := DefaultTrainConfig()
	cfg.Epochs = epochsFromEnv(t, cfg.Epochs)
	e := &Experiment{Model: cnn.LectureCNN(3), Train: trainSet, Test: testSet, Config: cfg}
	r, err := e.Run(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	last := r.History[len(r.History)-1]
	t.Logf("%s, %s: train acc %.4f, test acc %.4f, %.1fs, %.0f img/s", b.Name(), cfg, r.TrainEval.Accuracy, r.TestEval.Accuracy, r.TrainSeconds, last.ImagesPerSecond)
	if cfg.Epochs < DefaultTrainConfig().Epochs {
		t.Skipf("CNNLAB_EPOCHS=%d < %d: not checking the acceptance bounds", cfg.Epochs, DefaultTrainConfig().Epochs)
	}
	if r.TrainEval.Accuracy < minTrainAccuracy {
		t.Errorf("train accuracy %.4f < %.2f", r.TrainEval.Accuracy, minTrainAccuracy)
	}
	if r.TestEval.Accuracy < minTestAccuracy || r.TestEval.Accuracy > maxTestAccuracy {
		t.Errorf("test accuracy %.4f outside [%.2f, %.2f]", r.TestEval.Accuracy, minTestAccuracy, maxTestAccuracy)
	}
}

// quickConfig is a short training on the synthetic set.
func quickConfig(epochs int) TrainConfig {
	cfg := DefaultTrainConfig()
	cfg.Epochs, cfg.BatchSize, cfg.LearningRate = epochs, 16, 0.01
	return cfg
}

func TestEvaluationSeesCurrentWeights(t *testing.T) {
	set := testkit.SyntheticSet(96, 1)
	for name, b := range testkit.Backends(t) {
		t.Run(name, func(t *testing.T) {
			tr, err := cnn.NewTrained(cnn.LectureCNN(3), 1)
			if err != nil {
				t.Fatal(err)
			}
			ev := cnn.NewEvaluator(b, tr) // One evaluator for the whole test, as between epochs.
			var losses []float64
			for round := range 3 {
				if round > 0 {
					if _, err := Train(context.Background(), b, tr, set, nil, quickConfig(1)); err != nil {
						t.Fatal(err)
					}
				}
				e, err := ev.Evaluate(set)
				if err != nil {
					t.Fatal(err)
				}
				losses = append(losses, e.Loss)
			}
			t.Logf("%s: loss before training, after 1 and 2 epochs: %v", name, losses)
			if losses[1] == losses[0] || losses[2] == losses[1] {
				t.Errorf("evaluation did not see the new weights: losses %v", losses)
			}
		})
	}
}

func TestTrainRepeatable(t *testing.T) {
	set := testkit.SyntheticSet(96, 2)
	b := testkit.Backends(t)["xla:cpu"]
	run := func(seed int64) []float32 {
		cfg := quickConfig(1)
		cfg.Seed = seed
		tr, err := cnn.NewTrained(cnn.LectureCNN(3), seed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Train(context.Background(), b, tr, set, nil, cfg); err != nil {
			t.Fatal(err)
		}
		return flatValues(t, tr)
	}
	a, again, other := run(5), run(5), run(6)
	if !slicesEqual(a, again) {
		t.Error("two trainings with seed 5 on xla:cpu gave different weights")
	}
	if slicesEqual(a, other) {
		t.Error("seeds 5 and 6 gave the same weights")
	}
}

// slicesEqual reports whether a and b hold exactly the same values.
func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCheckpointResume checks that training interrupted mid-epoch and resumed from its checkpoint
// ends bit-identical to an uninterrupted run — weights, BatchNorm2d statistics and Dropout's random
// state included (the model with every layer).
func TestCheckpointResume(t *testing.T) {
	for _, newModel := range []func(int) *cnn.Model{cnn.LectureCNN, cnn.EveryLayerModel} {
		t.Run(newModel(3).Name, func(t *testing.T) { testCheckpointResume(t, newModel) })
	}
}

// testCheckpointResume is TestCheckpointResume for one model.
func testCheckpointResume(t *testing.T, newModel func(int) *cnn.Model) {
	set := testkit.SyntheticSet(96, 3) // 6 steps of 16 per epoch.
	b := testkit.Backends(t)["xla:cpu"]
	const epochs, interruptAt = 2, 8 // Interrupted in the middle of the second epoch.

	reference, err := cnn.NewTrained(newModel(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	refHistory, err := Train(context.Background(), b, reference, set, set, quickConfig(epochs))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cfg := quickConfig(epochs)
	cfg.CheckpointDir, cfg.CheckpointEvery = dir, 5
	errInterrupt := errors.New("simulated interruption")
	cfg.AfterStep = func(step int) error {
		if step == interruptAt {
			return errInterrupt
		}
		return nil
	}
	first, _ := cnn.NewTrained(newModel(3), 1)
	if _, err := Train(context.Background(), b, first, set, set, cfg); !errors.Is(err, errInterrupt) {
		t.Fatalf("first run: got %v, want the interruption", err)
	}
	cfg.AfterStep = nil
	resumed, _ := cnn.NewTrained(newModel(3), 1) // A fresh process: new weights, restored from dir.
	history, err := Train(context.Background(), b, resumed, set, set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != epochs || history[1].Step != refHistory[1].Step {
		t.Fatalf("resumed history %+v, want %d epochs as %+v", history, epochs, refHistory)
	}
	if !slicesEqual(flatValues(t, resumed), flatValues(t, reference)) {
		t.Error("weights after interruption and resume differ from an uninterrupted training")
	}
	if history[1].TestAccuracy != refHistory[1].TestAccuracy {
		t.Errorf("test accuracy after resume %g, uninterrupted %g", history[1].TestAccuracy, refHistory[1].TestAccuracy)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if strings.Contains(filepath.Base(f), ".tmp-") {
			t.Errorf("temporary file left behind: %s", f)
		}
	}

	loaded, state, err := LoadModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	if state.Epoch != epochs || !slicesEqual(flatValues(t, loaded), flatValues(t, reference)) {
		t.Errorf("LoadModel: epoch %d, weights equal %v", state.Epoch, slicesEqual(flatValues(t, loaded), flatValues(t, reference)))
	}
}

func TestCheckpointErrors(t *testing.T) {
	set := testkit.SyntheticSet(48, 4)
	b := testkit.Backends(t)["xla:cpu"]
	dir := t.TempDir()
	tr, _ := cnn.NewTrained(cnn.LectureCNN(3), 1)
	if err := SaveModel(dir, tr, &CheckpointState{}); err != nil {
		t.Fatal(err)
	}
	state, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	weights := filepath.Join(dir, state.WeightsFile)
	data, _ := os.ReadFile(weights)
	tests := []struct {
		name    string
		corrupt func()
		wantErr string
	}{
		{"missing directory", func() { dir = filepath.Join(dir, "absent") }, "no saved model"},
		{"flipped byte", func() { data[len(data)/2] ^= 1; os.WriteFile(weights, data, 0o644) }, "corrupt checkpoint weights"},
		{"truncated weights", func() { os.WriteFile(weights, data[:100], 0o644) }, "corrupt checkpoint weights"},
		{"missing weights", func() { os.Remove(weights) }, "reading checkpoint weights"},
		{"garbage state", func() { os.WriteFile(filepath.Join(dir, CheckpointFile), []byte("{not json"), 0o644) }, "corrupt checkpoint"},
	}
	base := dir
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir = base
			tc.corrupt()
			if _, _, err := LoadModel(dir); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("LoadModel = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	// Train resuming from the corrupt checkpoint fails too, instead of starting over silently.
	cfg := quickConfig(1)
	cfg.CheckpointDir = base
	if _, err := Train(context.Background(), b, tr, set, nil, cfg); err == nil {
		t.Error("Train with a corrupt checkpoint: want an error")
	}
}

func TestTrainDetectsNaN(t *testing.T) {
	set := testkit.SyntheticSet(48, 5)
	b := testkit.Backends(t)["xla:cpu"]
	tr, _ := cnn.NewTrained(cnn.LectureCNN(3), 1)
	params, _ := tr.Weights(7)
	params["bias"].Data[0] = float32(math.NaN())
	if err := tr.SetWeights(7, params); err != nil {
		t.Fatal(err)
	}
	_, err := Train(context.Background(), b, tr, set, nil, quickConfig(1))
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step 1") {
		t.Errorf("Train with a NaN weight = %v, want ErrNonFinite at step 1", err)
	}
}

// flatValues returns every parameter and buffer of tr (Trained.FlatValues), failing the test on error.
func flatValues(t *testing.T, tr *cnn.Trained) []float32 {
	t.Helper()
	v, err := tr.FlatValues()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAfterEpoch checks that AfterEpoch sees the growing history after every epoch and that its
// error stops training after the epoch.
func TestAfterEpoch(t *testing.T) {
	set := testkit.SyntheticSet(48, 3) // 3 steps of 16 per epoch.
	b := testkit.Backends(t)["xla:cpu"]
	cfg := quickConfig(3)
	var lengths []int
	stop := errors.New("stop after two epochs")
	cfg.AfterEpoch = func(h []EpochStats) error {
		lengths = append(lengths, len(h))
		if h[len(h)-1].Epoch != len(h) {
			t.Errorf("last epoch of a history of %d is %d", len(h), h[len(h)-1].Epoch)
		}
		if len(h) == 2 {
			return stop
		}
		return nil
	}
	trained, err := cnn.NewTrained(cnn.LectureCNN(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Train(context.Background(), b, trained, set, set, cfg); !errors.Is(err, stop) {
		t.Fatalf("Train returned %v, want the AfterEpoch error", err)
	}
	if len(lengths) != 2 || lengths[0] != 1 || lengths[1] != 2 {
		t.Errorf("AfterEpoch saw histories of lengths %v, want [1 2]", lengths)
	}
}

// TestTestEvery checks that TestEvery = 2 over 5 epochs evaluates the test set after epochs 2, 4
// and 5 only, marks the others TestSkipped (and prints them without test figures), and leaves the
// training itself unchanged: the same train losses, and the same test figures where evaluated, as
// evaluating after every epoch.
func TestTestEvery(t *testing.T) {
	set := testkit.SyntheticSet(48, 3)
	b := testkit.Backends(t)["xla:cpu"]
	run := func(every int) ([]EpochStats, string) {
		cfg := quickConfig(5)
		cfg.TestEvery = every
		var out strings.Builder
		cfg.Progress = &out
		trained, err := cnn.NewTrained(cnn.LectureCNN(3), 1)
		if err != nil {
			t.Fatal(err)
		}
		h, err := Train(context.Background(), b, trained, set, set, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return h, out.String()
	}
	all, _ := run(0)
	some, text := run(2)
	for i, h := range some {
		wantSkipped := h.Epoch == 1 || h.Epoch == 3
		if h.TestSkipped != wantSkipped || all[i].TestSkipped {
			t.Errorf("epoch %d: TestSkipped %v (every epoch: %v), want %v", h.Epoch, h.TestSkipped, all[i].TestSkipped, wantSkipped)
		}
		if h.TrainLoss != all[i].TrainLoss || (!wantSkipped && (h.TestLoss != all[i].TestLoss || h.TestAccuracy != all[i].TestAccuracy)) {
			t.Errorf("epoch %d: %+v, evaluating every epoch %+v", h.Epoch, h, all[i])
		}
	}
	if !strings.Contains(text, "epoch 1/5: train loss") || strings.Contains(strings.Split(text, "epoch 2/5")[0], "test loss") ||
		!strings.Contains(text, "epoch 5/5: train loss") {
		t.Errorf("progress lines:\n%s", text)
	}
}
