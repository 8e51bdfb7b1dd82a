package main

import (
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/pkg/errors"
)

// Timeouts of "cnnlab serve": a client that sends nothing, or keeps an idle keep-alive
// connection, is disconnected instead of holding a connection forever.
const (
	serveReadHeaderTimeout = 10 * time.Second
	serveReadTimeout       = 30 * time.Second
	serveWriteTimeout      = 2 * time.Minute
	serveIdleTimeout       = 30 * time.Second
	serveMaxHeaderBytes    = 64 << 10
)

// maxPathSegment is the longest path segment served; longer ones are answered 404 (most file
// systems refuse names over 255 bytes, which http.FileServer would report as HTTP 500).
const maxPathSegment = 255

// runServe implements "cnnlab serve": the static web page (web/dist, built by `npm run build`) and
// an exported model at /model.onnx, on the loopback interface by default.
func runServe(args []string, stdout io.Writer) error {
	opts, err := parseServeFlags(args)
	if err != nil {
		return err
	}
	if err := checkServeFiles(opts.dir, opts.model); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return errors.Wrapf(err, "listening on %s", opts.addr)
	}
	loopback := isLoopbackAddr(ln.Addr())
	handler, err := newServeHandler(opts.dir, opts.model, loopback)
	if err != nil {
		_ = ln.Close()
		return err
	}
	fmt.Fprintf(stdout, "Serving %s on http://%s/ (Ctrl-C to stop)\n", opts.dir, ln.Addr())
	return errors.Wrapf(newServer(handler, serveIdleTimeout).Serve(ln), "serving %s", opts.dir)
}

// newServer returns the http.Server of "cnnlab serve" with its timeouts; idle bounds how long a
// keep-alive connection may stay unused.
func newServer(h http.Handler, idle time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: serveReadHeaderTimeout,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		IdleTimeout:       idle,
		MaxHeaderBytes:    serveMaxHeaderBytes,
	}
}

// isLoopbackAddr reports whether a listener address is on the loopback interface.
func isLoopbackAddr(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// serveOptions are the flags of "cnnlab serve".
type serveOptions struct {
	dir, model, addr string
}

// parseServeFlags parses the flags of "cnnlab serve".
func parseServeFlags(args []string) (serveOptions, error) {
	var o serveOptions
	fs := newFlagSet("serve", "[--dir web/dist] [--model model.onnx] [--addr 127.0.0.1:8080]")
	fs.StringVar(&o.dir, "dir", filepath.Join("web", "dist"), "directory of the built page (cd web && npm ci --ignore-scripts && npm run build)")
	fs.StringVar(&o.model, "model", "", "ONNX file served as /model.onnx (default: DIR/model.onnx if present)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on (loopback by default; 0.0.0.0:PORT exposes the page to the network)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, errors.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

// checkServeFiles fails unless dir holds index.html and model (if not empty) is a regular file.
func checkServeFiles(dir, model string) error {
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		return errors.Wrapf(err, "page directory %s has no index.html (build it: cd web && npm ci --ignore-scripts && npm run build)", dir)
	}
	if model == "" {
		return nil
	}
	st, err := os.Stat(model)
	if err != nil {
		return errors.Wrapf(err, "model file %s", model)
	}
	if !st.Mode().IsRegular() {
		return errors.Errorf("--model %s is a %s, not an ONNX file (write one with cnnlab export --out FILE)", model, fileKind(st.Mode()))
	}
	return nil
}

// fileKind names the kind of a non-regular file for error messages.
func fileKind(m fs.FileMode) string {
	if m.IsDir() {
		return "directory"
	}
	return "special file (" + m.Type().String() + ")"
}

// newServeHandler serves the files of dir (no directory listings), and model (if not empty) as
// /model.onnx. Every answer carries the cross-origin isolation headers (COOP/COEP) that let ONNX
// Runtime Web use threads. When loopbackOnly, requests whose Host is not a loopback name
// (localhost, 127.0.0.1, [::1]) are refused, so a DNS-rebinding page on another site cannot read
// the server.
func newServeHandler(dir, model string, loopbackOnly bool) (http.Handler, error) {
	if err := checkServeFiles(dir, model); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(noListingFS{http.Dir(dir)}))
	if model != "" {
		mux.HandleFunc("/model.onnx", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			http.ServeFile(w, r, model)
		})
	}
	return serveHeaders(mux, loopbackOnly), nil
}

// serveHeaders wraps h with the Host check, the path-length check and the security headers.
func serveHeaders(h http.Handler, loopbackOnly bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopbackOnly && !isLoopbackHost(r.Host) {
			http.Error(w, fmt.Sprintf("host %q refused: this server only answers to localhost, 127.0.0.1 or [::1]", r.Host), http.StatusMisdirectedRequest)
			return
		}
		hdr := w.Header()
		hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
		hdr.Set("Cross-Origin-Embedder-Policy", "require-corp")
		hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Cache-Control", "no-cache")
		for _, seg := range strings.Split(r.URL.Path, "/") {
			if len(seg) > maxPathSegment {
				http.NotFound(w, r)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// isLoopbackHost reports whether a Host header (with or without port) names the loopback
// interface: localhost, an IPv4 loopback address or [::1].
func isLoopbackHost(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		name = host[1 : len(host)-1]
	}
	if strings.EqualFold(strings.TrimSuffix(name, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

// noListingFS is an http.FileSystem that hides directory listings (a directory without
// index.html does not exist) and reports every failure to open a file as "not found", so a
// name the file system refuses (too long, invalid) is a 404, not a 500.
type noListingFS struct{ fs http.FileSystem }

// Open implements http.FileSystem.
func (n noListingFS) Open(name string) (http.File, error) {
	f, err := n.fs.Open(name)
	if err != nil {
		return nil, fs.ErrNotExist
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fs.ErrNotExist
	}
	if st.IsDir() {
		index, err := n.fs.Open(path.Join(name, "index.html"))
		if err != nil {
			_ = f.Close()
			return nil, fs.ErrNotExist
		}
		_ = index.Close()
	}
	return f, nil
}
