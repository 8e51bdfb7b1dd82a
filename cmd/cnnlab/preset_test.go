package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/internal/testenv"
	"github.com/cnnlab/cnnlab/training"
)

// presetFlags parses args as cnnlab train does, applies preset and config, and returns the
// training configuration and the --model and --classes values.
func presetFlags(t *testing.T, preset, config string, args ...string) (training.TrainConfig, modelFlags, error) {
	t.Helper()
	fs := newFlagSet("train", "[flags]")
	fs.SetOutput(new(bytes.Buffer))
	var f trainFlags
	f.register(fs, "out/train")
	var mf modelFlags
	mf.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := applyPresetAndConfig(fs, preset, config); err != nil {
		return training.TrainConfig{}, mf, err
	}
	cfg, err := f.config(fs)
	return cfg, mf, err
}

func TestPresetCIFAR100(t *testing.T) {
	cfg, mf, err := presetFlags(t, "cifar100-1h", "")
	if err != nil {
		t.Fatal(err)
	}
	if mf.model != "convnet7-bn" || mf.classes != "all" || !mf.whiten {
		t.Errorf("preset model %q classes %q whiten %v, want convnet7-bn, all and a whitened stem", mf.model, mf.classes, mf.whiten)
	}
	// The preset's flags give the package's recipe (which notebook 06 uses) with the alternating
	// flip, over 12 epochs, with its checkpoints.
	want := training.CIFAR100Recipe(12)
	want.AlternateFlip = true
	want.CheckpointEvery, want.Devices = 100, 1 // --checkpoint-every of the preset, --devices' default.
	got, _ := json.Marshal(cfg)
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) || cfg.TestEvery != 3 {
		t.Errorf("preset config\n %s\nwant\n %s", got, wantJSON)
	}
	// Flags given override the preset; the schedule is a fraction of the steps, so it follows --epochs.
	cfg, mf, err = presetFlags(t, "cifar100-1h", "", "--epochs", "1", "--lr", "0.1", "--classes", "0,1")
	if err != nil || cfg.Epochs != 1 || cfg.LearningRate != 0.1 || mf.classes != "0,1" || cfg.WarmupFraction != 0.2 || !cfg.Nesterov {
		t.Errorf("preset with flags: %s, classes %q, %v", cfg, mf.classes, err)
	}
	// A boolean of the preset is turned off as any flag: --whiten=false, --alt-flip=false.
	cfg, mf, err = presetFlags(t, "cifar100-1h", "", "--whiten=false", "--alt-flip=false")
	if err != nil || mf.whiten || cfg.AlternateFlip {
		t.Errorf("preset with --whiten=false --alt-flip=false: whiten %v, %s, %v", mf.whiten, cfg, err)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.json", `{"lr": 0.3, "label-smoothing": 0, "tta": false, "model": "cnn", "epochs": 3}`)
	// The config file is over the preset, under the command line.
	cfg, mf, err := presetFlags(t, "cifar100-1h", good, "--epochs", "2")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LearningRate != 0.3 || cfg.LabelSmoothing != 0 || cfg.TTA || mf.model != "cnn" || cfg.Epochs != 2 || !cfg.Nesterov {
		t.Errorf("config over preset under flags: %s, model %q", cfg, mf.model)
	}
	tests := []struct {
		name, preset, config, want string
	}{
		{"unknown preset", "cifar100-2h", "", `unknown preset "cifar100-2h": choose cifar100-1h`},
		{"missing file", "", filepath.Join(dir, "none.json"), "reading the config file"},
		{"not JSON", "", write("bad.json", `lr = 0.3`), "want a JSON object of flag names to values"},
		{"unknown flag", "", write("flag.json", `{"learning-rate": 0.3}`), `unknown flag "learning-rate"`},
		{"array value", "", write("array.json", `{"lr": [0.3]}`), `flag "lr" has a []interface {} value`},
		{"bad value", "", write("value.json", `{"epochs": "many"}`), `flag epochs="many"`},
		{"invalid value", "", write("nan.json", `{"label-smoothing": 1.5}`), "--label-smoothing 1.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := presetFlags(t, tc.preset, tc.config)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestTrainRecipeReport trains the lecture CNN for one epoch with every recipe flag and checks
// report.json's figures for many classes: top-5, superclasses, confused pairs and the curve; then
// `cnnlab eval` of the saved model with the same flip-translate TTA gives the report's accuracy.
func TestTrainRecipeReport(t *testing.T) {
	testenv.CIFAR100Dir(t)
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	args := []string{"train", "--out", out, "--no-progress", "--backend", "xla:cpu", "--epochs", "2", "--classes", "0,55,58,1,2",
		"--nesterov", "--decoupled-wd", "0.01", "--warmup", "0.3", "--warmup-start", "0.2", "--label-smoothing", "0.1",
		"--augment", "--translate", "2", "--tta", "--tta-translate", "--batch", "128", "--lr", "0.05", "--lookahead", "5"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	rep := readRunReport(t, out)
	if !(rep.TestTop5 == 1) { // 5 classes: every label is among the 5 highest scores.
		t.Errorf("top-5 of 5 classes = %v, want 1", rep.TestTop5)
	}
	if !(rep.TestAccuracy > 0.2) || !rep.Config.Nesterov || !rep.Config.TTA || !rep.Config.TTATranslate || rep.Config.LabelSmoothing != 0.1 ||
		rep.Config.LookaheadEvery != 5 || rep.Config.LookaheadDecay != 0.95 {
		t.Errorf("report: accuracy %v, config %s", rep.TestAccuracy, rep.Config)
	}
	support, superclasses := 0, 0
	for _, g := range rep.Superclasses {
		support += g.Support
		if g.Support > 0 {
			superclasses++
			if g.GroupAccuracy < g.Accuracy {
				t.Errorf("superclass %s: in-group accuracy %v below the exact %v", g.Name, g.GroupAccuracy, g.Accuracy)
			}
		}
	}
	// apple, otter, pickup_truck, aquarium_fish, baby: superclasses fruit, aquatic mammals, vehicles 1, fish, people.
	if len(rep.Superclasses) != 20 || support != 500 || superclasses != 5 {
		t.Errorf("superclasses: %d listed, %d with images, support %d; want 20, 5, 500", len(rep.Superclasses), superclasses, support)
	}
	if len(rep.Curve) != 2 || rep.Curve[1].Minutes <= rep.Curve[0].Minutes || rep.Curve[1].TestAccuracy != rep.History[1].TestAccuracy {
		t.Errorf("curve %+v", rep.Curve)
	}
	if len(rep.MostConfused) == 0 || rep.MostConfused[0].Count < rep.MostConfused[len(rep.MostConfused)-1].Count {
		t.Errorf("most confused %+v", rep.MostConfused)
	}
	for _, name := range []string{"curve.csv", "curve.png", "report.txt"} {
		if info, err := os.Stat(filepath.Join(out, name)); err != nil || info.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	text, _ := os.ReadFile(filepath.Join(out, "report.txt"))
	for _, want := range []string{"test top-5 accuracy 1.0000", "aquatic_mammals", "most confused test pairs"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("report.txt lacks %q:\n%s", want, text)
		}
	}
	stdout.Reset()
	if code := run([]string{"eval", "--model-dir", filepath.Join(out, "model"), "--backend", "xla:cpu", "--tta", "flip-translate"}, &stdout, &stderr); code != 0 {
		t.Fatalf("eval: exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	if want := "flip-translate TTA, "; !strings.Contains(stdout.String(), want) ||
		!strings.Contains(stdout.String(), fmt.Sprintf("accuracy %.4f, top-5 1.0000", rep.TestAccuracy)) {
		t.Errorf("eval with flip-translate TTA, want accuracy %.4f as in the report:\n%s", rep.TestAccuracy, stdout.String())
	}
}

// TestTrainTestEvery trains 3 epochs with --test-every 2: the test set is evaluated after epochs 2
// and 3 only, so history.csv leaves epoch 1's test cells empty and the curve has epochs 2 and 3.
func TestTrainTestEvery(t *testing.T) {
	testenv.CIFAR100Dir(t)
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	args := []string{"train", "--out", out, "--no-progress", "--backend", "xla:cpu", "--epochs", "3", "--test-every", "2", "--batch", "256"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	csvText, err := os.ReadFile(filepath.Join(out, "history.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(csvText)), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], ",,") || strings.Contains(lines[2], ",,") || strings.Contains(lines[3], ",,") {
		t.Errorf("history.csv:\n%s", csvText)
	}
	rep := readRunReport(t, out)
	if len(rep.Curve) != 2 || rep.Curve[0].Epoch != 2 || rep.Curve[1].Epoch != 3 || rep.Curve[1].TestAccuracy != rep.History[2].TestAccuracy || !rep.History[0].TestSkipped {
		t.Errorf("curve %+v, history %+v", rep.Curve, rep.History)
	}
}

// readRunReport reads the report.json of a training's output directory out.
func readRunReport(t *testing.T, out string) runReport {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep runReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}
