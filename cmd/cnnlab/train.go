package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/lecture"
	"github.com/cnnlab/cnnlab/metrics"
	"github.com/cnnlab/cnnlab/training"
	"github.com/gomlx/compute"
	"github.com/pkg/errors"
)

// runTrain trains a model on a class subset and saves it with its history and reports.
func runTrain(args []string, stdout io.Writer) error {
	fs := newFlagSet("train", "[flags]")
	var f trainFlags
	f.register(fs, "out/train")
	var mf modelFlags
	mf.register(fs)
	preset := fs.String("preset", "", "named settings, overridden by the flags given: "+strings.Join(presetNames(), ", ")+
		" (cifar100-1h: ConvNet7BN on all 100 classes with the fast-training recipe, about an hour on 2 CPU cores)")
	configFile := fs.String("config", "", "JSON file of flag names to values (e.g. {\"lr\": 0.4, \"nesterov\": true}), overridden by the flags given, over the preset")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := applyPresetAndConfig(fs, *preset, *configFile); err != nil {
		return err
	}
	cfg, err := f.config(fs)
	if err != nil {
		return err
	}
	b, err := openBackend(f.backend, stdout)
	if err != nil {
		return err
	}
	defer b.Finalize()
	if err := checkDevices(cfg, b); err != nil {
		return err
	}
	trainSet, testSet, err := loadClasses(f.data, mf.classes)
	if err != nil {
		return err
	}
	if err := checkBatch(cfg, trainSet); err != nil {
		return err
	}
	m, err := cnn.NewModel(mf.model, trainSet.NumClasses())
	if err != nil {
		return err
	}
	if mf.whiten {
		if err := cnn.WhitenStem(m); err != nil {
			return errors.WithMessage(err, "--whiten")
		}
	}
	lock, err := lockOut(f.out, stdout)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Release() }()
	run, err := trainAndSave(b, m, trainSet, testSet, cfg, f.out, f.restart, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ntrain report (%s):\n%s\ntest report (%s):\n%s\n", trainSet.Name, run.TrainReport, testSet.Name, run.TestReport)
	fmt.Fprintf(stdout, "saved model, history and reports in %s\n", f.out)
	return nil
}

// modelFlags are the flags of cnnlab train that choose the model and its classes.
type modelFlags struct {
	model, classes string
	// whiten makes the model's stem a whitening convolution (cnn.WhitenStem).
	whiten bool
}

// register adds the model flags to fs.
func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.model, "model", "cnn", "model of the zoo: cnn (the lecture's), cnn-maxpool, mlp, resnet-mini, convnet7-bn, resnet18 (see cnnlab models)")
	fs.StringVar(&m.classes, "classes", strings.Join(lecture.ClassIDs(), ","), "classes: comma-separated CIFAR-100 ids or names, or \"all\"")
	fs.BoolVar(&m.whiten, "whiten", false, "make the model's first convolution airbench's patch-whitening stem: set from the training images' K×K patches and not trained (it needs 2·3·K² channels: convnet7-bn)")
}

// runReport is the machine-readable record of one training (report.json).
type runReport struct {
	Model  string `json:"model"`
	Params int    `json:"params"`
	// Whiten says the model's stem is a whitening convolution set from the data (--whiten).
	Whiten        bool                 `json:"whiten,omitempty"`
	Classes       []int                `json:"classes"`
	ClassNames    []string             `json:"class_names"`
	Backend       string               `json:"backend"`
	Config        training.TrainConfig `json:"config"`
	Epochs        int                  `json:"epochs"`
	TrainAccuracy float64              `json:"train_accuracy"`
	TestAccuracy  float64              `json:"test_accuracy"`
	TrainLoss     float64              `json:"train_loss"`
	TestLoss      float64              `json:"test_loss"`
	TrainReport   *metrics.Report      `json:"train_report"`
	TestReport    *metrics.Report      `json:"test_report"`
	TestConfusion [][]int              `json:"test_confusion_matrix"`
	// TestTop5 is the fraction of test images whose class is among the model's 5 highest scores.
	TestTop5 float64 `json:"test_top5"`
	// Superclasses has the test accuracy per CIFAR-100 superclass (absent for other data).
	Superclasses []metrics.GroupScores `json:"test_superclasses,omitempty"`
	// MostConfused lists the test set's largest off-diagonal confusion cells.
	MostConfused []metrics.ConfusedPair `json:"test_most_confused"`
	// Curve is the test accuracy after each epoch against the training minutes so far.
	Curve          []curvePoint          `json:"accuracy_vs_minutes"`
	TrainSeconds   float64               `json:"train_seconds"`
	ImagesPerSec   float64               `json:"train_images_per_second"`
	History        []training.EpochStats `json:"history"`
	FinishedAtUTC  string                `json:"finished_at_utc"`
	OutputDir      string                `json:"output_dir"`
	CheckpointsDir string                `json:"checkpoint_dir"`
}

// curvePoint is one point of the accuracy-vs-training-time curve.
type curvePoint struct {
	Epoch int `json:"epoch"`
	// Minutes counts the training steps' wall time up to the end of the epoch (without evaluations).
	Minutes      float64 `json:"minutes"`
	TestAccuracy float64 `json:"test_accuracy"`
}

// mostConfusedPairs is the number of confused class pairs in the report.
const mostConfusedPairs = 10

// trainAndSave runs the experiment with checkpoints under out/checkpoint (removed first if
// restart) and writes out/model, out/history.{csv,json}, out/report.json and out/report.txt.
func trainAndSave(b compute.Backend, m *cnn.Model, trainSet, testSet *datasets.Set, cfg training.TrainConfig, out string, restart bool, stdout io.Writer) (*runReport, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, errors.Wrapf(err, "creating output directory %q", out)
	}
	cfg.CheckpointDir = filepath.Join(out, "checkpoint")
	if restart {
		if err := os.RemoveAll(cfg.CheckpointDir); err != nil {
			return nil, errors.Wrapf(err, "--restart: removing the checkpoint %q", cfg.CheckpointDir)
		}
		fmt.Fprintf(stdout, "--restart: removed the checkpoint in %s\n", cfg.CheckpointDir)
	}
	fmt.Fprintf(stdout, "training %s (%d parameters) on %s (%d images), testing on %s (%d images): %s\n",
		m.Name, m.NumParams(), trainSet.Name, trainSet.Len(), testSet.Name, testSet.Len(), cfg)
	ctx, stop := signalContext()
	defer stop()
	e := &training.Experiment{Model: m, Train: trainSet, Test: testSet, Config: cfg}
	result, err := e.Run(ctx, b)
	if err != nil {
		return nil, err
	}
	run, err := newRunReport(b, e, result, out)
	if err != nil {
		return nil, err
	}
	last := result.History[len(result.History)-1]
	if err := training.SaveModel(filepath.Join(out, "model"), result.Trained, &training.CheckpointState{
		Epoch: last.Epoch, GlobalStep: last.Step, Config: cfg, History: result.History}); err != nil {
		return nil, err
	}
	if err := writeHistory(out, result.History); err != nil {
		return nil, err
	}
	if err := writeCurve(out, run.Curve); err != nil {
		return nil, err
	}
	text := fmt.Sprintf("%s\ntrain (%s):\n%s\ntest (%s):\n%s\ntest top-5 accuracy %.4f\n",
		m.Name, trainSet.Name, run.TrainReport, testSet.Name, run.TestReport, run.TestTop5)
	if run.Superclasses != nil {
		text += "\ntest accuracy per superclass (in-group: the predicted class is in the true class's superclass):\n" +
			metrics.FormatGroupReport(run.Superclasses)
	}
	text += "\nmost confused test pairs (true → predicted):\n"
	for _, p := range run.MostConfused {
		text += fmt.Sprintf("  %s → %s: %d (%.1f%%)\n", p.True, p.Predicted, p.Count, 100*p.Fraction)
	}
	if len(m.ClassNames) <= 20 {
		text += "\ntest confusion matrix (rows: true, columns: predicted):\n" + metrics.FormatConfusionMatrix(run.TestConfusion, m.ClassNames)
	}
	if err := writeFileAtomic(filepath.Join(out, "report.txt"), []byte(text)); err != nil {
		return nil, err
	}
	return run, writeJSON(filepath.Join(out, "report.json"), run)
}

// newRunReport computes the reports of a finished experiment.
func newRunReport(b compute.Backend, e *training.Experiment, r *training.ExperimentResult, out string) (*runReport, error) {
	m := e.Model
	trainReport, err := metrics.ClassificationReport(r.TrainEval.Labels, r.TrainEval.Predictions, m.ClassNames)
	if err != nil {
		return nil, err
	}
	testReport, err := metrics.ClassificationReport(r.TestEval.Labels, r.TestEval.Predictions, m.ClassNames)
	if err != nil {
		return nil, err
	}
	confusion, err := metrics.ConfusionMatrix(r.TestEval.Labels, r.TestEval.Predictions, m.NumClasses())
	if err != nil {
		return nil, err
	}
	var superclasses []metrics.GroupScores
	if e.Test.Coarse != nil && len(e.Test.CoarseNames) > 0 { // CIFAR-100: its 20 superclasses.
		groupOf, err := e.Test.CoarseOfClass()
		if err != nil {
			return nil, err
		}
		if superclasses, err = metrics.GroupReport(r.TestEval.Labels, r.TestEval.Predictions, groupOf, e.Test.CoarseNames); err != nil {
			return nil, err
		}
	}
	var curve []curvePoint
	minutes := 0.0
	for _, h := range r.History {
		minutes += h.Seconds / 60
		if !h.TestSkipped {
			curve = append(curve, curvePoint{Epoch: h.Epoch, Minutes: minutes, TestAccuracy: h.TestAccuracy})
		}
	}
	// Throughput in the steady state: the first epoch includes graph compilation.
	steady := r.History
	if len(steady) > 1 {
		steady = steady[1:]
	}
	images, seconds := 0.0, 0.0
	for _, h := range steady {
		images += h.ImagesPerSecond * h.Seconds
		seconds += h.Seconds
	}
	return &runReport{Model: m.Name, Params: m.NumParams(), Whiten: m.Whitened(), Classes: m.ClassIDs, ClassNames: m.ClassNames,
		Backend: b.Name(), Config: e.Config, Epochs: len(r.History),
		TrainAccuracy: r.TrainEval.Accuracy, TestAccuracy: r.TestEval.Accuracy,
		TrainLoss: r.TrainEval.Loss, TestLoss: r.TestEval.Loss,
		TrainReport: trainReport, TestReport: testReport, TestConfusion: confusion, TestTop5: r.TestEval.Top5,
		Superclasses: superclasses, MostConfused: metrics.MostConfused(confusion, m.ClassNames, mostConfusedPairs), Curve: curve,
		TrainSeconds: r.TrainSeconds, ImagesPerSec: images / seconds, History: r.History,
		FinishedAtUTC: time.Now().UTC().Format(time.RFC3339), OutputDir: out, CheckpointsDir: e.Config.CheckpointDir}, nil
}
