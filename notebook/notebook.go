// Package notebook holds the few helpers cnnlab's GoNB notebooks share, so that their cells stay short:
// where outputs go, the CI-sized ("quick") mode, the backend, the data, and showing images.
//
// GoNB runs every cell as a fresh program, so notebooks keep trained models in checkpoints under
// OutDir, never in package-level variables.
package notebook

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cnnlab/cnnlab/backend"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/gomlx/compute"
	"github.com/janpfeifer/gonb/gonbui"
	"github.com/pkg/errors"
)

const (
	// RootEnv names the checkout's root directory (set by `make lab`, the notebook runner and Docker).
	RootEnv = "CNNLAB_ROOT"
	// OutEnv, if set, is the directory OutDir puts the notebooks' outputs under, instead of
	// $CNNLAB_ROOT/out/notebooks (the JupyterLab test uses a scratch one).
	OutEnv = "CNNLAB_NOTEBOOK_OUT"
	// QuickEnv, when "1" or "true", makes notebooks use CI-sized settings (fewer epochs).
	QuickEnv = "CNNLAB_QUICK"
	// DevicesEnv is the number of devices Run trains on, data-parallel, when the experiment does
	// not set TrainConfig.Devices (cnnlab train's --devices; default 1).
	DevicesEnv = "CNNLAB_DEVICES"
)

// Quick reports whether notebooks run in the CI-sized mode ($CNNLAB_QUICK).
func Quick() bool {
	quick, _ := strconv.ParseBool(os.Getenv(QuickEnv))
	return quick
}

// Epochs returns full, or quick in the CI-sized mode.
func Epochs(full, quick int) int {
	if Quick() {
		return quick
	}
	return full
}

// Devices returns $CNNLAB_DEVICES, the number of devices of data-parallel training, or 1 when it
// is not set.
func Devices() (int, error) {
	v := os.Getenv(DevicesEnv)
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errors.Errorf("$%s=%q: want a number of devices ≥ 1", DevicesEnv, v)
	}
	return n, nil
}

// OutDir returns (creating it) the directory where a notebook keeps its outputs: checkpoints, histories,
// reports. It is out/notebooks/NAME under $CNNLAB_ROOT, or under the working directory without it;
// $CNNLAB_NOTEBOOK_OUT/NAME if that is set.
func OutDir(name string) (string, error) {
	dir := filepath.Join(os.Getenv(RootEnv), "out", "notebooks", name)
	if base := os.Getenv(OutEnv); base != "" {
		dir = filepath.Join(base, name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", errors.Wrapf(err, "creating the notebook output directory %s", dir)
	}
	return dir, nil
}

// Backend creates the backend chosen by $GOMLX_BACKEND (default xla:cpu) and prints which one runs
// («бэкенд xla (…)»).
func Backend() (compute.Backend, error) {
	b, err := backend.New("")
	if err != nil {
		return nil, err
	}
	fmt.Println("бэкенд", backend.Details(b))
	return b, nil
}

// CIFAR100 returns the data set from $CNNLAB_DATA_DIR, downloading and verifying it on first use.
func CIFAR100() (*datasets.CIFAR100, error) {
	if _, err := datasets.EnsureCIFAR100(context.Background(), "", datasets.DownloadOptions{}); err != nil {
		return nil, err
	}
	return datasets.LoadCIFAR100("")
}

// Must returns v, or panics with err: in a notebook a panic shows the error under the cell and the
// headless runner counts the notebook as failed.
func Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Check panics if err is not nil (see Must).
func Check(err error) {
	if err != nil {
		panic(err)
	}
}

// ShowImage displays img in the notebook as a PNG.
func ShowImage(img image.Image) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return errors.Wrap(err, "encoding an image as PNG")
	}
	gonbui.DisplayPNG(buf.Bytes())
	return nil
}

// ShowPNG displays PNG bytes in the notebook.
func ShowPNG(data []byte) {
	gonbui.DisplayPNG(data)
}

// ShowMarkdown displays Markdown text (e.g. a table) in the notebook.
func ShowMarkdown(text string) {
	gonbui.DisplayMarkdown(text)
}

// Must2 returns a and b, or panics with err (see Must).
func Must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}

// ShowHTML displays HTML in the notebook.
func ShowHTML(html string) {
	gonbui.DisplayHtml(html)
}
