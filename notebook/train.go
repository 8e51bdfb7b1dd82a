package notebook

import (
	"context"
	"os"
	"path/filepath"

	"github.com/cnnlab/cnnlab/plot"
	"github.com/cnnlab/cnnlab/training"
	"github.com/gomlx/compute"
	"github.com/janpfeifer/gonb/gonbui"
	"github.com/pkg/errors"
)

// Run trains experiment e on b with its checkpoints under OutDir(notebookName)/runName, showing the
// progress under the cell in Russian (RussianProgressText, unless e.Config.ProgressText is set). A finished run is not repeated: rerunning the cell (GoNB recompiles and
// reruns every cell) resumes from — or just reloads — the checkpoint. Use a runName that changes
// with the settings (e.g. it includes the number of epochs). Without TrainConfig.Devices, it
// trains on Devices() devices ($CNNLAB_DEVICES).
func Run(b compute.Backend, e *training.Experiment, notebookName, runName string) (*training.ExperimentResult, error) {
	if e.Config.Devices == 0 {
		devices, err := Devices()
		if err != nil {
			return nil, err
		}
		e.Config.Devices = devices
	}
	dir, err := OutDir(notebookName)
	if err != nil {
		return nil, err
	}
	e.Config.CheckpointDir = filepath.Join(dir, runName)
	if e.Config.Progress == nil {
		e.Config.Progress = os.Stdout
	}
	if e.Config.ProgressText == nil {
		text := RussianProgressText()
		e.Config.ProgressText = &text
	}
	result, err := e.Run(context.Background(), b)
	if err != nil {
		return nil, errors.WithMessagef(err, "training %s (%s)", e.Model.Name, runName)
	}
	return result, nil
}

// Curves returns the loss and accuracy charts of a training history: train solid, test dashed, by
// epoch; epochs without a test evaluation (EpochStats.TestSkipped) have no test point. (Train
// accuracy is the mean over the epoch's batches, as EpochStats has it.)
func Curves(title string, h []training.EpochStats) (loss, accuracy plot.Chart) {
	series := func(test bool, get func(training.EpochStats) float64) plot.Series {
		s := plot.Series{Name: "train", Dashed: test}
		if test {
			s.Name = "test"
		}
		for _, e := range h {
			if test && e.TestSkipped {
				continue
			}
			s.X, s.Y = append(s.X, float64(e.Epoch)), append(s.Y, get(e))
		}
		return s
	}
	loss = plot.Chart{Title: title + ": потери (cross-entropy)", XLabel: "эпоха", YLabel: "loss", Series: []plot.Series{
		series(false, func(s training.EpochStats) float64 { return s.TrainLoss }),
		series(true, func(s training.EpochStats) float64 { return s.TestLoss }),
	}}
	accuracy = plot.Chart{Title: title + ": точность", XLabel: "эпоха", YLabel: "accuracy", Series: []plot.Series{
		series(false, func(s training.EpochStats) float64 { return s.TrainAccuracy }),
		series(true, func(s training.EpochStats) float64 { return s.TestAccuracy }),
	}}
	return loss, accuracy
}

// curvesHTML renders both charts of Curves as inline images.
func curvesHTML(title string, h []training.EpochStats) (string, error) {
	loss, accuracy := Curves(title, h)
	lossPNG, err := loss.PNG()
	if err != nil {
		return "", err
	}
	accuracyPNG, err := accuracy.PNG()
	if err != nil {
		return "", err
	}
	return PNGHTML(lossPNG) + PNGHTML(accuracyPNG), nil
}

// RunLive is Run with the training curves under the cell: in a browser they are redrawn after every
// epoch while the model trains; at the end (and always when Headless, or when the run is only
// reloaded from its checkpoint) they are shown as static figures, saved with the notebook.
func RunLive(b compute.Backend, e *training.Experiment, notebookName, runName, title string) (*training.ExperimentResult, error) {
	if !Headless() {
		id := "curves" + gonbui.UniqueId()
		e.Config.AfterEpoch = func(h []training.EpochStats) error {
			html, err := curvesHTML(title, h)
			if err == nil {
				gonbui.UpdateHtml(id, html)
			}
			return err
		}
		defer gonbui.UpdateHtml(id, "")
	}
	result, err := Run(b, e, notebookName, runName)
	if err != nil {
		return nil, err
	}
	html, err := curvesHTML(title, result.History)
	if err != nil {
		return nil, err
	}
	gonbui.DisplayHtml(html)
	return result, nil
}
