package training

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/cnnlab/cnnlab/cnn"
)

// SettingChange is one setting that differs between a checkpoint and the run resuming it.
type SettingChange struct {
	// Setting names it in words ("learning rate"), Flag as cnnlab's flag ("--lr").
	Setting, Flag string
	// Old is the checkpoint's value, New this run's.
	Old, New string
}

// SettingsMismatchError is the error of Train resuming a checkpoint made with settings that
// change the result (model, classes, optimizer and its hyper-parameters, batches, augmentation,
// training data): the run would mix two trainings in one model and report only the second.
type SettingsMismatchError struct {
	// Dir is the checkpoint directory.
	Dir string
	// Changes lists every setting that differs.
	Changes []SettingChange
}

// Error names each changed setting with its old and new value, and the ways out.
func (e *SettingsMismatchError) Error() string {
	parts := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		parts[i] = fmt.Sprintf("%s (%s) %s, this run %s", c.Setting, c.Flag, c.Old, c.New)
	}
	return fmt.Sprintf("checkpoint in %q was made with other settings: %s; resuming would mix two trainings in one model. "+
		"Resume with the checkpoint's settings, use another --out, or add --restart to discard the checkpoint and train from scratch",
		e.Dir, strings.Join(parts, "; "))
}

// settingChanges compares the checkpoint's model saved, state and the run's model m, cfg and
// training data checksum trainSum; it returns the settings that differ.
func settingChanges(saved *cnn.Model, state *CheckpointState, m *cnn.Model, cfg TrainConfig, trainSum string) []SettingChange {
	var changes []SettingChange
	add := func(setting, flag, old, new string) {
		if old != new {
			changes = append(changes, SettingChange{Setting: setting, Flag: flag, Old: old, New: new})
		}
	}
	add("model", "--model", saved.Name, m.Name)
	if saved.Name == m.Name && layersJSON(saved) != layersJSON(m) {
		add("model layers", "--model", "as in its "+ModelFile, "other layers")
	}
	add("classes", "--classes", intsText(saved.ClassIDs), intsText(m.ClassIDs))
	old := state.Config
	add("optimizer", "--optimizer", old.Optimizer, cfg.Optimizer)
	add("learning rate", "--lr", floatText(old.LearningRate), floatText(cfg.LearningRate))
	add("final learning rate", "--lr-final", floatText(old.FinalLearningRate), floatText(cfg.FinalLearningRate))
	if usesMomentum(old) || usesMomentum(cfg) {
		add("momentum", "--momentum", floatText(old.Momentum), floatText(cfg.Momentum))
	}
	add("weight decay", "--weight-decay", floatText(old.WeightDecay), floatText(cfg.WeightDecay))
	add("batch size", "--batch", strconv.Itoa(old.BatchSize), strconv.Itoa(cfg.BatchSize))
	add("seed", "--seed", strconv.FormatInt(old.Seed, 10), strconv.FormatInt(cfg.Seed, 10))
	add("augmentation", "--augment", strconv.FormatBool(old.Augment), strconv.FormatBool(cfg.Augment))
	add("augmentation translation", "--translate", strconv.Itoa(old.AugmentTranslate), strconv.Itoa(cfg.AugmentTranslate))
	add("alternating flip", "--alt-flip", strconv.FormatBool(old.AlternateFlip), strconv.FormatBool(cfg.AlternateFlip))
	add("Nesterov momentum", "--nesterov", strconv.FormatBool(old.Nesterov), strconv.FormatBool(cfg.Nesterov))
	add("decoupled weight decay", "--decoupled-wd", floatText(old.DecoupledWeightDecay), floatText(cfg.DecoupledWeightDecay))
	add("warm-up fraction", "--warmup", floatText(old.WarmupFraction), floatText(cfg.WarmupFraction))
	if old.WarmupFraction > 0 || cfg.WarmupFraction > 0 {
		add("warm-up start", "--warmup-start", floatText(old.WarmupStart), floatText(cfg.WarmupStart))
	}
	add("label smoothing", "--label-smoothing", floatText(old.LabelSmoothing), floatText(cfg.LabelSmoothing))
	add("lookahead steps", "--lookahead", strconv.Itoa(old.LookaheadEvery), strconv.Itoa(cfg.LookaheadEvery))
	add("lookahead decay", "--lookahead-decay", floatText(old.LookaheadDecay), floatText(cfg.LookaheadDecay))
	if scheduleSpansTraining(old) || scheduleSpansTraining(cfg) {
		add("epochs (the learning rate decays over all of them)", "--epochs", strconv.Itoa(old.Epochs), strconv.Itoa(cfg.Epochs))
	}
	if state.TrainSetSHA256 != "" {
		add("training data sha256", "--data", state.TrainSetSHA256, trainSum)
	}
	return changes
}

// usesMomentum reports whether cfg's optimizer has a momentum coefficient.
func usesMomentum(cfg TrainConfig) bool {
	return cfg.Optimizer == OptimizerMomentum || cfg.Optimizer == ""
}

// scheduleSpansTraining reports whether cfg's learning rate depends on the number of epochs.
func scheduleSpansTraining(cfg TrainConfig) bool {
	return cfg.Optimizer == OptimizerLinearDecay || cfg.WarmupFraction > 0 || cfg.LookaheadEvery > 0 || (usesMomentum(cfg) && cfg.FinalLearningRate > 0)
}

// layersJSON is m's layers as JSON, to compare architectures.
func layersJSON(m *cnn.Model) string {
	data, err := json.Marshal(m.Layers)
	if err != nil {
		return "?"
	}
	return string(data)
}

// intsText formats ids as a comma-separated list ("none" if empty).
func intsText(ids []int) string {
	if len(ids) == 0 {
		return "none"
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(id)
	}
	return strings.Join(parts, ",")
}

// floatText formats v in the shortest form that reads back the same.
func floatText(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
