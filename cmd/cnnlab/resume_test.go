package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/internal/testenv"
)

// TestResumeChangedClassesNeedsRestart is the report's case: a run resumed with other classes is
// refused, naming the setting, both values and the ways out; --restart trains from scratch.
func TestResumeChangedClassesNeedsRestart(t *testing.T) {
	testenv.CIFAR100Dir(t)
	out := filepath.Join(t.TempDir(), "out")
	train := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		args = append([]string{"train", "--out", out, "--no-progress", "--checkpoint-every", "0", "--backend", "xla:cpu"}, args...)
		code := run(args, &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	if code, output := train("--epochs", "1", "--classes", "0,55,58"); code != 0 {
		t.Fatalf("first run: exit %d:\n%s", code, output)
	}
	code, output := train("--epochs", "2", "--classes", "1,2,3")
	for _, want := range []string{"classes (--classes) 0,55,58, this run 1,2,3", "another --out", "--restart"} {
		if code != 1 || !strings.Contains(output, want) {
			t.Errorf("resume with other classes: exit %d, want 1 and %q in:\n%s", code, want, output)
		}
	}
	code, output = train("--epochs", "1", "--classes", "1,2,3", "--restart")
	if code != 0 || !strings.Contains(output, "--restart: removed the checkpoint") {
		t.Fatalf("--restart: exit %d:\n%s", code, output)
	}
}
