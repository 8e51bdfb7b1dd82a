package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/internal/testenv"
)

func TestSmokeDevices(t *testing.T) {
	var out strings.Builder
	if err := runSmoke([]string{"--backend", "xla:cpu", "--devices", "2"}, &out); err != nil {
		t.Fatalf("smoke --devices 2: %v\n%s", err, out.String())
	}
	for _, want := range []string{"[4 device(s)]", "devices: 4 seen, batch split across devices 0…1", "max |difference| to one device"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--backend", "xla:cpu", "--devices", "3"}, "--devices 3: want 1, 2 or 4"},
		{[]string{"--backend", "go", "--devices", "2"}, "--devices 2: backend Go Backend has only 1 device(s)"},
	} {
		if err := runSmoke(tc.args, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("smoke %v = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// TestTrainDevicesDropout trains ResNetMini, which has a Dropout layer, one epoch on 2 devices of
// two classes: once refused (GoMLX's random state in a distributed step), now trained.
func TestTrainDevicesDropout(t *testing.T) {
	testenv.CIFAR100Dir(t)
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	args := []string{"train", "--out", out, "--no-progress", "--checkpoint-every", "0", "--backend", "xla:cpu",
		"--model", "resnet-mini", "--classes", "0,55", "--epochs", "1", "--devices", "2"}
	code := run(args, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "data-parallel on 2 devices (32 images each)") {
		t.Fatalf("cnnlab %v: exit %d, want 0 and the data-parallel settings in:\n%s%s", args, code, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, "report.json")); err != nil {
		t.Errorf("cnnlab %v wrote no report: %v", args, err)
	}
}

// TestTrainDevicesResumeOnOne trains the lecture's CNN one epoch on 2 devices, then resumes the
// checkpoint for a second epoch on one device: the device count is not a setting of the checkpoint.
func TestTrainDevicesResumeOnOne(t *testing.T) {
	testenv.CIFAR100Dir(t)
	out := filepath.Join(t.TempDir(), "out")
	train := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		args = append([]string{"train", "--out", out, "--no-progress", "--checkpoint-every", "0", "--backend", "xla:cpu",
			"--classes", "0,55,58"}, args...)
		code := run(args, &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	type report struct {
		History []struct {
			Epoch   int     `json:"epoch"`
			Seconds float64 `json:"seconds"`
		} `json:"history"`
	}
	readReport := func() report {
		data, err := os.ReadFile(filepath.Join(out, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		var r report
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	code, output := train("--epochs", "1", "--devices", "2")
	if code != 0 || !strings.Contains(output, "data-parallel on 2 devices (32 images each)") {
		t.Fatalf("--devices 2: exit %d, want 0 and the data-parallel settings in:\n%s", code, output)
	}
	first := readReport()
	if code, output = train("--epochs", "2", "--devices", "1"); code != 0 {
		t.Fatalf("resume on one device: exit %d:\n%s", code, output)
	}
	second := readReport()
	if len(first.History) != 1 || len(second.History) != 2 || second.History[0] != first.History[0] {
		t.Errorf("histories %+v then %+v: want the first epoch, then it kept (resumed, not retrained) and a second", first.History, second.History)
	}
}
