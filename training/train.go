package training

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/distributed"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/metric"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// Optimizer names accepted by TrainConfig.Optimizer.
const (
	OptimizerMomentum    = "momentum"
	OptimizerSGD         = "sgd"
	OptimizerLinearDecay = "lineardecay"
	OptimizerAdam        = "adam"
)

// TrainConfig holds the hyper-parameters and the bookkeeping options of Train.
type TrainConfig struct {
	// Epochs is the number of passes over the training set.
	Epochs int `json:"epochs"`
	// BatchSize is the number of images per training step (the last, partial batch is dropped).
	BatchSize int `json:"batch_size"`
	// Optimizer is "momentum" (SGD with momentum), "sgd", "lineardecay" (SGD with the slides'
	// linear decay from LearningRate to FinalLearningRate over all steps) or "adam".
	Optimizer string `json:"optimizer"`
	// LearningRate is the (initial) learning rate ε₀.
	LearningRate float64 `json:"learning_rate"`
	// FinalLearningRate is ε_τ for "lineardecay", and for "momentum" when > 0 (the rate then decays
	// linearly to it over all steps).
	FinalLearningRate float64 `json:"final_learning_rate,omitempty"`
	// Momentum is the momentum coefficient α for "momentum".
	Momentum float64 `json:"momentum,omitempty"`
	// WeightDecay is the L2 weight decay λ (0: none).
	WeightDecay float64 `json:"weight_decay,omitempty"`
	// Seed seeds the shuffling and augmentation of the batches (the weights are seeded by NewTrained).
	Seed int64 `json:"seed"`
	// Augment applies random crops and flips to the training images.
	Augment bool `json:"augment,omitempty"`
	// AugmentTranslate is the largest translation of Augment in pixels (0: datasets.AugmentPadding, 4).
	AugmentTranslate int `json:"augment_translate,omitempty"`
	// AlternateFlip replaces Augment's random flip by airbench's alternating flip
	// (datasets.BatchOptions.AlternateFlip): each image is mirrored in every other epoch.
	AlternateFlip bool `json:"alternate_flip,omitempty"`
	// Nesterov selects Nesterov momentum in PyTorch's form for "momentum" (WithNesterov).
	Nesterov bool `json:"nesterov,omitempty"`
	// DecoupledWeightDecay is λ of the weight decay decoupled from the gradient
	// (WithDecoupledWeightDecay; 0: none).
	DecoupledWeightDecay float64 `json:"decoupled_weight_decay,omitempty"`
	// WarmupFraction, when > 0, selects the warm-up and linear-decay schedule (WithWarmupLinear) for
	// the SGD variants: the rate rises from WarmupStart·LearningRate to LearningRate over this
	// fraction of all steps, then falls linearly to FinalLearningRate at the last step.
	WarmupFraction float64 `json:"warmup_fraction,omitempty"`
	// WarmupStart is the factor of LearningRate the warm-up starts from (0…1).
	WarmupStart float64 `json:"warmup_start,omitempty"`
	// LabelSmoothing mixes the one-hot targets with the uniform distribution, as PyTorch's
	// CrossEntropyLoss(label_smoothing=s): target = (1−s)·one-hot + s/C (0: none).
	LabelSmoothing float64 `json:"label_smoothing,omitempty"`
	// TTA evaluates with test-time augmentation: the mean of the logits of each image and of its
	// horizontal mirror (cnn.TTAFlip).
	TTA bool `json:"tta,omitempty"`
	// TTATranslate adds to TTA the image's 1-pixel translations up-left and down-right, each with
	// its mirror (cnn.TTAFlipTranslate, airbench's test-time augmentation: 6 views); needs TTA.
	TTATranslate bool `json:"tta_translate,omitempty"`
	// Devices is the number of devices of the backend that share each batch (data parallelism, see
	// the package documentation): BatchSize is the global batch, split in equal shares. 0 or 1 is
	// the single-device path. Checkpoints do not depend on it: a run may resume on another count.
	Devices int `json:"devices,omitempty"`
	// LookaheadEvery, when > 0, adds lookahead (WithLookahead) to the SGD variants: every this many
	// steps the slow weights are pulled towards the fast ones and the fast ones put back on them.
	LookaheadEvery int `json:"lookahead_every,omitempty"`
	// LookaheadDecay is the per-step decay of lookahead (WithLookahead), in (0, 1).
	LookaheadDecay float64 `json:"lookahead_decay,omitempty"`

	// CheckpointDir, if not empty, receives a checkpoint every CheckpointEvery steps and at the end
	// of every epoch; if it already holds one, Train resumes from it.
	CheckpointDir string `json:"-"`
	// CheckpointEvery is the number of steps between checkpoints (0: only at the end of epochs).
	CheckpointEvery int `json:"-"`
	// Progress, if not nil, receives the progress display (see Progress).
	Progress io.Writer `json:"-"`
	// ProgressText, if not nil, is the wording of the progress display (default
	// EnglishProgressText; the notebooks use notebook.RussianProgressText).
	ProgressText *ProgressText `json:"-"`
	// EvalTrain evaluates the whole training set after every epoch instead of reporting the running
	// mean of the epoch's batches (slower, exact).
	EvalTrain bool `json:"-"`
	// TestEvery, when > 1, evaluates the test set only after every TestEvery-th epoch and after the
	// last (EpochStats.TestSkipped marks the others), so that the evaluations, which cost time
	// inside a training budget, are fewer; 0 or 1: after every epoch. It does not change the
	// training, so a run may resume with another value.
	TestEvery int `json:"-"`
	// AfterStep, if not nil, is called after every training step with the global step count; an
	// error stops training (after a checkpoint, if configured) and is returned by Train.
	AfterStep func(globalStep int) error `json:"-"`
	// AfterEpoch, if not nil, is called after every epoch with the whole history so far (e.g. to
	// redraw live training curves); an error stops training (after the epoch's checkpoint) and is
	// returned by Train.
	AfterEpoch func(history []EpochStats) error `json:"-"`
}

// DefaultTrainConfig returns the hyper-parameters cnnlab uses for the lecture's 3-class experiment:
// SGD with momentum 0.9, learning rate 0.05, batches of 64, 60 epochs, seed 1.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Epochs: 60, BatchSize: 64, Optimizer: OptimizerMomentum, LearningRate: 0.05, Momentum: 0.9, Seed: 1}
}

// CIFAR100Recipe returns the fast-training recipe of `cnnlab train --preset cifar100-1h` for the
// given epochs (the preset trains ConvNet7BN on all 100 classes with it): Nesterov momentum 0.9 at
// a peak rate of 0.4, batch 512, a warm-up over 20 % of the steps from 0.1 of the peak then a
// linear decay to 0, decoupled weight decay 0.005, label smoothing 0.2, random flips and ±2-pixel
// translations, and flip TTA in evaluation. The schedule is in fractions of the steps, so any
// epochs give a complete schedule.
func CIFAR100Recipe(epochs int) TrainConfig {
	return TrainConfig{Epochs: epochs, BatchSize: 512, Optimizer: OptimizerMomentum, LearningRate: 0.4,
		Momentum: 0.9, Nesterov: true, DecoupledWeightDecay: 0.005, WarmupFraction: 0.2, WarmupStart: 0.1,
		LabelSmoothing: 0.2, Augment: true, AugmentTranslate: 2, TTA: true, Seed: 1}
}

// Validate checks the hyper-parameters, each on its own: the error names the field, its value and
// the values it takes.
func (c *TrainConfig) Validate() error {
	checks := []struct {
		field string
		value any
		bad   bool
		want  string
	}{
		{"Epochs", c.Epochs, c.Epochs < 1, "≥ 1"},
		{"BatchSize", c.BatchSize, c.BatchSize < 1, "≥ 1"},
		{"Optimizer", fmt.Sprintf("%q", c.Optimizer), !knownOptimizer(c.Optimizer),
			fmt.Sprintf("%s, %s, %s or %s", OptimizerMomentum, OptimizerSGD, OptimizerLinearDecay, OptimizerAdam)},
		{"LearningRate", c.LearningRate, !isFinite(c.LearningRate) || c.LearningRate <= 0, "finite and > 0"},
		{"FinalLearningRate", c.FinalLearningRate, !isFinite(c.FinalLearningRate) || c.FinalLearningRate < 0, "finite and ≥ 0"},
		{"Momentum", c.Momentum, !isFinite(c.Momentum) || c.Momentum < 0 || c.Momentum >= 1, "in [0, 1)"},
		{"WeightDecay", c.WeightDecay, !isFinite(c.WeightDecay) || c.WeightDecay < 0, "finite and ≥ 0"},
		{"CheckpointEvery", c.CheckpointEvery, c.CheckpointEvery < 0, "≥ 0 steps (0: at the end of epochs only)"},
		{"TestEvery", c.TestEvery, c.TestEvery < 0, "≥ 0 epochs (0 or 1: after every epoch)"},
		{"LabelSmoothing", c.LabelSmoothing, !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 1), "in [0, 1)"},
		{"WarmupFraction", c.WarmupFraction, !(c.WarmupFraction >= 0 && c.WarmupFraction < 1), "in [0, 1)"},
		{"WarmupStart", c.WarmupStart, !(c.WarmupStart >= 0 && c.WarmupStart <= 1), "in [0, 1]"},
		{"AugmentTranslate", c.AugmentTranslate, c.AugmentTranslate < 0 || c.AugmentTranslate > 16, "0…16 pixels"},
		{"Devices", c.Devices, c.Devices < 0, "≥ 0 (0 or 1: one device)"},
		{"BatchSize", c.BatchSize, c.Devices > 1 && c.BatchSize%c.Devices != 0,
			fmt.Sprintf("divisible by Devices %d (each device takes an equal share of the batch)", c.Devices)},
		{"DecoupledWeightDecay", c.DecoupledWeightDecay, !isFinite(c.DecoupledWeightDecay) || c.DecoupledWeightDecay < 0, "finite and ≥ 0"},
		{"LookaheadEvery", c.LookaheadEvery, c.LookaheadEvery < 0, "≥ 0 steps (0: no lookahead)"},
		{"LookaheadDecay", c.LookaheadDecay, c.LookaheadEvery > 0 && !(c.LookaheadDecay > 0 && c.LookaheadDecay < 1), "in (0, 1) with lookahead"},
		{"FinalLearningRate", c.FinalLearningRate, c.WarmupFraction > 0 && c.FinalLearningRate > c.LearningRate,
			fmt.Sprintf("≤ LearningRate %g with a warm-up", c.LearningRate)},
		{"TTATranslate", c.TTATranslate, c.TTATranslate && !c.TTA, "false without TTA (the translations extend the flip TTA)"},
		{"AlternateFlip", c.AlternateFlip, c.AlternateFlip && !c.Augment, "false without Augment (it replaces the augmentation's random flip)"},
	}
	for _, check := range checks {
		if check.bad {
			return errors.Errorf("training configuration: %s = %v, want %s", check.field, check.value, check.want)
		}
	}
	return nil
}

// TTAMode returns the test-time augmentation of the evaluations of c: cnn.TTANone, cnn.TTAFlip
// (TTA) or cnn.TTAFlipTranslate (TTA and TTATranslate).
func (c TrainConfig) TTAMode() cnn.TTA {
	switch {
	case c.TTA && c.TTATranslate:
		return cnn.TTAFlipTranslate
	case c.TTA:
		return cnn.TTAFlip
	}
	return cnn.TTANone
}

// knownOptimizer reports whether name is an optimizer of NewOptimizer ("" is momentum).
func knownOptimizer(name string) bool {
	switch name {
	case "", OptimizerMomentum, OptimizerSGD, OptimizerLinearDecay, OptimizerAdam:
		return true
	}
	return false
}

// isFinite reports whether v is neither NaN nor ±Inf.
func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// NewOptimizer returns the optimizer named by c.Optimizer; totalSteps is the number of updates of
// the whole training (the τ of linear decay).
func (c *TrainConfig) NewOptimizer(totalSteps int) (optimizer.Interface, error) {
	var opts []OptimizerOption
	if c.WeightDecay > 0 {
		opts = append(opts, WithWeightDecay(c.WeightDecay))
	}
	if c.DecoupledWeightDecay > 0 {
		opts = append(opts, WithDecoupledWeightDecay(c.DecoupledWeightDecay))
	}
	if c.Nesterov {
		opts = append(opts, WithNesterov())
	}
	if c.LookaheadEvery > 0 {
		opts = append(opts, WithLookahead(c.LookaheadEvery, c.LookaheadDecay, totalSteps))
	}
	if c.WarmupFraction > 0 {
		if c.Optimizer == OptimizerLinearDecay {
			return nil, errors.New("a warm-up (warmup_fraction > 0) replaces the linear decay of \"lineardecay\": use \"momentum\" or \"sgd\"")
		}
		warmup := int(math.Round(c.WarmupFraction * float64(totalSteps)))
		warmup = min(warmup, totalSteps-1)
		opts = append(opts, WithWarmupLinear(warmup, totalSteps, c.WarmupStart, c.FinalLearningRate/c.LearningRate))
	}
	switch c.Optimizer {
	case OptimizerMomentum, "":
		if c.FinalLearningRate > 0 && c.WarmupFraction == 0 {
			opts = append(opts, WithLinearDecay(c.FinalLearningRate, totalSteps))
		}
		return NewMomentum(c.LearningRate, c.Momentum, opts...)
	case OptimizerSGD:
		return NewSGD(c.LearningRate, opts...)
	case OptimizerLinearDecay:
		return NewLinearDecay(c.LearningRate, c.FinalLearningRate, totalSteps, opts...)
	case OptimizerAdam:
		return NewAdam(c.LearningRate, opts...)
	}
	return nil, errors.Errorf("unknown optimizer %q: choose %s, %s, %s or %s", c.Optimizer,
		OptimizerMomentum, OptimizerSGD, OptimizerLinearDecay, OptimizerAdam)
}

// EpochStats are the figures of one epoch, one row of the History.
type EpochStats struct {
	Epoch         int     `json:"epoch"`
	Step          int     `json:"step"`
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	TestLoss      float64 `json:"test_loss"`
	TestAccuracy  float64 `json:"test_accuracy"`
	// TestSkipped says the test set was not evaluated after this epoch (TrainConfig.TestEvery):
	// TestLoss and TestAccuracy are then 0 and mean nothing.
	TestSkipped bool `json:"test_skipped,omitempty"`
	// Seconds is the wall time of the epoch's training steps; ImagesPerSecond their throughput.
	Seconds         float64 `json:"seconds"`
	ImagesPerSecond float64 `json:"images_per_second"`
}

// ErrNonFinite is returned (wrapped) by Train when the loss becomes NaN or ±Inf, and by the saving
// of a checkpoint when a weight has (such a checkpoint is not written).
var ErrNonFinite = errors.New("training diverged (NaN or ±Inf)")

// session is the state of one Train call.
type session struct {
	ctx      context.Context
	backend  compute.Backend
	trained  *cnn.Trained
	trainSet *datasets.Set
	testSet  *datasets.Set
	cfg      TrainConfig
	trainer  *train.Trainer
	batches  *datasets.Batches
	// parallel, if not nil, splits every batch across several devices (TrainConfig.Devices > 1).
	parallel *dataParallel
	eval     *cnn.Evaluator
	state    *CheckpointState
	progress *Progress
	// writing, if not nil, receives the result of the checkpoint being written in the background.
	writing chan error
}

// Train trains t on trainSet with cfg on backend b, evaluating on testSet (may be nil) after every
// epoch, and returns the history of all epochs (including those of a resumed checkpoint).
//
// With cfg.CheckpointDir it saves checkpoints and, if one is there, resumes from it: the weights,
// the optimizer state, the position in the epoch and the history are restored, and the batches
// are those an uninterrupted run would have seen. Cancelling ctx saves a checkpoint (if configured)
// and returns ctx's error. A NaN or infinite loss stops training with ErrNonFinite.
func Train(ctx context.Context, b compute.Backend, t *cnn.Trained, trainSet, testSet *datasets.Set, cfg TrainConfig) (history []EpochStats, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("training %s on %s: %v", t.Model.Name, b.Name(), r)
		}
	}()
	s, err := newSession(ctx, b, t, trainSet, testSet, cfg)
	if err != nil {
		return nil, err
	}
	err = s.run()
	if werr := s.waitCheckpoint(); err == nil {
		err = werr
	}
	if errors.Is(err, ErrNonFinite) {
		err = fmt.Errorf("%w; %s", err, s.lastGoodCheckpoint())
	}
	return s.state.History, err
}

// lastGoodCheckpoint tells, after a divergence, which checkpoint holds the last finite weights
// (checkpoints are saved only with finite weights) and how to go on.
func (s *session) lastGoodCheckpoint() string {
	const restart = "run again with a lower --lr and --restart (or another --out) to train from scratch"
	if s.cfg.CheckpointDir == "" {
		return "no checkpoint directory: " + restart
	}
	state, err := readState(s.cfg.CheckpointDir)
	if err != nil {
		return fmt.Sprintf("no checkpoint with finite weights in %q: %s", s.cfg.CheckpointDir, restart)
	}
	return fmt.Sprintf("the last checkpoint, all weights finite, is in %q: epoch %d, step %d of the epoch, global step %d (saved %s); "+
		"a run with the same settings resumes from it and repeats the same steps: %s",
		s.cfg.CheckpointDir, state.Epoch+1, state.StepInEpoch, state.GlobalStep, state.Saved, restart)
}

// newSession checks the inputs, restores a checkpoint if there is one, and builds the trainer.
func newSession(ctx context.Context, b compute.Backend, t *cnn.Trained, trainSet, testSet *datasets.Set, cfg TrainConfig) (*session, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if trainSet == nil || trainSet.Len() < cfg.BatchSize {
		return nil, errors.Errorf("training set has fewer images than one batch of %d", cfg.BatchSize)
	}
	if n := t.Model.NumClasses(); trainSet.NumClasses() != n {
		return nil, errors.Errorf("training set %s has %d classes, model %s has %d outputs", trainSet.Name, trainSet.NumClasses(), t.Model.Name, n)
	}
	s := &session{ctx: ctx, backend: b, trained: t, trainSet: trainSet, testSet: testSet, cfg: cfg,
		state: &CheckpointState{Config: cfg, TrainSetSHA256: trainSet.SHA256()}, eval: cnn.NewEvaluator(b, t).WithTTA(cfg.TTAMode())}
	if err := CheckDevices(cfg.Devices, b.NumDevices(), cfg.BatchSize); err != nil {
		return nil, errors.WithMessagef(err, "data-parallel training on %s", b.Name())
	}
	if err := s.restore(); err != nil {
		return nil, err
	}
	// After the restore, which sets the variables' values: the set-up gives them their sharding.
	parallel, err := newDataParallel(b, t, cfg.Devices, cfg.BatchSize)
	if err != nil {
		return nil, err
	}
	if parallel != nil {
		s.parallel = parallel
		if s.eval, err = parallel.evaluator(s.eval); err != nil {
			return nil, err
		}
	}
	batches, err := datasets.NewBatches(trainSet, datasets.BatchOptions{
		BatchSize: cfg.BatchSize, Shuffle: true, Seed: cfg.Seed, DropLast: true, Augment: cfg.Augment,
		AugmentTranslate: cfg.AugmentTranslate, AlternateFlip: cfg.AlternateFlip})
	if err != nil {
		return nil, err
	}
	s.batches = batches
	opt, err := cfg.NewOptimizer(cfg.Epochs * batches.NumBatches())
	if err != nil {
		return nil, err
	}
	s.trainer = train.NewTrainer(b, t.Store(), t.Forward(true), crossEntropyLoss(cfg.LabelSmoothing), opt,
		[]metric.Interface{metric.NewBaseMetric("Batch Accuracy", "acc", metric.AccuracyMetricType, batchAccuracy, nil)}, nil)
	s.progress = NewProgress(cfg.Progress, cfg.Epochs, batches.NumBatches(), cfg.BatchSize)
	if cfg.ProgressText != nil {
		s.progress.WithText(*cfg.ProgressText)
	}
	return s, nil
}

// restore loads the checkpoint of cfg.CheckpointDir, if any, into the session, after removing
// the temporary files of an interrupted save and checking that every setting that changes the
// result is the checkpoint's (else a *SettingsMismatchError).
func (s *session) restore() error {
	dir := s.cfg.CheckpointDir
	if dir == "" {
		return nil
	}
	if err := RemoveTemporaries(dir); err != nil {
		return err
	}
	found, err := HasCheckpoint(dir)
	if err != nil || !found {
		return err
	}
	saved, err := readState(dir)
	if err != nil {
		return err
	}
	savedModel, err := loadModelDescription(dir, saved)
	if err != nil {
		return err
	}
	if changes := settingChanges(savedModel, saved, s.trained.Model, s.cfg, s.state.TrainSetSHA256); len(changes) > 0 {
		return &SettingsMismatchError{Dir: dir, Changes: changes}
	}
	state, err := RestoreCheckpoint(dir, s.trained)
	if err != nil {
		return err
	}
	state.Config = s.cfg // Only settings that do not change the result may differ (epochs, bookkeeping).
	state.TrainSetSHA256 = s.state.TrainSetSHA256
	s.state = state
	return nil
}

// run is the epoch loop.
func (s *session) run() error {
	switch {
	case s.state.Epoch >= s.cfg.Epochs:
		s.progress.Printf(s.progress.text.Finished, s.state.Epoch, s.state.GlobalStep)
	case s.state.Epoch > 0 || s.state.StepInEpoch > 0:
		s.progress.Printf(s.progress.text.Resuming,
			s.state.Epoch+1, s.state.StepInEpoch, s.state.GlobalStep)
	}
	for range s.state.Epoch {
		s.batches.Iter() // Advances the batches' epoch counter; nothing is built.
	}
	for s.state.Epoch < s.cfg.Epochs {
		if err := s.runEpoch(); err != nil {
			return err
		}
	}
	return nil
}

// runEpoch trains one epoch (or its remainder after a resume), evaluates and checkpoints.
func (s *session) runEpoch() error {
	epoch := s.state.Epoch
	skip := s.state.StepInEpoch
	start := time.Now()
	firstDone := start
	steps := 0
	for batch, err := range s.batches.Iter() {
		if err != nil {
			return errors.WithMessagef(err, "epoch %d", epoch+1)
		}
		if skip > 0 {
			skip--
			_ = batch.Finalize()
			continue
		}
		if err := s.step(batch); err != nil {
			return err
		}
		steps++
		if steps == 1 {
			firstDone = time.Now() // The first step includes compilation: rates start after it.
		}
		if err := s.afterStep(steps-1, firstDone); err != nil {
			return err
		}
	}
	seconds := time.Since(start).Seconds()
	stats := EpochStats{Epoch: epoch + 1, Step: s.state.GlobalStep, Seconds: seconds,
		ImagesPerSecond: float64(steps*s.cfg.BatchSize) / seconds}
	if err := s.evaluateEpoch(&stats); err != nil {
		return err
	}
	s.state.History = append(s.state.History, stats)
	s.state.Epoch, s.state.StepInEpoch = epoch+1, 0
	s.state.RunningLoss, s.state.RunningCorrect, s.state.RunningCount = 0, 0, 0
	s.progress.Epoch(stats)
	if err := s.checkpoint(); err != nil {
		return err
	}
	if s.cfg.AfterEpoch != nil {
		if err := s.cfg.AfterEpoch(slices.Clone(s.state.History)); err != nil {
			return errors.WithMessagef(err, "after epoch %d", stats.Epoch)
		}
	}
	return nil
}

// step runs one training step and accumulates the running loss and accuracy.
func (s *session) step(batch train.Batch) error {
	n := batch.Labels[0].Shape().Dimensions[0]
	metrics, err := s.trainStep(batch)
	if err != nil {
		return errors.WithMessagef(err, "training step %d", s.state.GlobalStep+1)
	}
	values := make([]float64, len(metrics))
	for i, m := range metrics {
		values[i] = scalarValue(m)
		_ = m.FinalizeAll()
	}
	lossValue, accuracy := values[0], values[len(values)-1]
	s.state.GlobalStep++
	s.state.StepInEpoch++
	if math.IsNaN(lossValue) || math.IsInf(lossValue, 0) {
		return errors.Wrapf(ErrNonFinite, "loss %g at epoch %d, step %d (global step %d)",
			lossValue, s.state.Epoch+1, s.state.StepInEpoch, s.state.GlobalStep)
	}
	s.state.RunningLoss += lossValue * float64(n)
	s.state.RunningCorrect += accuracy * float64(n)
	s.state.RunningCount += n
	return nil
}

// trainStep runs the trainer's step on batch: on one device, or split across the devices of
// s.parallel.
func (s *session) trainStep(batch train.Batch) ([]*tensors.Tensor, error) {
	if s.parallel == nil {
		return s.trainer.TrainStep(batch)
	}
	db, err := s.parallel.shard(batch)
	if err != nil {
		return nil, err
	}
	return s.trainer.DistributedTrainStep(distributed.AutoSharding, s.parallel.devices, db)
}

// afterStep updates the progress display, checkpoints when due and honours cancellation. timed
// steps of this epoch were run since since (the first, compiling, step is not counted).
func (s *session) afterStep(timed int, since time.Time) error {
	st := s.state
	s.progress.Step(st.Epoch, st.StepInEpoch, st.RunningLoss/float64(st.RunningCount),
		st.RunningCorrect/float64(st.RunningCount), timed, time.Since(since))
	if s.cfg.CheckpointEvery > 0 && st.GlobalStep%s.cfg.CheckpointEvery == 0 {
		if err := s.checkpoint(); err != nil {
			return err
		}
	}
	err := s.ctx.Err()
	if err == nil && s.cfg.AfterStep != nil {
		err = s.cfg.AfterStep(st.GlobalStep)
	}
	if err != nil {
		cerr := s.checkpoint()
		if werr := s.waitCheckpoint(); cerr == nil {
			cerr = werr
		}
		if cerr != nil {
			return errors.WithMessagef(cerr, "saving a checkpoint after %v", err)
		}
		return errors.Wrapf(err, "training interrupted at epoch %d, step %d", st.Epoch+1, st.StepInEpoch)
	}
	return nil
}

// testsAfter reports whether Train evaluates the test set after epoch (1-based) under cfg: after
// every TestEvery-th epoch and after the last (TestEvery 0 or 1: after every epoch).
func testsAfter(cfg TrainConfig, epoch int) bool {
	return cfg.TestEvery <= 1 || epoch%cfg.TestEvery == 0 || epoch == cfg.Epochs
}

// evaluateEpoch fills the train and test figures of an epoch.
func (s *session) evaluateEpoch(stats *EpochStats) error {
	st := s.state
	if st.RunningCount > 0 {
		stats.TrainLoss = st.RunningLoss / float64(st.RunningCount)
		stats.TrainAccuracy = st.RunningCorrect / float64(st.RunningCount)
	}
	if s.cfg.EvalTrain {
		ev, err := s.eval.Evaluate(s.trainSet)
		if err != nil {
			return err
		}
		stats.TrainLoss, stats.TrainAccuracy = ev.Loss, ev.Accuracy
	}
	if s.testSet != nil && !testsAfter(s.cfg, stats.Epoch) {
		stats.TestSkipped = true
	} else if s.testSet != nil {
		ev, err := s.eval.Evaluate(s.testSet)
		if err != nil {
			return err
		}
		stats.TestLoss, stats.TestAccuracy = ev.Loss, ev.Accuracy
	}
	return nil
}

// checkpoint saves the session's state if checkpoints are configured. The variables and the state
// are copied now; the files are written in the background while training goes on (hashing, writing
// and fsyncing cost more than a training step for the MLP), one checkpoint at a time, in order:
// the next checkpoint, and the end of Train, wait for it and report its error.
func (s *session) checkpoint() error {
	if s.cfg.CheckpointDir == "" {
		return nil
	}
	if err := s.waitCheckpoint(); err != nil {
		return err
	}
	write, err := snapshotDir(s.cfg.CheckpointDir, s.trained, s.state, true)
	if err != nil {
		return err
	}
	s.writing = make(chan error, 1)
	go func(done chan<- error) { done <- write() }(s.writing)
	return nil
}

// waitCheckpoint waits for the checkpoint being written, if any, and returns its error.
func (s *session) waitCheckpoint() error {
	if s.writing == nil {
		return nil
	}
	err := <-s.writing
	s.writing = nil
	return err
}

// crossEntropyLoss returns the mean sparse categorical cross-entropy of logits and int labels
// [B], with the targets smoothed by smoothing (PyTorch's label_smoothing): the loss of an image is
// −(1−s)·log p_label − (s/C)·Σ_c log p_c. With s = 0 it is GoMLX's own loss.
func crossEntropyLoss(smoothing float64) func(labels, logits []*graph.Node) *graph.Node {
	return func(labels, logits []*graph.Node) *graph.Node {
		if smoothing == 0 {
			l := graph.Reshape(labels[0], -1, 1)
			return graph.ReduceAllMean(loss.SparseCategoricalCrossEntropyLogits([]*graph.Node{l}, logits))
		}
		x := logits[0]
		numClasses := x.Shape().Dimensions[1]
		logp := graph.LogSoftmax(x, -1)
		oneHot := graph.OneHot(graph.Reshape(labels[0], -1), numClasses, logp.DType())
		target := graph.AddScalar(graph.MulScalar(oneHot, 1-smoothing), smoothing/float64(numClasses))
		return graph.Neg(graph.ReduceAllMean(graph.ReduceSum(graph.Mul(target, logp), -1)))
	}
}

// batchAccuracy is the fraction of a batch whose top logit is the label: GoMLX's sparse
// categorical accuracy of the batch alone (a base metric: no running state in the store).
func batchAccuracy(scope *model.Scope, labels, logits []*graph.Node) *graph.Node {
	return metric.SparseCategoricalAccuracyGraph(scope, []*graph.Node{graph.Reshape(labels[0], -1, 1)}, logits)
}

// scalarValue returns a scalar tensor's value as float64 (NaN if it is not a float scalar).
func scalarValue(t *tensors.Tensor) float64 {
	var v float64 = math.NaN()
	err := exceptions.TryCatch[error](func() {
		switch x := t.Value().(type) {
		case float32:
			v = float64(x)
		case float64:
			v = x
		}
	})
	if err != nil {
		return math.NaN()
	}
	return v
}

// String describes the configuration in one line for logs.
func (c TrainConfig) String() string {
	s := fmt.Sprintf("optimizer %s lr %g", c.Optimizer, c.LearningRate)
	if c.Optimizer == OptimizerMomentum {
		s += fmt.Sprintf(" momentum %g", c.Momentum)
	}
	if c.FinalLearningRate > 0 {
		s += fmt.Sprintf(" → %g", c.FinalLearningRate)
	}
	if c.Nesterov {
		s += " Nesterov"
	}
	if c.WarmupFraction > 0 {
		s += fmt.Sprintf(" warm-up %g of the steps from %g×", c.WarmupFraction, c.WarmupStart)
	}
	if c.WeightDecay > 0 {
		s += fmt.Sprintf(" weight decay %g", c.WeightDecay)
	}
	if c.DecoupledWeightDecay > 0 {
		s += fmt.Sprintf(" decoupled weight decay %g", c.DecoupledWeightDecay)
	}
	if c.LabelSmoothing > 0 {
		s += fmt.Sprintf(" label smoothing %g", c.LabelSmoothing)
	}
	s += fmt.Sprintf(", batch %d, %d epochs, seed %d, augment %v", c.BatchSize, c.Epochs, c.Seed, c.Augment)
	if c.Augment && c.AugmentTranslate > 0 {
		s += fmt.Sprintf(" (±%d px)", c.AugmentTranslate)
	}
	if c.Augment && c.AlternateFlip {
		s += " alternating flip"
	}
	if c.LookaheadEvery > 0 {
		s += fmt.Sprintf(", lookahead every %d steps (decay %g)", c.LookaheadEvery, c.LookaheadDecay)
	}
	if m := c.TTAMode(); m != cnn.TTANone {
		s += fmt.Sprintf(", %s TTA", m)
	}
	if c.Devices > 1 {
		s += fmt.Sprintf(", data-parallel on %d devices (%d images each)", c.Devices, c.BatchSize/c.Devices)
	}
	return s
}
