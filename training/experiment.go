package training

import (
	"context"
	"time"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/gomlx/compute"
	"github.com/pkg/errors"
)

// Experiment is one training run: a model trained on a training set and evaluated on a test set.
type Experiment struct {
	// Model is the architecture; its ClassIDs and ClassNames are set from Train by Run if empty.
	Model *cnn.Model
	// Train and Test are the sets (Test may be nil).
	Train, Test *datasets.Set
	// Config holds the hyper-parameters; Config.Seed also seeds the initial weights.
	Config TrainConfig
}

// ExperimentResult holds the outcome of Experiment.Run.
type ExperimentResult struct {
	Trained *cnn.Trained
	History []EpochStats
	// TrainEval and TestEval evaluate the final weights on the whole sets (TestEval nil without Test).
	TrainEval, TestEval *cnn.Evaluation
	// TrainSeconds is the wall time of Train (including graph compilation and per-epoch evaluation)
	// and of the whitening initialisation.
	TrainSeconds float64
}

// Run trains the experiment's model from weights seeded with Config.Seed, its whitening
// convolutions set from the training images (InitWhitening), or resumes from
// Config.CheckpointDir, and evaluates the final weights on both sets.
func (e *Experiment) Run(ctx context.Context, b compute.Backend) (*ExperimentResult, error) {
	if e.Model == nil || e.Train == nil {
		return nil, errors.New("experiment needs a model and a training set")
	}
	if len(e.Model.ClassIDs) == 0 {
		e.Model.ClassIDs = append([]int(nil), e.Train.ClassIDs...)
		e.Model.ClassNames = append([]string(nil), e.Train.ClassNames...)
	}
	t, err := cnn.NewTrained(e.Model, e.Config.Seed)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if _, err := InitWhitening(b, t, e.Train); err != nil {
		return nil, err
	}
	history, err := Train(ctx, b, t, e.Train, e.Test, e.Config)
	if err != nil {
		return nil, err
	}
	r := &ExperimentResult{Trained: t, History: history, TrainSeconds: time.Since(start).Seconds()}
	ev, err := NewEvaluator(b, t, e.Config) // Sharded as the training was.
	if err != nil {
		return nil, err
	}
	if r.TrainEval, err = ev.Evaluate(e.Train); err != nil {
		return nil, err
	}
	if e.Test != nil {
		if r.TestEval, err = ev.Evaluate(e.Test); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// InitWhitening sets the whitening convolutions of t (cnn.Conv2d with Whiten) from the first
// cnn.WhiteningImages images of trainSet, in its order (airbench's estimate of the patch
// covariance), on backend b; it returns how many it set. A model without any is left untouched,
// and nothing is read.
func InitWhitening(b compute.Backend, t *cnn.Trained, trainSet *datasets.Set) (int, error) {
	if !t.Model.Whitened() {
		return 0, nil
	}
	records := make([][]uint8, min(cnn.WhiteningImages, trainSet.Len()))
	for i := range records {
		records[i] = trainSet.Record(i)
	}
	images, err := cnn.RecordsTensor(records)
	if err != nil {
		return 0, errors.WithMessagef(err, "whitening from %s", trainSet.Name)
	}
	defer func() { _ = images.FinalizeAll() }()
	n, err := t.InitWhitening(b, images)
	return n, errors.WithMessagef(err, "whitening from %d images of %s", len(records), trainSet.Name)
}
