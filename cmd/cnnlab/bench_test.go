package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestBenchSmall runs the harness on a tiny configuration and checks the shape of its JSON (never
// the timings: machines here are shared and noisy).
func TestBenchSmall(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.json")
	onnxDir := filepath.Join(t.TempDir(), "onnx")
	args := []string{"--backends", "xla:cpu", "--models", "cnn3", "--batches", "4,8", "--reps", "2",
		"--rep-images", "8", "--onnx-dir", onnxDir, "--out", out}
	if err := runBench(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Machine.Cores < 1 || rep.Machine.PeakGFLOPS <= 0 || rep.FLOPs["cnn3"]["train"] != 7696896 {
		t.Errorf("machine %+v, flops %v", rep.Machine, rep.FLOPs)
	}
	kinds := map[string]int{}
	for _, r := range rep.Results {
		if r.Error != "" {
			t.Errorf("%s %s batch %d: %s", r.Model, r.Kind, r.Batch, r.Error)
		}
		if r.ImagesPerSec <= 0 {
			t.Errorf("%s %s batch %d: %g img/s", r.Model, r.Kind, r.Batch, r.ImagesPerSec)
		}
		if r.Kind == "train" && (len(r.Reps) != 2 || r.FirstStepSeconds <= 0 || r.StepsPerRep != 8/r.Batch) {
			t.Errorf("train result %+v", r)
		}
		kinds[r.Kind]++
	}
	if kinds["train"] != 2 || kinds["infer"] != 1 || kinds["latency"] != 1 {
		t.Errorf("results by kind: %v", kinds)
	}
	if _, err := os.Stat(filepath.Join(onnxDir, "cnn3.onnx")); err != nil {
		t.Errorf("ONNX export: %v", err)
	}
	if err := runBench([]string{"--models", "nope"}, io.Discard); err == nil {
		t.Error("unknown model accepted")
	}
}

func TestBenchHelpers(t *testing.T) {
	if got := quantile([]float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}, 0.9); got != 10 {
		t.Errorf("p90 = %g", got)
	}
	if got := splitList(" a, ,b,"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("splitList = %q", got)
	}
	if n := stepsPerRep("xla:cpu", 128, benchOptions{repImages: 4096}); n != 32 {
		t.Errorf("stepsPerRep = %d", n)
	}
	if n := stepsPerRep("go", 512, benchOptions{goRepImages: 512}); n != 1 {
		t.Errorf("stepsPerRep(go) = %d", n)
	}
}
