package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/internal/testenv"
)

func TestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt")
	if err := os.MkdirAll(corrupt, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(corrupt, "checkpoint.json"), []byte("{oops"), 0o644)
	notImage := filepath.Join(dir, "not-an-image.png")
	os.WriteFile(notImage, []byte("hello"), 0o644)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown flag", []string{"train", "--no-such-flag"}, 1, "no-such-flag"},
		{"bad epochs", []string{"train", "--epochs", "-3"}, 1, "epochs"},
		{"bad optimizer", []string{"reproduce", "--optimizer", "rmsprop"}, 1, "unknown optimizer"},
		{"stray argument", []string{"reproduce", "extra"}, 1, "unexpected arguments"},
		{"unknown model", []string{"summary", "--model", "resnet"}, 1, "unknown model"},
		{"eval without model", []string{"eval"}, 1, "--model-dir is required"},
		{"missing checkpoint", []string{"eval", "--model-dir", filepath.Join(dir, "absent")}, 1, "no saved model"},
		{"corrupt checkpoint", []string{"eval", "--model-dir", corrupt}, 1, "corrupt checkpoint"},
		{"unknown TTA", []string{"eval", "--model-dir", corrupt, "--tta", "mirror"}, 1, `--tta: test-time augmentation "mirror": want none, flip, flip-translate`},
		{"translate TTA without TTA", []string{"train", "--tta-translate", "--epochs", "1"}, 1, "TTATranslate = true, want false without TTA"},
		{"predict without images", []string{"predict", "--model-dir", corrupt}, 1, "no image given"},
		{"unreadable image", []string{"predict", "--model-dir", corrupt, notImage}, 1, "not-an-image.png"},
		{"missing image", []string{"predict", "--model-dir", corrupt, filepath.Join(dir, "absent.jpg")}, 1, "absent.jpg"},
		{"unknown command", []string{"fly"}, 2, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("cnnlab %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr.String(), tc.wantCode, tc.wantErr)
			}
		})
	}
}

func TestUnknownClasses(t *testing.T) {
	testenv.CIFAR100Dir(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"train", "--classes", "apple,unicorn", "--epochs", "1"}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "unicorn") {
		t.Errorf("exit %d, stderr %q; want a failure naming unicorn", code, stderr.String())
	}
}

func TestSummaryCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"summary", "--classes", "100"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "Total params: 46,628") {
		t.Errorf("summary output lacks the total:\n%s", stdout.String())
	}
}
