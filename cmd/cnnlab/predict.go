package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/cnnlab/cnnlab/backend"
	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/training"
	"github.com/pkg/errors"
)

// predictResult is one image's result in the --json output of "cnnlab predict".
type predictResult struct {
	File string `json:"file"`
	// Top are the most probable classes, most probable first.
	Top []cnn.Prediction `json:"top"`
	// Probabilities are the softmax of the logits, by output index.
	Probabilities []float64 `json:"probabilities"`
	// Pixels is the preprocessed 32×32 CHW input (see datasets.LoadImageFile).
	Pixels []int `json:"pixels"`
}

// runPredict prints the top classes of each image with a saved model.
func runPredict(args []string, stdout io.Writer) error {
	fs := newFlagSet("predict", "--model-dir DIR [flags] IMAGE...")
	modelDir := fs.String("model-dir", "", "saved model directory (e.g. out/reproduce/cnn/model)")
	top := fs.Int("top", 5, "number of classes to print per image")
	asJSON := fs.Bool("json", false, "print a JSON array (file, top classes, all probabilities, the 32×32 input) instead of text")
	backendFlag := fs.String("backend", "", backendUsage)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelDir == "" {
		return errors.New("--model-dir is required")
	}
	if fs.NArg() == 0 {
		return errors.New("no image given: cnnlab predict --model-dir DIR IMAGE... (" + datasets.ImageFormats + ")")
	}
	if *top < 1 {
		return errors.Errorf("--top %d: must be ≥ 1", *top)
	}
	records := make([][]uint8, fs.NArg())
	for i, path := range fs.Args() {
		var err error
		if records[i], err = datasets.LoadImageFile(path); err != nil {
			return errors.WithMessagef(err, "image %q", path)
		}
	}
	t, _, err := training.LoadModel(*modelDir)
	if err != nil {
		return err
	}
	b, err := backend.New(*backendFlag)
	if err != nil {
		return err
	}
	defer b.Finalize()
	if !*asJSON {
		fmt.Fprintln(stdout, runningOn(b))
	}
	images, err := cnn.RecordsTensor(records)
	if err != nil {
		return err
	}
	logits, err := cnn.NewEvaluator(b, t).Logits(images)
	if err != nil {
		return err
	}
	n := t.Model.NumClasses()
	results := make([]predictResult, len(records))
	for i, path := range fs.Args() {
		row := logits[i*n : (i+1)*n]
		pixels := make([]int, len(records[i]))
		for j, p := range records[i] {
			pixels[j] = int(p)
		}
		results[i] = predictResult{File: path, Top: t.Model.TopK(row, *top), Probabilities: cnn.Softmax(row), Pixels: pixels}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		return errors.Wrap(enc.Encode(results), "writing the JSON output")
	}
	for _, r := range results {
		fmt.Fprintf(stdout, "%s:\n", r.File)
		for rank, p := range r.Top {
			fmt.Fprintf(stdout, "  %d. %-20s (class %3d) %6.2f%%\n", rank+1, p.Name, p.ClassID, 100*p.Probability)
		}
	}
	return nil
}
