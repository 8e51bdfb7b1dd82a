package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/metrics"
	"github.com/cnnlab/cnnlab/training"
	"github.com/pkg/errors"
)

// runEval evaluates a saved model on the train or test images of its classes.
func runEval(args []string, stdout io.Writer) error {
	fs := newFlagSet("eval", "--model-dir DIR [flags]")
	modelDir := fs.String("model-dir", "", "saved model directory (e.g. out/reproduce/cnn/model, or a checkpoint directory)")
	split := fs.String("split", "test", "which images: test or train")
	backendFlag := fs.String("backend", "", backendUsage)
	data := fs.String("data", "", dataUsage)
	ttaName := fs.String("tta", cnn.TTANone.String(), "test-time augmentation: none, flip (the image and its mirror) or flip-translate (also its 1-pixel translations: airbench's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *modelDir == "" {
		return errors.New("--model-dir is required")
	}
	if *split != "test" && *split != "train" {
		return errors.Errorf("--split %q: want test or train", *split)
	}
	tta, err := cnn.ParseTTA(*ttaName)
	if err != nil {
		return errors.WithMessage(err, "--tta")
	}
	t, _, err := training.LoadModel(*modelDir)
	if err != nil {
		return err
	}
	set, err := modelSet(t.Model, *data, *split)
	if err != nil {
		return err
	}
	b, err := openBackend(*backendFlag, stdout)
	if err != nil {
		return err
	}
	defer b.Finalize()
	start := time.Now()
	ev, err := cnn.NewEvaluator(b, t).WithTTA(tta).Evaluate(set)
	if err != nil {
		return err
	}
	report, err := metrics.ClassificationReport(ev.Labels, ev.Predictions, t.Model.ClassNames)
	if err != nil {
		return err
	}
	confusion, err := metrics.ConfusionMatrix(ev.Labels, ev.Predictions, t.Model.NumClasses())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s on %s (%d images, %s TTA, %.1f s): loss %.4f, accuracy %.4f, top-5 %.4f\n\n%s\nconfusion matrix (rows: true, columns: predicted):\n%s",
		t.Model.Name, set.Name, set.Len(), tta, time.Since(start).Seconds(), ev.Loss, ev.Accuracy, ev.Top5, report, metrics.FormatConfusionMatrix(confusion, t.Model.ClassNames))
	return nil
}

// modelSet loads the images of the model's classes from the given split.
func modelSet(m *cnn.Model, dataDir, split string) (*datasets.Set, error) {
	if len(m.ClassIDs) == 0 {
		return nil, errors.Errorf("model %s has no class ids: cannot tell which images to evaluate", m.Name)
	}
	ids := make([]string, len(m.ClassIDs))
	for i, id := range m.ClassIDs {
		ids[i] = strconv.Itoa(id)
	}
	train, test, err := loadClasses(dataDir, strings.Join(ids, ","))
	if len(ids) == 100 && err == nil {
		// "all" keeps CIFAR-100's own label order, identical to the ids 0..99.
		train, test, err = loadClasses(dataDir, "all")
	}
	if err != nil {
		return nil, err
	}
	if split == "train" {
		return train, nil
	}
	return test, nil
}
