package main

import (
	"fmt"
	"io"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/training"
)

// runSummary prints the torchsummary-style table of a model.
func runSummary(args []string, stdout io.Writer) error {
	fs := newFlagSet("summary", "[--model NAME] [--classes N] [--model-dir DIR]")
	modelName := fs.String("model", "cnn", "model of the zoo (see cnnlab models)")
	numClasses := fs.Int("classes", 3, "number of classes (outputs)")
	modelDir := fs.String("model-dir", "", "print the summary of a saved model instead")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var m *cnn.Model
	var err error
	if *modelDir != "" {
		var t *cnn.Trained
		if t, _, err = training.LoadModel(*modelDir); err == nil {
			m = t.Model
		}
	} else {
		m, err = cnn.NewModel(*modelName, *numClasses)
	}
	if err != nil {
		return err
	}
	s, err := m.Summary()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n%s", m.Name, s)
	return nil
}
