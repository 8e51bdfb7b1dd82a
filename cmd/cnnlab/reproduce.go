package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/lecture"
	"github.com/cnnlab/cnnlab/metrics"
	"github.com/pkg/errors"
)

// mlpLearningRate is the MLP baseline's learning rate: the CNN's 0.05 with momentum 0.9 makes the
// 1.6M-parameter MLP on raw pixels diverge or oscillate; 0.01 trains it stably.
const mlpLearningRate = 0.01

// reproduceReport is report.json of the reproduce command.
type reproduceReport struct {
	Experiment   string          `json:"experiment"`
	Backend      string          `json:"backend"`
	Seed         int64           `json:"seed"`
	Epochs       int             `json:"epochs"`
	WallSeconds  float64         `json:"wall_seconds"`
	CNN          *runReport      `json:"cnn"`
	MLP          *runReport      `json:"mlp_baseline,omitempty"`
	LectureTrain *metrics.Report `json:"lecture_train_report"`
	LectureTest  *metrics.Report `json:"lecture_test_report"`
}

// runReproduce runs the lecture's 3-class experiment end to end.
func runReproduce(args []string, stdout io.Writer) error {
	start := time.Now()
	fs := newFlagSet("reproduce", "[flags]")
	var f trainFlags
	f.register(fs, "out/reproduce")
	baseline := fs.Bool("baseline", true, "also train the MLP baseline of the previous lecture (lr 0.01) and report it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
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
	trainSet, testSet, err := loadClasses(f.data, "0,55,58")
	if err != nil {
		return err
	}
	if err := checkBatch(cfg, trainSet); err != nil {
		return err
	}
	lock, err := lockOut(f.out, stdout)
	if err != nil {
		return err
	}
	defer func() { _ = lock.Release() }()
	m := cnn.LectureCNN(trainSet.NumClasses())
	summary, err := m.Summary()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nthe lecture's CNN:\n%s\n", summary)
	report := &reproduceReport{Experiment: "lecture 3 classes (apple 0, otter 55, pickup_truck 58)",
		Backend: b.Name(), Seed: cfg.Seed, Epochs: cfg.Epochs}
	report.LectureTrain, report.LectureTest = lecture.Reports()
	if report.CNN, err = trainAndSave(b, m, trainSet, testSet, cfg, filepath.Join(f.out, "cnn"), f.restart, stdout); err != nil {
		return errors.WithMessage(err, "the lecture's CNN")
	}
	fmt.Fprintf(stdout, "\ntrain, %s:\n%s\n", m.Name, metrics.SideBySide(report.CNN.TrainReport, report.LectureTrain, "cnnlab", "lecture"))
	fmt.Fprintf(stdout, "test, %s:\n%s\n", m.Name, metrics.SideBySide(report.CNN.TestReport, report.LectureTest, "cnnlab", "lecture"))
	if *baseline {
		mlpCfg := cfg
		mlpCfg.LearningRate = mlpLearningRate
		mlp := cnn.MLP(cnn.DefaultMLPHidden, trainSet.NumClasses())
		if report.MLP, err = trainAndSave(b, mlp, trainSet, testSet, mlpCfg, filepath.Join(f.out, "mlp"), f.restart, stdout); err != nil {
			return errors.WithMessage(err, "the MLP baseline")
		}
	}
	report.WallSeconds = time.Since(start).Seconds()
	printComparison(stdout, report)
	if err := writeJSON(filepath.Join(f.out, "report.json"), report); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved models, histories and reports in %s (report.json has every figure); wall time %.1fs\n", f.out, report.WallSeconds)
	return nil
}

// printComparison prints the accuracies of the CNN, the MLP and the lecture.
func printComparison(w io.Writer, r *reproduceReport) {
	fmt.Fprintf(w, "%-22s %10s %10s %10s %10s\n", "", "train acc", "test acc", "train s", "img/s")
	row := func(name string, rr *runReport) {
		fmt.Fprintf(w, "%-22s %10.4f %10.4f %10.1f %10.0f\n", name, rr.TrainAccuracy, rr.TestAccuracy, rr.TrainSeconds, rr.ImagesPerSec)
	}
	row("cnnlab "+r.CNN.Model, r.CNN)
	if r.MLP != nil {
		row("cnnlab MLP baseline", r.MLP)
	}
	fmt.Fprintf(w, "%-22s %10.4f %10.4f\n", "lecture CNN", r.LectureTrain.Accuracy, r.LectureTest.Accuracy)
}
