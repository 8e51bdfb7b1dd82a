package main

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/onnxexport"
)

// savedModel saves the lecture CNN with initial weights and the given step count in a temp dir.
func savedModel(t *testing.T, steps int) string {
	t.Helper()
	tr, err := cnn.NewTrained(cnn.LectureCNN(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := cnn.SaveModel(dir, tr, &cnn.CheckpointState{GlobalStep: steps}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunExport(t *testing.T) {
	trainedDir, untrainedDir := savedModel(t, 10), savedModel(t, 0)
	tests := []struct {
		name      string
		args      func(out string) []string
		wantErr   string
		untrained bool
	}{
		{"trained", func(out string) []string { return []string{"--model", trainedDir, "--out", out} }, "", false},
		{"untrained refused", func(out string) []string { return []string{"--model", untrainedDir, "--out", out} }, "0 training steps", true},
		{"untrained allowed", func(out string) []string { return []string{"--model", untrainedDir, "--out", out, "--allow-untrained"} }, "", false},
		{"no model flag", func(string) []string { return nil }, "--model is required", false},
		{"missing dir", func(out string) []string {
			return []string{"--model", filepath.Join(t.TempDir(), "none"), "--out", out}
		}, "none", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m.onnx")
			var stdout bytes.Buffer
			err := runExport(tc.args(out), &stdout)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if errors.Is(err, onnxexport.ErrUntrained) != tc.untrained {
					t.Errorf("errors.Is(ErrUntrained) = %v", !tc.untrained)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout.String(), "Sub → Div → Conv → Relu → Conv → Relu → AveragePool → Flatten → Gemm") {
				t.Errorf("output does not list the ops:\n%s", stdout.String())
			}
			if _, err := onnxexport.Inspect(out); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestServeHandler(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"index.html": "<html>page</html>", "app.js": "export {}"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	model := filepath.Join(t.TempDir(), "exported.onnx")
	if err := os.WriteFile(model, []byte("onnx bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := newServeHandler(dir, model)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	tests := []struct {
		path, want, contentType string
		status                  int
	}{
		{"/", "<html>page</html>", "text/html", 200},
		{"/app.js", "export {}", "text/javascript", 200},
		{"/model.onnx", "onnx bytes", "application/octet-stream", 200},
		{"/missing.js", "", "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = res.Body.Close() }()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status == 200 && (string(body) != tc.want || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.contentType)) {
				t.Errorf("body %q (%s), want %q (%s)", body, res.Header.Get("Content-Type"), tc.want, tc.contentType)
			}
		})
	}
	if _, err := newServeHandler(t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "npm run build") {
		t.Errorf("unbuilt page directory: %v", err)
	}
}

func TestParseServeFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want serveOptions
	}{
		{"defaults: loopback", nil, serveOptions{dir: filepath.Join("web", "dist"), addr: "127.0.0.1:8080"}},
		{"all flags", []string{"--dir", "d", "--model", "m.onnx", "--addr", "127.0.0.1:0"}, serveOptions{dir: "d", model: "m.onnx", addr: "127.0.0.1:0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseServeFlags(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("parseServeFlags(%q) = %+v, want %+v", tc.args, got, tc.want)
			}
		})
	}
	if _, err := parseServeFlags([]string{"extra"}); err == nil {
		t.Error("extra argument: no error")
	}
}
