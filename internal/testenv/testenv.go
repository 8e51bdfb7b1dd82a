// Package testenv decides, in one place, whether a test may skip for lack of the real data set or
// of a backend: on a developer's machine it may (with a clear message), in CI it must not.
package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// RequireEnv, when true ("1"), turns every skip of this package into a failure; .ci/run sets it.
const RequireEnv = "CNNLAB_REQUIRE_DATA"

// Required reports whether skipping is forbidden: $CNNLAB_REQUIRE_DATA or $CI is set to true.
func Required() bool {
	for _, name := range []string{RequireEnv, "CI"} {
		if v, err := strconv.ParseBool(os.Getenv(name)); err == nil && v {
			return true
		}
	}
	return false
}

// SkipOrFail skips the test with the message, or fails it when Required.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf("required in CI ($%s or $CI set), but: "+format, append([]any{RequireEnv}, args...)...)
	}
	t.Skipf(format, args...)
}

// CIFAR100Dir returns $CNNLAB_DATA_DIR if it holds cifar-100-binary/, and otherwise skips the test
// (fails it in CI) with a message saying what is missing.
func CIFAR100Dir(t testing.TB) string {
	t.Helper()
	const env = "CNNLAB_DATA_DIR"
	dir := os.Getenv(env)
	if dir == "" {
		SkipOrFail(t, "real CIFAR-100 test skipped: $%s is not set (set it to the directory that contains cifar-100-binary/)", env)
		return ""
	}
	if _, err := os.Stat(filepath.Join(dir, "cifar-100-binary")); err != nil {
		SkipOrFail(t, "real CIFAR-100 test skipped: $%s=%q has no cifar-100-binary/: %v", env, dir, err)
	}
	return dir
}
