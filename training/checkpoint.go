package training

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/internal/atomicfile"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/pkg/errors"
)

// Files of a checkpoint or saved-model directory.
const (
	// CheckpointFile is the JSON state of a checkpoint; it names its weights file and checksum.
	CheckpointFile = "checkpoint.json"
	// ModelFile is the model description (Model as JSON).
	ModelFile = "model.json"
	// checkpointFormat is the version of the checkpoint layout written: 2 stores each tensor's
	// values as raw bytes (fast to encode); format 1 (gob-encoded value slices, about 20× slower to
	// write) is still read.
	checkpointFormat = 2
	// checkpointFormatGobValues is the first layout, still readable.
	checkpointFormatGobValues = 1
)

// CheckpointState is what a checkpoint records besides the variables: where training stands, the
// configuration, and the history so far.
type CheckpointState struct {
	Format int `json:"format"`
	// Epoch is the number of completed epochs; StepInEpoch the steps done in the current one.
	Epoch       int `json:"epoch"`
	StepInEpoch int `json:"step_in_epoch"`
	// GlobalStep is the number of training steps done in total.
	GlobalStep int `json:"global_step"`
	// Running sums of the current epoch's training loss and correct predictions, over RunningCount images.
	RunningLoss    float64 `json:"running_loss"`
	RunningCorrect float64 `json:"running_correct"`
	RunningCount   int     `json:"running_count"`
	// Config is the training configuration.
	Config TrainConfig `json:"config"`
	// History holds the completed epochs.
	History []EpochStats `json:"history"`
	// TrainSetSHA256 is the checksum of the training set (TrainSetSHA256 of it): resuming on other
	// data is refused. Empty in checkpoints written before it existed.
	TrainSetSHA256 string `json:"train_set_sha256,omitempty"`
	// WeightsFile and WeightsSHA256 name the variables file and its checksum.
	WeightsFile   string `json:"weights_file"`
	WeightsSHA256 string `json:"weights_sha256"`
	// ModelSHA256 is the checksum of model.json: an edited or damaged description is refused
	// (empty in checkpoints written before it existed: then only the shapes are checked).
	ModelSHA256 string `json:"model_sha256,omitempty"`
	// Saved is when the checkpoint was written (RFC 3339).
	Saved string `json:"saved"`
}

// savedVariable is the header of one variable in a weights file; its tensor follows.
type savedVariable struct {
	Path      string
	Trainable bool
}

// HasCheckpoint reports whether dir holds a checkpoint (its CheckpointFile exists).
func HasCheckpoint(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, CheckpointFile))
	if err == nil {
		return true, nil
	}
	if os.IsNotExist(err) {
		return false, nil
	}
	return false, errors.Wrapf(err, "checking for a checkpoint in %q", dir)
}

// SaveCheckpoint writes t's variables (weights, optimizer state, global step, random state; not
// the trainer's metrics) and state to dir: first the weights file, then model.json and
// checkpoint.json, each to a temporary file renamed into place, so an interruption at any time
// leaves the previous or the new checkpoint whole. Older weights files are removed afterwards, and
// so are temporary files left by an interrupted save. Weights that are not all finite (NaN, ±Inf)
// are not saved: the error wraps ErrNonFinite and the previous checkpoint stays.
func SaveCheckpoint(dir string, t *cnn.Trained, state *CheckpointState) error {
	return saveDir(dir, t, state, true)
}

// SaveModel writes the model description and its weights (no optimizer state) to dir, in the
// checkpoint layout, so LoadModel (and the eval and predict commands) can read them back.
func SaveModel(dir string, t *cnn.Trained, state *CheckpointState) error {
	return saveDir(dir, t, state, false)
}

// saveDir writes a checkpoint (all variables) or a model (model variables only).
func saveDir(dir string, t *cnn.Trained, state *CheckpointState, allVariables bool) error {
	if err := RemoveTemporaries(dir); err != nil {
		return err
	}
	write, err := snapshotDir(dir, t, state, allVariables)
	if err != nil {
		return err
	}
	return write()
}

// snapshotDir copies the variables (to the host, encoded) and the state, and returns the function
// that writes them to dir (hashing, files, renames, fsyncs): the training may go on while it runs.
func snapshotDir(dir string, t *cnn.Trained, state *CheckpointState, allVariables bool) (write func() error, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errors.Wrapf(err, "creating checkpoint directory %q", dir)
	}
	data, err := encodeVariables(t.Store(), allVariables)
	if err != nil {
		return nil, errors.WithMessagef(err, "saving checkpoint in %q", dir)
	}
	st := *state
	st.History = append([]EpochStats(nil), state.History...)
	st.Saved = time.Now().UTC().Format(time.RFC3339)
	return func() error { return writeDir(dir, t.Model, &st, data) }, nil
}

// writeDir writes the encoded variables data, the model and the state st to dir.
func writeDir(dir string, m *cnn.Model, st *CheckpointState, data []byte) error {
	sum := sha256.Sum256(data)
	st.Format = checkpointFormat
	st.WeightsFile = fmt.Sprintf("weights-%08d.bin", st.GlobalStep)
	st.WeightsSHA256 = hex.EncodeToString(sum[:])
	if err := atomicfile.WriteFile(filepath.Join(dir, st.WeightsFile), data); err != nil {
		return err
	}
	modelJSON, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return errors.Wrapf(err, "encoding the description of model %s", m.Name)
	}
	modelJSON = append(modelJSON, '\n')
	modelSum := sha256.Sum256(modelJSON)
	st.ModelSHA256 = hex.EncodeToString(modelSum[:])
	if err := atomicfile.WriteFile(filepath.Join(dir, ModelFile), modelJSON); err != nil {
		return err
	}
	stateJSON, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return errors.Wrap(err, "encoding checkpoint state")
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, CheckpointFile), append(stateJSON, '\n')); err != nil {
		return err
	}
	return removeOldWeights(dir, st.WeightsFile)
}

// removeOldWeights deletes the weights files of dir other than keep.
func removeOldWeights(dir, keep string) error {
	old, err := filepath.Glob(filepath.Join(dir, "weights-*.bin"))
	if err != nil {
		return errors.Wrapf(err, "listing old weights in %q", dir)
	}
	for _, path := range old {
		if filepath.Base(path) != keep {
			if err := os.Remove(path); err != nil {
				return errors.Wrapf(err, "removing old weights %q", path)
			}
		}
	}
	return nil
}

// temporaryPatterns match the temporary files of an interrupted save (see atomicfile).
var temporaryPatterns = []string{"." + CheckpointFile + ".tmp-*", "." + ModelFile + ".tmp-*", ".weights-*.bin.tmp-*"}

// RemoveTemporaries deletes the temporary files that a save interrupted by kill -9 left in dir
// (a missing dir has none). Only one process may use dir at a time (cnnlab locks its --out).
func RemoveTemporaries(dir string) error {
	for _, pattern := range temporaryPatterns {
		debris, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return errors.Wrapf(err, "listing temporary files in %q", dir)
		}
		for _, path := range debris {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				return errors.Wrapf(err, "removing temporary file %q", path)
			}
		}
	}
	return nil
}

// metricsScope is the store scope of the trainer's metrics (moving averages with random names):
// they are rebuilt by every trainer, never saved.
const metricsScope = "/metrics/"

// isModelVariable reports whether a store path belongs to the model's layers.
func isModelVariable(path string) bool {
	return strings.HasPrefix(path, "/"+cnn.ModelScope+"/")
}

// isSaved reports whether the variable at path goes into a checkpoint (allVariables) or a model.
func isSaved(path string, allVariables bool) bool {
	if allVariables {
		return !strings.HasPrefix(path, metricsScope)
	}
	return isModelVariable(path)
}

// encodeVariables serialises the store's variables (or only the model's; never the metrics) with
// gob, in layout checkpointFormat: per variable its savedVariable header, its shape
// (shapes.Shape.GobSerialize) and its values as one []byte in the host's byte order (little-endian
// on every supported platform). A float variable with a NaN or infinite value is an error wrapping
// ErrNonFinite.
func encodeVariables(store *model.Store, allVariables bool) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(storeBytes(store)) + 4096)
	enc := gob.NewEncoder(&buf)
	for v := range store.IterVariables() {
		if !v.HasValue() || !isSaved(v.Path(), allVariables) {
			continue
		}
		value, err := v.Value()
		if err != nil {
			return nil, errors.WithMessagef(err, "reading variable %s", v.Path())
		}
		if err := enc.Encode(savedVariable{Path: v.Path(), Trainable: v.Trainable}); err != nil {
			return nil, errors.Wrapf(err, "encoding variable %s", v.Path())
		}
		if err := value.Shape().GobSerialize(enc); err != nil {
			return nil, errors.WithMessagef(err, "encoding variable %s", v.Path())
		}
		var encErr error
		if err := value.ConstBytes(func(data []byte) {
			if n := nonFinite(value.Shape().DType, data); n > 0 {
				encErr = errors.Wrapf(ErrNonFinite, "variable %s has %d NaN or infinite values, not saved", v.Path(), n)
				return
			}
			encErr = enc.Encode(data)
		}); err != nil {
			return nil, errors.WithMessagef(err, "reading variable %s", v.Path())
		}
		if errors.Is(encErr, ErrNonFinite) {
			return nil, encErr
		}
		if encErr != nil {
			return nil, errors.Wrapf(encErr, "encoding variable %s", v.Path())
		}
	}
	return buf.Bytes(), nil
}

// nonFinite counts the NaN and infinite values of data, the raw values of a tensor of dtype (0
// for non-float dtypes).
func nonFinite(dtype dtypes.DType, data []byte) int {
	n := 0
	switch dtype {
	case dtypes.Float32:
		for i := 0; i+4 <= len(data); i += 4 {
			f := float64(math.Float32frombits(binary.LittleEndian.Uint32(data[i:])))
			if math.IsNaN(f) || math.IsInf(f, 0) {
				n++
			}
		}
	case dtypes.Float64:
		for i := 0; i+8 <= len(data); i += 8 {
			f := math.Float64frombits(binary.LittleEndian.Uint64(data[i:]))
			if math.IsNaN(f) || math.IsInf(f, 0) {
				n++
			}
		}
	}
	return n
}

// storeBytes is the size of the values of store's variables (a hint for the encoding buffer).
func storeBytes(store *model.Store) int64 {
	var n int64
	for v := range store.IterVariables() {
		n += v.Shape().ByteSize()
	}
	return n
}

// readState reads and checks dir's checkpoint.json.
func readState(dir string) (*CheckpointState, error) {
	path := filepath.Join(dir, CheckpointFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrapf(err, "reading checkpoint")
	}
	state := &CheckpointState{}
	if err := json.Unmarshal(data, state); err != nil {
		return nil, errors.Wrapf(err, "corrupt checkpoint %q", path)
	}
	if state.Format != checkpointFormat && state.Format != checkpointFormatGobValues {
		return nil, errors.Errorf("checkpoint %q has format %d, want %d (or %d)", path, state.Format, checkpointFormat, checkpointFormatGobValues)
	}
	if state.WeightsFile == "" || filepath.Base(state.WeightsFile) != state.WeightsFile {
		return nil, errors.Errorf("corrupt checkpoint %q: bad weights file name %q", path, state.WeightsFile)
	}
	return state, nil
}

// readWeights reads the weights file of state and verifies its checksum.
func readWeights(dir string, state *CheckpointState) ([]byte, error) {
	path := filepath.Join(dir, state.WeightsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrapf(err, "reading checkpoint weights")
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != state.WeightsSHA256 {
		return nil, errors.Errorf("corrupt checkpoint weights %q: sha256 %s, want %s", path, got, state.WeightsSHA256)
	}
	return data, nil
}

// RestoreCheckpoint loads the checkpoint of dir into t (whose model must match the saved one):
// all saved variables, including optimizer state, are set in t's store. It returns the state.
func RestoreCheckpoint(dir string, t *cnn.Trained) (*CheckpointState, error) {
	state, err := readState(dir)
	if err != nil {
		return nil, err
	}
	saved, err := loadModelDescription(dir, state)
	if err != nil {
		return nil, err
	}
	a, _ := json.Marshal(saved.Layers)
	b, _ := json.Marshal(t.Model.Layers)
	if saved.Name != t.Model.Name || string(a) != string(b) {
		return nil, errors.Errorf("checkpoint in %q holds model %s with other layers than %s", dir, saved.Name, t.Model.Name)
	}
	data, err := readWeights(dir, state)
	if err != nil {
		return nil, err
	}
	if err := decodeVariables(data, t.Store(), state.Format); err != nil {
		return nil, errors.WithMessagef(err, "checkpoint %q", filepath.Join(dir, state.WeightsFile))
	}
	return state, nil
}

// LoadModel reads a model saved by SaveModel or SaveCheckpoint in dir: its description and
// weights (optimizer state, if any, is loaded too but unused). It also returns the saved state.
func LoadModel(dir string) (*cnn.Trained, *CheckpointState, error) {
	if found, err := HasCheckpoint(dir); err != nil {
		return nil, nil, err
	} else if !found {
		return nil, nil, errors.Errorf("no saved model in %q (missing %s)", dir, CheckpointFile)
	}
	state, err := readState(dir)
	if err != nil {
		return nil, nil, err
	}
	m, err := loadModelDescription(dir, state)
	if err != nil {
		return nil, nil, err
	}
	t := cnn.NewTrainedEmpty(m)
	state, err = RestoreCheckpoint(dir, t)
	if err != nil {
		return nil, nil, err
	}
	if err := t.CheckVariables(); err != nil {
		return nil, nil, errors.WithMessagef(err, "saved model %q does not match its description %s", dir, ModelFile)
	}
	return t, state, nil
}

// loadModelDescription reads dir's model.json and checks it against the checksum state recorded.
func loadModelDescription(dir string, state *CheckpointState) (*cnn.Model, error) {
	path := filepath.Join(dir, ModelFile)
	if state.ModelSHA256 != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, errors.Wrap(err, "reading model description")
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != state.ModelSHA256 {
			return nil, errors.Errorf("model description %q: sha256 %s, %s records %s: it was edited or damaged "+
				"after the weights were saved for it (restore it, or train again)", path, got, CheckpointFile, state.ModelSHA256)
		}
	}
	return cnn.LoadModelJSON(path)
}

// decodeVariables reads variables written by encodeVariables in layout format into store,
// creating missing ones and checking the shapes of existing ones.
func decodeVariables(data []byte, store *model.Store, format int) error {
	dec := gob.NewDecoder(bytes.NewReader(data))
	for {
		var header savedVariable
		if err := dec.Decode(&header); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return errors.Wrap(err, "decoding a variable header")
		}
		skip := strings.HasPrefix(header.Path, metricsScope) // Saved by older versions: not restored.
		var value *tensors.Tensor
		var err error
		if format == checkpointFormatGobValues {
			value, err = tensors.GobDeserialize(dec)
		} else {
			value, err = decodeRawTensor(dec)
		}
		if err != nil {
			return errors.WithMessagef(err, "decoding variable %s", header.Path)
		}
		if skip {
			continue
		}
		if err := setVariable(store, header, value); err != nil {
			return err
		}
	}
}

// setVariable sets or creates the variable of header in store.
func setVariable(store *model.Store, header savedVariable, value *tensors.Tensor) error {
	if v := store.GetVariable(header.Path); v != nil {
		if !v.Shape().Equal(value.Shape()) {
			return errors.Errorf("variable %s has shape %s in the checkpoint, %s in the model", header.Path, value.Shape(), v.Shape())
		}
		return errors.WithMessagef(v.SetValue(value), "setting variable %s", header.Path)
	}
	v, err := store.CreateVariable(header.Path, value)
	if err != nil {
		return errors.WithMessagef(err, "creating variable %s", header.Path)
	}
	v.Trainable = header.Trainable
	return nil
}

// decodeRawTensor reads a tensor written by encodeVariables (format 2): its shape, then its bytes.
func decodeRawTensor(dec *gob.Decoder) (*tensors.Tensor, error) {
	shape, err := shapes.GobDeserialize(dec)
	if err != nil {
		return nil, errors.Wrap(err, "decoding a shape")
	}
	var raw []byte
	if err := dec.Decode(&raw); err != nil {
		return nil, errors.Wrap(err, "decoding values")
	}
	if !shape.DType.IsSupported() || int64(len(raw)) != shape.ByteSize() {
		return nil, errors.Errorf("%d bytes of values for shape %s (%d bytes)", len(raw), shape, shape.ByteSize())
	}
	value := tensors.FromShape(shape)
	if err := value.MutableBytes(func(data []byte) { copy(data, raw) }); err != nil {
		return nil, err
	}
	return value, nil
}
