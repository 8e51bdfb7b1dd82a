package testenv

import "testing"

func TestRequired(t *testing.T) {
	tests := []struct {
		require, ci string
		want        bool
	}{{"", "", false}, {"1", "", true}, {"", "true", true}, {"0", "false", false}, {"junk", "", false}}
	for _, tc := range tests {
		t.Setenv(RequireEnv, tc.require)
		t.Setenv("CI", tc.ci)
		if got := Required(); got != tc.want {
			t.Errorf("Required() with %s=%q CI=%q = %v, want %v", RequireEnv, tc.require, tc.ci, got, tc.want)
		}
	}
}

func TestCIFAR100DirSkipsOutsideCI(t *testing.T) {
	t.Setenv(RequireEnv, "")
	t.Setenv("CI", "")
	t.Setenv("CNNLAB_DATA_DIR", t.TempDir())
	ran := false
	t.Run("missing", func(t *testing.T) {
		defer func() { ran = true }()
		CIFAR100Dir(t)
		t.Error("CIFAR100Dir returned for a directory without cifar-100-binary/")
	})
	if !ran {
		t.Error("subtest did not run")
	}
}
