package main

import (
	"fmt"
	"io"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/pkg/errors"
)

// runPredict prints the top classes of each image with a saved model.
func runPredict(args []string, stdout io.Writer) error {
	fs := newFlagSet("predict", "--model-dir DIR [flags] IMAGE...")
	modelDir := fs.String("model-dir", "", "saved model directory (e.g. out/reproduce/cnn/model)")
	top := fs.Int("top", 5, "number of classes to print per image")
	backendFlag := fs.String("backend", "", backendUsage)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelDir == "" {
		return errors.New("--model-dir is required")
	}
	if fs.NArg() == 0 {
		return errors.New("no image given: cnnlab predict --model-dir DIR IMAGE... (JPEG or PNG)")
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
	t, _, err := cnn.LoadModel(*modelDir)
	if err != nil {
		return err
	}
	b, err := openBackend(*backendFlag, stdout)
	if err != nil {
		return err
	}
	defer b.Finalize()
	images, err := cnn.RecordsTensor(records)
	if err != nil {
		return err
	}
	logits, err := cnn.NewEvaluator(b, t).Logits(images)
	if err != nil {
		return err
	}
	n := t.Model.NumClasses()
	for i, path := range fs.Args() {
		fmt.Fprintf(stdout, "%s:\n", path)
		for rank, p := range t.Model.TopK(logits[i*n:(i+1)*n], *top) {
			fmt.Fprintf(stdout, "  %d. %-20s (class %3d) %6.2f%%\n", rank+1, p.Name, p.ClassID, 100*p.Probability)
		}
	}
	return nil
}
