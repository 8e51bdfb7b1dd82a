package notebook

import (
	"context"
	"os"
	"path/filepath"

	"github.com/cnnlab/cnnlab/training"
	"github.com/gomlx/compute"
	"github.com/pkg/errors"
)

// Run trains experiment e on b with its checkpoints under OutDir(notebookName)/runName, showing the
// progress under the cell. A finished run is not repeated: rerunning the cell (GoNB recompiles and
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
	result, err := e.Run(context.Background(), b)
	if err != nil {
		return nil, errors.WithMessagef(err, "training %s (%s)", e.Model.Name, runName)
	}
	return result, nil
}
