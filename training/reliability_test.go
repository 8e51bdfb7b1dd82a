package training

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/internal/testkit"
)

// checkpointedRun trains the lecture CNN (classes 0,55,58) for one epoch on set with a checkpoint
// in a new directory, which it returns.
func checkpointedRun(t *testing.T, set *datasets.Set, cfg TrainConfig) string {
	t.Helper()
	cfg.CheckpointDir = t.TempDir()
	tr, _ := cnn.NewTrained(lectureModel(), 1)
	if _, err := Train(context.Background(), testkit.Backends(t)["xla:cpu"], tr, set, nil, cfg); err != nil {
		t.Fatal(err)
	}
	return cfg.CheckpointDir
}

// lectureModel is the lecture CNN labelled with the lecture's classes.
func lectureModel() *cnn.Model {
	m := cnn.LectureCNN(3)
	m.ClassIDs, m.ClassNames = []int{0, 55, 58}, []string{"apple", "otter", "pickup_truck"}
	return m
}

func TestResumeRefusesChangedSettings(t *testing.T) {
	set := testkit.SyntheticSet(48, 3)
	b := testkit.Backends(t)["xla:cpu"]
	base := quickConfig(1)
	dir := checkpointedRun(t, set, base)
	tests := []struct {
		name   string
		change func(cfg *TrainConfig, m *cnn.Model) *datasets.Set // Returns the training set to use.
		want   []string                                           // nil: the resume is accepted.
	}{
		{"classes", func(_ *TrainConfig, m *cnn.Model) *datasets.Set { m.ClassIDs = []int{1, 2, 3}; return set },
			[]string{"classes (--classes) 0,55,58, this run 1,2,3"}},
		{"model", func(_ *TrainConfig, m *cnn.Model) *datasets.Set {
			*m = *cnn.MLP(cnn.DefaultMLPHidden, 3)
			m.ClassIDs = []int{0, 55, 58}
			return set
		}, []string{"model (--model) " + cnn.LectureCNN(3).Name + ", this run " + cnn.MLP(cnn.DefaultMLPHidden, 3).Name}},
		{"learning rate", func(c *TrainConfig, _ *cnn.Model) *datasets.Set { c.LearningRate = 0.1; return set },
			[]string{"learning rate (--lr) 0.01, this run 0.1"}},
		{"momentum", func(c *TrainConfig, _ *cnn.Model) *datasets.Set { c.Momentum = 0.5; return set },
			[]string{"momentum (--momentum) 0.9, this run 0.5"}},
		{"optimizer", func(c *TrainConfig, _ *cnn.Model) *datasets.Set { c.Optimizer = OptimizerAdam; return set },
			[]string{"optimizer (--optimizer) momentum, this run adam"}},
		{"weight decay", func(c *TrainConfig, _ *cnn.Model) *datasets.Set { c.WeightDecay = 1e-4; return set },
			[]string{"weight decay (--weight-decay) 0, this run 0.0001"}},
		{"final learning rate and epochs", func(c *TrainConfig, _ *cnn.Model) *datasets.Set {
			c.FinalLearningRate, c.Epochs = 0.001, 2
			return set
		}, []string{"final learning rate (--lr-final) 0, this run 0.001", "epochs (the learning rate decays over all of them) (--epochs) 1, this run 2"}},
		{"batch", func(c *TrainConfig, _ *cnn.Model) *datasets.Set { c.BatchSize = 8; return set },
			[]string{"batch size (--batch) 16, this run 8"}},
		{"seed", func(c *TrainConfig, _ *cnn.Model) *datasets.Set { c.Seed = 2; return set },
			[]string{"seed (--seed) 1, this run 2"}},
		{"augmentation", func(c *TrainConfig, _ *cnn.Model) *datasets.Set { c.Augment = true; return set },
			[]string{"augmentation (--augment) false, this run true"}},
		{"data", func(*TrainConfig, *cnn.Model) *datasets.Set { return testkit.SyntheticSet(48, 4) },
			[]string{"training data sha256 (--data) " + set.SHA256()}},
		{"more epochs, no schedule", func(c *TrainConfig, _ *cnn.Model) *datasets.Set { c.Epochs = 2; return set }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, m := base, lectureModel()
			cfg.CheckpointDir = filepath.Join(t.TempDir(), "checkpoint")
			copyDir(t, dir, cfg.CheckpointDir)
			trainSet := tc.change(&cfg, m)
			tr, err := cnn.NewTrained(m, 1)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Train(context.Background(), b, tr, trainSet, nil, cfg)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("resuming with %s changed: %v", tc.name, err)
				}
				return
			}
			var mismatch *SettingsMismatchError
			if !errors.As(err, &mismatch) {
				t.Fatalf("resuming with %s changed: %v, want a SettingsMismatchError", tc.name, err)
			}
			t.Logf("%v", err)
			for _, want := range append(tc.want, cfg.CheckpointDir, "another --out", "--restart") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// copyDir copies the files of src into a new directory dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDivergedRunKeepsLastFiniteCheckpoint(t *testing.T) {
	set := testkit.SyntheticSet(96, 3)
	b := testkit.Backends(t)["xla:cpu"]

	// Two good steps, each checkpointed, then a weight turns NaN: step 3 diverges.
	cfg := quickConfig(1)
	cfg.CheckpointDir, cfg.CheckpointEvery = t.TempDir(), 1
	tr, _ := cnn.NewTrained(cnn.LectureCNN(3), 1)
	cfg.AfterStep = func(step int) error {
		if step == 2 {
			setNaNWeight(t, tr)
		}
		return nil
	}
	_, err := Train(context.Background(), b, tr, set, nil, cfg)
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("training into a NaN weight: %v, want ErrNonFinite", err)
	}
	t.Logf("divergence: %v", err)
	for _, want := range []string{"the last checkpoint, all weights finite, is in", cfg.CheckpointDir, "global step 2", "--restart", "lower --lr"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	checkFiniteCheckpoint(t, cfg.CheckpointDir, 2)

	// Diverging from the first step (lr 1e9): any checkpoint saved is finite.
	diverging := quickConfig(1)
	diverging.CheckpointDir, diverging.CheckpointEvery, diverging.LearningRate = t.TempDir(), 1, 1e9
	tr, _ = cnn.NewTrained(cnn.LectureCNN(3), 1)
	if _, err := Train(context.Background(), b, tr, set, nil, diverging); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("training with lr 1e9: %v, want ErrNonFinite", err)
	}
	if found, _ := HasCheckpoint(diverging.CheckpointDir); found {
		checkFiniteCheckpoint(t, diverging.CheckpointDir, -1)
	}

	// SaveCheckpoint refuses a NaN weight and leaves the previous checkpoint.
	tr, _ = cnn.NewTrained(cnn.LectureCNN(3), 1)
	setNaNWeight(t, tr)
	err = SaveCheckpoint(cfg.CheckpointDir, tr, &CheckpointState{GlobalStep: 99})
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "/model/07_Linear/bias has 1 NaN or infinite values") {
		t.Fatalf("SaveCheckpoint with a NaN weight: %v, want ErrNonFinite naming the variable", err)
	}
	checkFiniteCheckpoint(t, cfg.CheckpointDir, 2)
}

// setNaNWeight makes the first bias of the lecture CNN's linear layer NaN.
func setNaNWeight(t *testing.T, tr *cnn.Trained) {
	t.Helper()
	params, err := tr.Weights(7)
	if err != nil {
		t.Fatal(err)
	}
	params["bias"].Data[0] = float32(math.NaN())
	if err := tr.SetWeights(7, params); err != nil {
		t.Fatal(err)
	}
}

// checkFiniteCheckpoint fails unless dir's checkpoint has only finite weights and, if
// globalStep ≥ 0, is at that step.
func checkFiniteCheckpoint(t *testing.T, dir string, globalStep int) {
	t.Helper()
	loaded, state, err := LoadModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	if globalStep >= 0 && state.GlobalStep != globalStep {
		t.Errorf("checkpoint in %s at global step %d, want %d", dir, state.GlobalStep, globalStep)
	}
	for _, v := range flatValues(t, loaded) {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("the checkpoint in %s has non-finite weights", dir)
		}
	}
}

func TestCheckpointDebrisAndGrowth(t *testing.T) {
	set := testkit.SyntheticSet(48, 3)
	b := testkit.Backends(t)["xla:cpu"]
	cfg := quickConfig(1)
	dir := checkpointedRun(t, set, cfg)
	first := weightsFileInfo(t, dir)
	debris := []string{".checkpoint.json.tmp-123", ".weights-00000003.bin.tmp-456", ".model.json.tmp-789"}
	for _, name := range debris {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("left by kill -9"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sizes := []int64{first.size}
	for epochs := 2; epochs <= 3; epochs++ {
		cfg.Epochs, cfg.CheckpointDir = epochs, dir
		tr, _ := cnn.NewTrained(lectureModel(), 1)
		if _, err := Train(context.Background(), b, tr, set, nil, cfg); err != nil {
			t.Fatal(err)
		}
		info := weightsFileInfo(t, dir)
		sizes = append(sizes, info.size)
		for _, path := range info.paths {
			if strings.HasPrefix(path, metricsScope) {
				t.Errorf("checkpoint saves the metric variable %s", path)
			}
		}
	}
	if sizes[1] != sizes[0] || sizes[2] != sizes[0] {
		t.Errorf("weights file sizes over resumes %v, want them all equal", sizes)
	}
	for _, name := range debris {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("temporary file %s still there after the resume: %v", name, err)
		}
	}
}

// savedWeights describes the weights file of a checkpoint.
type savedWeights struct {
	size  int64
	paths []string
}

// weightsFileInfo returns the size and variable paths of dir's weights file.
func weightsFileInfo(t *testing.T, dir string) savedWeights {
	t.Helper()
	state, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, state.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	info := savedWeights{size: int64(len(data))}
	dec := gob.NewDecoder(bytes.NewReader(data))
	for {
		var header savedVariable
		if err := dec.Decode(&header); errors.Is(err, io.EOF) {
			return info
		} else if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeRawTensor(dec); err != nil {
			t.Fatal(err)
		}
		info.paths = append(info.paths, header.Path)
	}
}

func TestLoadModelRejectsEditedDescription(t *testing.T) {
	dir := t.TempDir()
	tr, _ := cnn.NewTrained(cnn.LectureCNN(3), 1)
	if err := SaveModel(dir, tr, &CheckpointState{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadModel(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ModelFile)
	data, _ := os.ReadFile(path)
	edited := strings.Replace(string(data), `"kernel": 5`, `"kernel": 3`, 1)
	if edited == string(data) {
		t.Fatalf("%s has no kernel 5 to edit:\n%s", path, data)
	}
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadModel(dir)
	for _, want := range []string{path, "edited or damaged", CheckpointFile + " records"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadModel of an edited %s: %v, want an error containing %q", ModelFile, err, want)
		}
	}
}

func TestTrainConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*TrainConfig)
		want   string // "" : valid.
	}{
		{"default", func(*TrainConfig) {}, ""},
		{"zero epochs", func(c *TrainConfig) { c.Epochs = 0 }, "Epochs = 0, want ≥ 1"},
		{"zero batch", func(c *TrainConfig) { c.BatchSize = 0 }, "BatchSize = 0"},
		{"unknown optimizer", func(c *TrainConfig) { c.Optimizer = "rmsprop" }, `Optimizer = "rmsprop"`},
		{"NaN learning rate", func(c *TrainConfig) { c.LearningRate = math.NaN() }, "LearningRate = NaN"},
		{"infinite learning rate", func(c *TrainConfig) { c.LearningRate = math.Inf(1) }, "LearningRate = +Inf"},
		{"negative final rate", func(c *TrainConfig) { c.FinalLearningRate = -1 }, "FinalLearningRate = -1"},
		{"NaN momentum", func(c *TrainConfig) { c.Momentum = math.NaN() }, "Momentum = NaN, want in [0, 1)"},
		{"negative momentum", func(c *TrainConfig) { c.Momentum = -0.1 }, "Momentum = -0.1"},
		{"momentum 1", func(c *TrainConfig) { c.Momentum = 1 }, "Momentum = 1"},
		{"NaN weight decay", func(c *TrainConfig) { c.WeightDecay = math.NaN() }, "WeightDecay = NaN"},
		{"negative weight decay", func(c *TrainConfig) { c.WeightDecay = -1 }, "WeightDecay = -1"},
		{"negative checkpoint interval", func(c *TrainConfig) { c.CheckpointEvery = -1 }, "CheckpointEvery = -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultTrainConfig()
			tc.change(&cfg)
			err := cfg.Validate()
			if tc.want == "" && err != nil {
				t.Fatalf("Validate of a valid configuration: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
