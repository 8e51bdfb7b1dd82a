package cnn

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	// checkpointFormat is the version of the checkpoint layout.
	checkpointFormat = 1
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
	// WeightsFile and WeightsSHA256 name the variables file and its checksum.
	WeightsFile   string `json:"weights_file"`
	WeightsSHA256 string `json:"weights_sha256"`
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

// SaveCheckpoint writes t's variables (weights, optimizer state, global step) and state to dir:
// first the weights file, then model.json and checkpoint.json, each to a temporary file renamed
// into place, so an interruption at any time leaves the previous or the new checkpoint whole.
// Older weights files are removed afterwards.
func SaveCheckpoint(dir string, t *Trained, state *CheckpointState) error {
	return saveDir(dir, t, state, true)
}

// SaveModel writes the model description and its weights (no optimizer state) to dir, in the
// checkpoint layout, so LoadModel (and the eval and predict commands) can read them back.
func SaveModel(dir string, t *Trained, state *CheckpointState) error {
	return saveDir(dir, t, state, false)
}

// saveDir writes a checkpoint (all variables) or a model (model variables only).
func saveDir(dir string, t *Trained, state *CheckpointState, allVariables bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errors.Wrapf(err, "creating checkpoint directory %q", dir)
	}
	data, err := encodeVariables(t.store, allVariables)
	if err != nil {
		return errors.WithMessagef(err, "saving checkpoint in %q", dir)
	}
	sum := sha256.Sum256(data)
	st := *state
	st.Format = checkpointFormat
	st.WeightsFile = fmt.Sprintf("weights-%08d.bin", state.GlobalStep)
	st.WeightsSHA256 = hex.EncodeToString(sum[:])
	st.Saved = time.Now().UTC().Format(time.RFC3339)
	if err := writeFileAtomic(filepath.Join(dir, st.WeightsFile), data); err != nil {
		return err
	}
	if err := t.Model.SaveJSON(filepath.Join(dir, ModelFile)); err != nil {
		return err
	}
	stateJSON, err := json.MarshalIndent(&st, "", "  ")
	if err != nil {
		return errors.Wrap(err, "encoding checkpoint state")
	}
	if err := writeFileAtomic(filepath.Join(dir, CheckpointFile), append(stateJSON, '\n')); err != nil {
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

// isModelVariable reports whether a store path belongs to the model's layers.
func isModelVariable(path string) bool {
	return strings.HasPrefix(path, "/"+ModelScope+"/")
}

// encodeVariables serialises the store's variables (or only the model's) with gob.
func encodeVariables(store *model.Store, allVariables bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := gob.NewEncoder(&buf)
	for v := range store.IterVariables() {
		if !v.HasValue() || (!allVariables && !isModelVariable(v.Path())) {
			continue
		}
		value, err := v.Value()
		if err != nil {
			return nil, errors.WithMessagef(err, "reading variable %s", v.Path())
		}
		if err := enc.Encode(savedVariable{Path: v.Path(), Trainable: v.Trainable}); err != nil {
			return nil, errors.Wrapf(err, "encoding variable %s", v.Path())
		}
		if err := value.GobSerialize(enc); err != nil {
			return nil, errors.WithMessagef(err, "encoding variable %s", v.Path())
		}
	}
	return buf.Bytes(), nil
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
	if state.Format != checkpointFormat {
		return nil, errors.Errorf("checkpoint %q has format %d, want %d", path, state.Format, checkpointFormat)
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
func RestoreCheckpoint(dir string, t *Trained) (*CheckpointState, error) {
	state, err := readState(dir)
	if err != nil {
		return nil, err
	}
	saved, err := LoadModelJSON(filepath.Join(dir, ModelFile))
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
	if err := decodeVariables(data, t.store); err != nil {
		return nil, errors.WithMessagef(err, "checkpoint %q", filepath.Join(dir, state.WeightsFile))
	}
	return state, nil
}

// LoadModel reads a model saved by SaveModel or SaveCheckpoint in dir: its description and
// weights (optimizer state, if any, is loaded too but unused). It also returns the saved state.
func LoadModel(dir string) (*Trained, *CheckpointState, error) {
	if found, err := HasCheckpoint(dir); err != nil {
		return nil, nil, err
	} else if !found {
		return nil, nil, errors.Errorf("no saved model in %q (missing %s)", dir, CheckpointFile)
	}
	if _, err := readState(dir); err != nil {
		return nil, nil, err
	}
	m, err := LoadModelJSON(filepath.Join(dir, ModelFile))
	if err != nil {
		return nil, nil, err
	}
	t := &Trained{Model: m, store: model.NewStore()}
	state, err := RestoreCheckpoint(dir, t)
	if err != nil {
		return nil, nil, err
	}
	for i, l := range m.Layers {
		if _, err := t.Weights(i); err != nil {
			return nil, nil, errors.WithMessagef(err, "saved model %q layer %d (%s)", dir, i, l.Type())
		}
	}
	return t, state, nil
}

// decodeVariables reads variables written by encodeVariables into store, creating missing ones
// and checking the shapes of existing ones.
func decodeVariables(data []byte, store *model.Store) error {
	dec := gob.NewDecoder(bytes.NewReader(data))
	for {
		var header savedVariable
		if err := dec.Decode(&header); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return errors.Wrap(err, "decoding a variable header")
		}
		value, err := tensors.GobDeserialize(dec)
		if err != nil {
			return errors.WithMessagef(err, "decoding variable %s", header.Path)
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
