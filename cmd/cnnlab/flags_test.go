package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/internal/testenv"
)

func TestTrainFlagsValidatedFirst(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		needData bool
		wantErr  string
	}{
		{"epochs 0", []string{"--epochs", "0"}, false, "--epochs 0: want a number of epochs ≥ 1"},
		{"negative epochs", []string{"--epochs", "-3"}, false, "--epochs -3"},
		{"batch 0", []string{"--batch", "0"}, false, "--batch 0: want a batch size ≥ 1"},
		{"lr NaN", []string{"--lr", "NaN"}, false, "--lr NaN: want a finite learning rate > 0"},
		{"lr +Inf", []string{"--lr", "+Inf"}, false, "--lr +Inf"},
		{"momentum NaN", []string{"--momentum", "NaN"}, false, "--momentum NaN: want a momentum coefficient in [0, 1)"},
		{"negative momentum", []string{"--momentum", "-0.5"}, false, "--momentum -0.5"},
		{"momentum 1", []string{"--momentum", "1"}, false, "--momentum 1"},
		{"momentum with adam", []string{"--optimizer", "adam", "--momentum", "0.5"}, false, "--optimizer adam has none"},
		{"weight decay NaN", []string{"--weight-decay", "NaN"}, false, "--weight-decay NaN: want a finite weight decay ≥ 0"},
		{"negative weight decay", []string{"--weight-decay", "-1"}, false, "--weight-decay -1"},
		{"lr-final with sgd", []string{"--optimizer", "sgd", "--lr-final", "0.001"}, false, "--lr-final 0.001"},
		{"negative checkpoint interval", []string{"--checkpoint-every", "-1"}, false, "--checkpoint-every -1"},
		{"devices 0", []string{"--devices", "0"}, false, "--devices 0: want a number of devices ≥ 1"},
		{"batch not divisible by devices", []string{"--batch", "64", "--devices", "3"}, false,
			"--batch 64: want a multiple of --devices 3"},
		{"more devices than the backend's", []string{"--backend", "xla:cpu", "--devices", "64"}, false,
			"--devices 64: backend xla has only 4 device(s)"},
		{"negative lookahead", []string{"--lookahead", "-5"}, false, "--lookahead -5: want a number of steps ≥ 0"},
		{"lookahead with adam", []string{"--optimizer", "adam", "--lookahead", "5"}, false, "--lookahead 5: want --optimizer momentum, sgd or lineardecay"},
		{"lookahead decay 1", []string{"--lookahead", "5", "--lookahead-decay", "1"}, false, "--lookahead-decay 1: want a decay in (0, 1)"},
		{"lookahead decay NaN", []string{"--lookahead-decay", "NaN"}, false, "--lookahead-decay NaN"},
		{"label smoothing 1", []string{"--label-smoothing", "1"}, false, "--label-smoothing 1: want a smoothing in [0, 1)"},
		{"translate 17", []string{"--translate", "17"}, false, "--translate 17: want a translation of 0…16 pixels"},
		{"warmup 1", []string{"--warmup", "1"}, false, "--warmup 1: want a fraction of the training in [0, 1)"},
		{"batch larger than the set", []string{"--batch", "100000"}, true, "--batch 100000: larger than the 1500 training images"},
	}
	for _, command := range []string{"train", "reproduce"} {
		for _, tc := range tests {
			t.Run(command+"/"+tc.name, func(t *testing.T) {
				if tc.needData {
					testenv.CIFAR100Dir(t)
				}
				out := filepath.Join(t.TempDir(), "out")
				args := append([]string{command, "--out", out, "--no-progress"}, tc.args...)
				var stdout, stderr bytes.Buffer
				code := run(args, &stdout, &stderr)
				if code != 1 || !strings.Contains(stderr.String(), tc.wantErr) {
					t.Fatalf("cnnlab %v: exit %d, stderr %q; want exit 1 and %q", args, code, stderr.String(), tc.wantErr)
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("cnnlab %v created %s (%v); want nothing created", args, out, err)
				}
			})
		}
	}
}
