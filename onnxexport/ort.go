package onnxexport

import (
	"bytes"
	_ "embed" // For the Python check script.
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/pkg/errors"
)

// PythonEnv names the environment variable that points at the Python interpreter of a venv with
// the packages of scripts/requirements-onnx.txt (onnx, onnxruntime, numpy).
const PythonEnv = "CNNLAB_ONNX_PYTHON"

// ErrNoPython is returned (wrapped) by FindPython when no ONNX venv is installed.
var ErrNoPython = errors.New("no Python with onnx and onnxruntime")

//go:embed ort_check.py
var ortCheckScript []byte

// FindPython returns the interpreter of the ONNX venv: $CNNLAB_ONNX_PYTHON if set, else
// ${CNNLAB_HOME:-$HOME/.local/share/cnnlab}/onnx-venv/bin/python (what "scripts/setup.sh --onnx"
// creates). It fails with ErrNoPython when that file does not exist.
func FindPython() (string, error) {
	path := os.Getenv(PythonEnv)
	if path == "" {
		home := os.Getenv("CNNLAB_HOME")
		if home == "" {
			userHome, err := os.UserHomeDir()
			if err != nil {
				return "", errors.Wrap(err, "finding the ONNX venv: no home directory")
			}
			home = filepath.Join(userHome, ".local", "share", "cnnlab")
		}
		path = filepath.Join(home, "onnx-venv", "bin", "python")
	}
	if _, err := os.Stat(path); err != nil {
		return "", errors.Wrapf(ErrNoPython, "%s not found (run `bash scripts/setup.sh --onnx` or set $%s)", path, PythonEnv)
	}
	return path, nil
}

// ORTResult is the outcome of CheckWithORT.
type ORTResult struct {
	// Checker is "ok" when onnx.checker.check_model(full_check=True) passed.
	Checker string `json:"checker"`
	// ONNXVersion and ORTVersion are the versions of the Python packages used.
	ONNXVersion string `json:"onnx_version"`
	ORTVersion  string `json:"onnxruntime_version"`
	// InputShape is the model input's shape as ONNX Runtime reports it (e.g. [N 3 32 32]).
	InputShape []string `json:"-"`
	// Batch1MaxAbsDiff compares the first image run alone with its row in the batch (dynamic batch).
	Batch1MaxAbsDiff float64 `json:"batch1_max_abs_diff"`
	// Seconds is ONNX Runtime's wall time for the whole batch (one thread).
	Seconds float64 `json:"seconds"`
	// Logits are the outputs [n,classes], row-major.
	Logits []float32 `json:"-"`
}

// CheckWithORT checks the ONNX file at path with the official checker (full check, strict shape
// inference) and runs it in ONNX Runtime's CPU provider on images ([n,C,H,W] float32), with the
// interpreter python (see FindPython).
func CheckWithORT(python, path string, images *tensors.Tensor) (*ORTResult, error) {
	dims := images.Shape().Dimensions
	if len(dims) != 4 {
		return nil, errors.Errorf("ONNX Runtime check of %s: images of shape %v, want [n,C,H,W]", path, dims)
	}
	data, err := tensors.CopyFlatData[float32](images)
	if err != nil {
		return nil, errors.WithMessagef(err, "ONNX Runtime check of %s: reading images", path)
	}
	dir, err := os.MkdirTemp("", "cnnlab-ort-*")
	if err != nil {
		return nil, errors.Wrap(err, "ONNX Runtime check: temporary directory")
	}
	defer func() { _ = os.RemoveAll(dir) }()
	script := filepath.Join(dir, "ort_check.py")
	imagesPath := filepath.Join(dir, "images.f32")
	logitsPath := filepath.Join(dir, "logits.f32")
	if err := os.WriteFile(script, ortCheckScript, 0o644); err != nil {
		return nil, errors.Wrap(err, "ONNX Runtime check: writing the script")
	}
	if err := os.WriteFile(imagesPath, float32Bytes(data), 0o644); err != nil {
		return nil, errors.Wrap(err, "ONNX Runtime check: writing the images")
	}
	args := []string{script, path, imagesPath}
	for _, d := range dims {
		args = append(args, fmt.Sprint(d))
	}
	args = append(args, logitsPath)
	cmd := exec.Command(python, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, errors.Wrapf(err, "ONNX checker / ONNX Runtime on %s: %s", path, strings.TrimSpace(stderr.String()))
	}
	var res struct {
		ORTResult
		Input struct {
			Shape []string `json:"shape"`
		} `json:"input"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return nil, errors.Wrapf(err, "ONNX Runtime check of %s: reading the report %q", path, stdout.String())
	}
	raw, err := os.ReadFile(logitsPath)
	if err != nil {
		return nil, errors.Wrap(err, "ONNX Runtime check: reading the logits")
	}
	out := res.ORTResult
	out.InputShape = res.Input.Shape
	out.Logits = make([]float32, len(raw)/4)
	for i := range out.Logits {
		out.Logits[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return &out, nil
}

// float32Bytes encodes values as little-endian float32.
func float32Bytes(values []float32) []byte {
	raw := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return raw
}

// Parity compares two runs of the same model on the same images.
type Parity struct {
	// Images is the number of images, Classes the number of outputs per image.
	Images  int `json:"images"`
	Classes int `json:"classes"`
	// MaxAbsDiff is the largest absolute difference between two logits.
	MaxAbsDiff float64 `json:"max_abs_diff"`
	// ArgmaxEqual is the number of images whose predicted class (argmax) is the same in both.
	ArgmaxEqual int `json:"argmax_equal"`
}

// String prints the parity in one line.
func (p Parity) String() string {
	return fmt.Sprintf("%d images × %d classes: max |Δlogit| = %.3g, argmax equal on %d/%d", p.Images, p.Classes, p.MaxAbsDiff, p.ArgmaxEqual, p.Images)
}

// Compare returns the parity of two sets of logits [n,classes], row-major.
func Compare(a, b []float32, classes int) (Parity, error) {
	if classes < 1 || len(a) != len(b) || len(a)%classes != 0 {
		return Parity{}, errors.Errorf("compare logits: %d and %d values for %d classes", len(a), len(b), classes)
	}
	p := Parity{Images: len(a) / classes, Classes: classes}
	for i := range p.Images {
		ra, rb := a[i*classes:(i+1)*classes], b[i*classes:(i+1)*classes]
		for j := range ra {
			d := math.Abs(float64(ra[j]) - float64(rb[j]))
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			p.MaxAbsDiff = max(p.MaxAbsDiff, d)
		}
		if Argmax(ra) == Argmax(rb) {
			p.ArgmaxEqual++
		}
	}
	return p, nil
}

// Argmax returns the index of the largest value of row (the first one on ties), -1 if empty.
func Argmax(row []float32) int {
	best := -1
	for i, v := range row {
		if best < 0 || v > row[best] {
			best = i
		}
	}
	return best
}
