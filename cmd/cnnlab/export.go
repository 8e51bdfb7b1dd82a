package main

import (
	"fmt"
	"io"

	"github.com/cnnlab/cnnlab/onnxexport"
	"github.com/pkg/errors"
)

// runExport implements "cnnlab export": a saved model directory to an ONNX file.
func runExport(args []string, stdout io.Writer) error {
	fs := newFlagSet("export", "--model DIR [--out model.onnx] [--allow-untrained]")
	modelDir := fs.String("model", "", "saved model directory (written by cnnlab train or reproduce --out)")
	out := fs.String("out", "model.onnx", "ONNX file to write")
	allowUntrained := fs.Bool("allow-untrained", false, "export a model saved before any training step")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelDir == "" {
		fs.Usage()
		return errors.New("--model is required")
	}
	if fs.NArg() > 0 {
		return errors.Errorf("unexpected arguments %q", fs.Args())
	}
	info, err := onnxexport.ExportDir(*modelDir, *out, onnxexport.Options{AllowUntrained: *allowUntrained})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, info)
	fmt.Fprintf(stdout, "View it in Netron (https://netron.app, or `pip install netron && netron %s`); run it in the browser with `cnnlab serve --model %s`.\n", *out, *out)
	return nil
}
