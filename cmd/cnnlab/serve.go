package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/pkg/errors"
)

// runServe implements "cnnlab serve": the static web page (web/dist, built by `npm run build`) and
// an exported model at /model.onnx, on the loopback interface by default.
func runServe(args []string, stdout io.Writer) error {
	opts, err := parseServeFlags(args)
	if err != nil {
		return err
	}
	handler, err := newServeHandler(opts.dir, opts.model)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return errors.Wrapf(err, "listening on %s", opts.addr)
	}
	fmt.Fprintf(stdout, "Serving %s on http://%s/ (Ctrl-C to stop)\n", opts.dir, ln.Addr())
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	return errors.Wrapf(srv.Serve(ln), "serving %s", opts.dir)
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

// newServeHandler serves the files of dir, and model (if not empty) as /model.onnx.
func newServeHandler(dir, model string) (http.Handler, error) {
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		return nil, errors.Wrapf(err, "page directory %s has no index.html (build it: cd web && npm ci --ignore-scripts && npm run build)", dir)
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(dir)))
	if model != "" {
		if _, err := os.Stat(model); err != nil {
			return nil, errors.Wrapf(err, "model file %s", model)
		}
		mux.HandleFunc("/model.onnx", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			http.ServeFile(w, r, model)
		})
	}
	return mux, nil
}
