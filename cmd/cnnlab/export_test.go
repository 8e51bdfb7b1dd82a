package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/onnxexport"
	"github.com/cnnlab/cnnlab/training"
)

// savedModel saves the lecture CNN with initial weights and the given step count in a temp dir.
func savedModel(t *testing.T, steps int) string {
	t.Helper()
	tr, err := cnn.NewTrained(cnn.LectureCNN(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := training.SaveModel(dir, tr, &training.CheckpointState{GlobalStep: steps}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunExport(t *testing.T) {
	trainedDir, untrainedDir := savedModel(t, 10), savedModel(t, 0)
	tests := []struct {
		name      string
		args      func(out string) []string
		wantErr   string
		untrained bool
	}{
		{"trained", func(out string) []string { return []string{"--model", trainedDir, "--out", out} }, "", false},
		{"untrained refused", func(out string) []string { return []string{"--model", untrainedDir, "--out", out} }, "0 training steps", true},
		{"untrained allowed", func(out string) []string { return []string{"--model", untrainedDir, "--out", out, "--allow-untrained"} }, "", false},
		{"no model flag", func(string) []string { return nil }, "--model is required", false},
		{"missing dir", func(out string) []string {
			return []string{"--model", filepath.Join(t.TempDir(), "none"), "--out", out}
		}, "none", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m.onnx")
			var stdout bytes.Buffer
			err := runExport(tc.args(out), &stdout)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if errors.Is(err, onnxexport.ErrUntrained) != tc.untrained {
					t.Errorf("errors.Is(ErrUntrained) = %v", !tc.untrained)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout.String(), "Sub → Div → Conv → Relu → Conv → Relu → AveragePool → Flatten → Gemm") {
				t.Errorf("output does not list the ops:\n%s", stdout.String())
			}
			if _, err := onnxexport.Inspect(out); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestRunExportCheck(t *testing.T) {
	if _, err := onnxexport.FindPython(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must have the ONNX venv: %v", err)
		}
		t.Skipf("no ONNX venv (%v) — skipping", err)
	}
	if os.Getenv(datasets.DataDirEnv) == "" {
		t.Skipf("$%s not set — skipping", datasets.DataDirEnv)
	}
	m := cnn.LectureCNN(3)
	m.ClassIDs, m.ClassNames = []int{0, 55, 58}, []string{"apple", "otter", "pickup_truck"}
	tr, err := cnn.NewTrained(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := training.SaveModel(dir, tr, &training.CheckpointState{GlobalStep: 10}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "m.onnx")
	var stdout bytes.Buffer
	if err := runExport([]string{"--model", dir, "--out", out, "--check", "120", "--backend", "xla:cpu"}, &stdout); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if want := "check: ONNX checker ok"; !strings.Contains(stdout.String(), want) || !strings.Contains(stdout.String(), "120 images × 3 classes") {
		t.Errorf("output lacks %q and the 120 images:\n%s", want, stdout.String())
	}
	// A tolerance no float32 export meets makes the check fail, naming the file.
	err = runExport([]string{"--model", dir, "--out", out, "--check", "120", "--tolerance", "1e-30", "--backend", "xla:cpu"}, &stdout)
	if err == nil || !strings.Contains(err.Error(), "differs from the saved model") {
		t.Errorf("tolerance 1e-30: error %v, want a parity failure", err)
	}
	for _, bad := range [][]string{{"--check", "-1"}, {"--tolerance", "0"}} {
		if err := runExport(append([]string{"--model", dir, "--out", out}, bad...), &stdout); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
