package main

import (
	"fmt"
	"io"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/onnxexport"
	"github.com/cnnlab/cnnlab/training"
	"github.com/pkg/errors"
)

// runExport implements "cnnlab export": a saved model directory to an ONNX file.
func runExport(args []string, stdout io.Writer) error {
	fs := newFlagSet("export", "--model DIR [--out model.onnx] [--allow-untrained] [--check N]")
	modelDir := fs.String("model", "", "saved model directory (written by cnnlab train or reproduce --out)")
	out := fs.String("out", "model.onnx", "ONNX file to write")
	allowUntrained := fs.Bool("allow-untrained", false, "export a model saved before any training step")
	check := fs.Int("check", 0, "then check the file: the official ONNX checker, and ONNX Runtime's logits against GoMLX's on the first N test images of the model's classes (needs `scripts/setup.sh --onnx`; 0: no check)")
	tolerance := fs.Float64("tolerance", 1e-4, "largest |Δlogit| --check accepts")
	backendFlag := fs.String("backend", "", backendUsage+" (for --check)")
	data := fs.String("data", "", dataUsage+" (for --check)")
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
	if *check < 0 {
		return errors.Errorf("--check %d: want a number of test images ≥ 0", *check)
	}
	if !(*tolerance > 0) {
		return errors.Errorf("--tolerance %g: want > 0", *tolerance)
	}
	info, err := onnxexport.ExportDir(*modelDir, *out, onnxexport.Options{AllowUntrained: *allowUntrained})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, info)
	if *check > 0 {
		if err := checkExport(*modelDir, *out, *check, *tolerance, *backendFlag, *data, stdout); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "View it in Netron (https://netron.app, or `pip install netron && netron %s`); run it in the browser with `cnnlab serve --model %s`.\n", *out, *out)
	return nil
}

// checkExport runs the official ONNX checker on the exported file and compares ONNX Runtime's logits
// with GoMLX's (the saved model on the backend) on the first n test images of the model's classes;
// it fails if the checker does, if any |Δlogit| exceeds tolerance or if a top-1 class differs.
func checkExport(modelDir, path string, n int, tolerance float64, backendFlag, dataDir string, stdout io.Writer) error {
	t, _, err := training.LoadModel(modelDir)
	if err != nil {
		return err
	}
	test, err := modelSet(t.Model, dataDir, "test")
	if err != nil {
		return err
	}
	n = min(n, test.Len())
	python, err := onnxexport.FindPython()
	if err != nil {
		return errors.WithMessage(err, "--check")
	}
	b, err := openBackend(backendFlag, stdout)
	if err != nil {
		return err
	}
	defer b.Finalize()
	images := cnn.ImagesTensor(test, 0, n, n)
	goLogits, err := cnn.NewEvaluator(b, t).Logits(images)
	if err != nil {
		return errors.WithMessage(err, "--check: GoMLX logits")
	}
	ort, err := onnxexport.CheckWithORT(python, path, images)
	if err != nil {
		return errors.WithMessage(err, "--check")
	}
	parity, err := onnxexport.Compare(ort.Logits, goLogits, t.Model.NumClasses())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "check: ONNX checker %s (onnx %s); ONNX Runtime %s vs GoMLX on %s: %s\n",
		ort.Checker, ort.ONNXVersion, ort.ORTVersion, test.Name, parity)
	if ort.Checker != "ok" {
		return errors.Errorf("--check: the ONNX checker rejected %s: %s", path, ort.Checker)
	}
	if parity.MaxAbsDiff > tolerance || parity.ArgmaxEqual != parity.Images {
		return errors.Errorf("--check: %s differs from the saved model: %s (tolerance %g)", path, parity, tolerance)
	}
	return nil
}
