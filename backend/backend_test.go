package backend

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name, flag, env, want string
	}{
		{"default", "", "", "xla:cpu"},
		{"env", "", "go", "go"},
		{"flag wins over env", "go", "xla:cuda", "go"},
		{"alias xla", "xla", "", "xla:cpu"},
		{"alias cpu", "cpu", "", "xla:cpu"},
		{"alias cuda", "cuda", "", "xla:cuda"},
		{"spaces", "  go ", "", "go"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvVar, tc.env)
			if got := Resolve(tc.flag); got != tc.want {
				t.Errorf("Resolve(%q) with $%s=%q = %q, want %q", tc.flag, EnvVar, tc.env, got, tc.want)
			}
		})
	}
}

func TestNewRejectsUnknownBackend(t *testing.T) {
	_, err := New("tpu:7")
	if err == nil || !strings.Contains(err.Error(), `unknown backend "tpu:7"`) {
		t.Fatalf("New(tpu:7) error = %v, want an unknown-backend error", err)
	}
}

func TestNewGo(t *testing.T) {
	b, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if !strings.Contains(Describe(b), "Go") {
		t.Errorf("Describe(go backend) = %q, want it to name the Go backend", Describe(b))
	}
}

func TestCheckPluginMissing(t *testing.T) {
	err := CheckPlugin("no-such-plugin")
	if err == nil {
		t.Fatal("CheckPlugin(no-such-plugin) = nil, want an error")
	}
	for _, want := range []string{"pjrt_c_api_no-such-plugin_plugin.so", "make setup", "--backend go"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
