package notebook

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestQuickAndEpochs(t *testing.T) {
	tests := []struct {
		env        string
		wantQuick  bool
		wantEpochs int
	}{{"", false, 60}, {"1", true, 5}, {"true", true, 5}, {"0", false, 60}, {"nonsense", false, 60}}
	for _, tc := range tests {
		t.Setenv(QuickEnv, tc.env)
		if got := Quick(); got != tc.wantQuick {
			t.Errorf("Quick() with %q = %v, want %v", tc.env, got, tc.wantQuick)
		}
		if got := Epochs(60, 5); got != tc.wantEpochs {
			t.Errorf("Epochs(60, 5) with %q = %d, want %d", tc.env, got, tc.wantEpochs)
		}
	}
}

func TestOutDir(t *testing.T) {
	root := t.TempDir()
	t.Setenv(RootEnv, root)
	dir, err := OutDir("03")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "out", "notebooks", "03"); dir != want {
		t.Errorf("OutDir = %q, want %q", dir, want)
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		t.Errorf("OutDir did not create %s: %v", dir, err)
	}
}

func TestMust(t *testing.T) {
	if got := Must(7, nil); got != 7 {
		t.Errorf("Must(7, nil) = %d", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("Must with an error did not panic")
		}
	}()
	Must(0, errors.New("boom"))
}

func TestDevices(t *testing.T) {
	tests := []struct {
		env     string
		want    int
		wantErr bool
	}{{"", 1, false}, {"1", 1, false}, {"4", 4, false}, {"0", 0, true}, {"-2", 0, true}, {"two", 0, true}}
	for _, tc := range tests {
		t.Setenv(DevicesEnv, tc.env)
		got, err := Devices()
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("Devices() with $%s=%q = %d, %v; want %d, error %v", DevicesEnv, tc.env, got, err, tc.want, tc.wantErr)
		}
	}
}
