package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// servedPage writes a page directory (index.html, app.js, vendor/ort.mjs, empty/) and a model
// file, and returns their paths.
func servedPage(t *testing.T) (dir, model string) {
	t.Helper()
	dir = t.TempDir()
	files := map[string]string{"index.html": "<html>page</html>", "app.js": "export {}", "vendor/ort.mjs": "export const ort = 1;"}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	model = filepath.Join(t.TempDir(), "exported.onnx")
	if err := os.WriteFile(model, []byte("onnx bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, model
}

func TestServeHandler(t *testing.T) {
	dir, model := servedPage(t)
	h, err := newServeHandler(dir, model, true)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	long := strings.Repeat("a", 256)
	tests := []struct {
		name, path, host, want, contentType string
		status                              int
	}{
		{"index", "/", "", "<html>page</html>", "text/html", 200},
		{"script", "/app.js", "", "export {}", "text/javascript", 200},
		{"module", "/vendor/ort.mjs", "", "export const ort = 1;", "text/javascript", 200},
		{"model", "/model.onnx", "", "onnx bytes", "application/octet-stream", 200},
		{"missing", "/missing.js", "", "", "", 404},
		{"no listing of vendor", "/vendor/", "", "", "", 404},
		{"no listing of an empty dir", "/empty/", "", "", "", 404},
		{"256-byte segment", "/" + long, "", "", "", 404},
		{"256-byte segment in a dir", "/vendor/" + long + ".js", "", "", "", 404},
		{"255-byte segment", "/" + long[:255], "", "", "", 404},
		{"traversal", "/../../etc/passwd", "", "", "", 404},
		{"host localhost", "/app.js", "localhost:8080", "export {}", "text/javascript", 200},
		{"host localhost no port", "/app.js", "localhost", "export {}", "text/javascript", 200},
		{"host ::1", "/app.js", "[::1]:8080", "export {}", "text/javascript", 200},
		{"host 127.0.0.2", "/app.js", "127.0.0.2", "export {}", "text/javascript", 200},
		{"rebinding host refused", "/app.js", "evil.example:8080", "", "", http.StatusMisdirectedRequest},
		{"lookalike host refused", "/app.js", "localhost.evil.example", "", "", http.StatusMisdirectedRequest},
		{"LAN address refused", "/model.onnx", "192.168.1.5:8080", "", "", http.StatusMisdirectedRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = res.Body.Close() }()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d (%q), want %d", res.StatusCode, body, tc.status)
			}
			if tc.status == 200 && (string(body) != tc.want || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.contentType)) {
				t.Errorf("body %q (%s), want %q (%s)", body, res.Header.Get("Content-Type"), tc.want, tc.contentType)
			}
			if tc.status == 200 {
				for k, v := range map[string]string{"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"} {
					if got := res.Header.Get(k); got != v {
						t.Errorf("%s: %q, want %q", k, got, v)
					}
				}
			}
		})
	}
}

func TestServeHandlerAnyHostWhenNotLoopback(t *testing.T) {
	dir, model := servedPage(t)
	h, err := newServeHandler(dir, model, false)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://lab.example:8080/app.js", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("host lab.example on a non-loopback bind: status %d, want 200", rec.Code)
	}
}

func TestServeFilesRefused(t *testing.T) {
	dir, model := servedPage(t)
	tests := []struct {
		name, dir, model, want string
	}{
		{"unbuilt page directory", t.TempDir(), "", "npm run build"},
		{"model is a directory", dir, t.TempDir(), "is a directory, not an ONNX file"},
		{"model missing", dir, filepath.Join(t.TempDir(), "none.onnx"), "none.onnx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newServeHandler(tc.dir, tc.model, true); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			err := runServe([]string{"--dir", tc.dir, "--model", tc.model, "--addr", "127.0.0.1:0"}, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("runServe: error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := newServeHandler(dir, model, true); err != nil {
		t.Errorf("valid files: %v", err)
	}
}

// TestServeIdleTimeout checks that an idle keep-alive connection is closed by the server.
func TestServeIdleTimeout(t *testing.T) {
	dir, model := servedPage(t)
	h, err := newServeHandler(dir, model, true)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(h, 200*time.Millisecond)
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := io.WriteString(conn, "GET /app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if res.StatusCode != 200 || res.Close {
		t.Fatalf("status %d, close %v: want a kept-alive 200", res.StatusCode, res.Close)
	}
	// The server must close the connection after the idle timeout; the deadline only bounds the test.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("read on the idle connection: %v, want EOF (closed by the server)", err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", waited)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true}, {"LOCALHOST:80", true}, {"localhost.", true}, {"127.0.0.1", true}, {"127.0.0.1:8080", true},
		{"[::1]", true}, {"[::1]:8080", true}, {"127.1.2.3:1", true},
		{"", false}, {"example.com", false}, {"localhost.example.com", false}, {"10.0.0.1:8080", false},
		{"[::2]:80", false}, {"0.0.0.0", false}, {"evil.localhost", false},
	}
	for _, tc := range tests {
		if got := isLoopbackHost(tc.host); got != tc.want {
			t.Errorf("isLoopbackHost(%q) = %v, want %v", tc.host, got, tc.want)
		}
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
