package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildCnnlab compiles the command into a temporary directory and returns the binary's path.
func buildCnnlab(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cnnlab")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestMissingPluginFailsClearly runs the binary with an empty plugin directory: it must exit non-zero
// with a message naming the fix, and never fall back to another backend.
func TestMissingPluginFailsClearly(t *testing.T) {
	bin := buildCnnlab(t)
	cmd := exec.Command(bin, "smoke", "--backend", "xla:cpu")
	cmd.Env = append(os.Environ(), "PJRT_PLUGIN_LIBRARY_PATH="+t.TempDir(), "GOMLX_BACKEND=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("cnnlab smoke without a plugin succeeded:\n%s", out)
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, want := range []string{"pjrt_c_api_cpu_plugin.so", "make setup", "--backend go"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not mention %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "running on") {
		t.Errorf("it ran on some backend anyway:\n%s", out)
	}
}

func TestSmokeCompare(t *testing.T) {
	var out strings.Builder
	if err := runSmoke([]string{"--backend", "xla:cpu", "--compare", "go"}, &out); err != nil {
		t.Fatalf("smoke --compare: %v\n%s", err, out.String())
	}
	for _, want := range []string{"running on backend xla", "running on backend Go", "max |difference|"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSmokeBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--backend", "tpu"}, {"--nope"}, {"extra"}} {
		if err := runSmoke(args, &strings.Builder{}); err == nil {
			t.Errorf("runSmoke(%q) = nil, want an error", args)
		}
	}
}

// TestHugePagesReexec runs the binary's smoke check three ways: by default it restarts itself with
// glibc's huge-pages tunable added to the tunables already set, and says so; CNNLAB_HUGEPAGES=0
// runs it without; a tunables value that already sets it is kept as it is.
func TestHugePagesReexec(t *testing.T) {
	bin := buildCnnlab(t)
	for _, tc := range []struct {
		name, env, want string
	}{
		{"default", "GLIBC_TUNABLES=glibc.malloc.check=0", "malloc with transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1)"},
		{"off", "CNNLAB_HUGEPAGES=0", "malloc without huge pages"},
		{"user's value", "GLIBC_TUNABLES=glibc.malloc.hugetlb=0", "malloc without huge pages"},
	} {
		cmd := exec.Command(bin, "smoke", "--backend", "go")
		cmd.Env = append(os.Environ(), "GLIBC_TUNABLES=", "CNNLAB_HUGEPAGES=", tc.env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: cnnlab smoke: %v\n%s", tc.name, err, out)
		}
		if !strings.Contains(string(out), "running on backend Go") || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s (%s): output lacks %q:\n%s", tc.name, tc.env, tc.want, out)
		}
	}
}
