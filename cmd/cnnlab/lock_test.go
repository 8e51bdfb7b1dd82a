package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/internal/dirlock"
	"github.com/cnnlab/cnnlab/internal/testenv"
)

func TestOutDirectoryLocked(t *testing.T) {
	for _, command := range []string{"train", "reproduce"} {
		t.Run(command, func(t *testing.T) {
			testenv.CIFAR100Dir(t) // The lock is taken once the data is loaded and the flags checked against it.
			out := filepath.Join(t.TempDir(), "out")
			l, err := dirlock.Acquire(out)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = l.Release() }()
			var stdout, stderr bytes.Buffer
			code := run([]string{command, "--out", out, "--epochs", "1", "--no-progress"}, &stdout, &stderr)
			want := fmt.Sprintf("directory %s is in use by process %d", out, os.Getpid())
			if code != 1 || !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "--out") {
				t.Fatalf("cnnlab %s --out %s while it is locked: exit %d, stderr %q; want exit 1 and %q",
					command, out, code, stderr.String(), want)
			}
			entries, _ := os.ReadDir(out)
			if len(entries) != 1 || entries[0].Name() != dirlock.FileName {
				t.Errorf("%s holds %v after the refused run, want only %s", out, entries, dirlock.FileName)
			}
		})
	}
}
