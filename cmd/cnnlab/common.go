package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/cnnlab/cnnlab/plot"

	"github.com/cnnlab/cnnlab/backend"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/internal/atomicfile"
	"github.com/cnnlab/cnnlab/internal/dirlock"
	"github.com/cnnlab/cnnlab/training"
	"github.com/gomlx/compute"
	"github.com/pkg/errors"
)

// EpochsEnv overrides the default number of epochs (for notebooks and CI), below --epochs.
const EpochsEnv = "CNNLAB_EPOCHS"

// quickEpochs is the number of epochs of --quick.
const quickEpochs = 10

// trainFlags are the flags shared by the train and reproduce commands.
type trainFlags struct {
	backend, data, out, optimizer       string
	epochs, batch, checkpointEvery      int
	lr, lrFinal, momentum, weightDecay  float64
	seed                                int64
	augment, quick, noProgress, evalAll bool
	restart                             bool
	// The recipe pieces of fast CIFAR training (see training.TrainConfig).
	nesterov, tta, ttaTranslate                      bool
	decoupledWD, warmup, warmupStart, labelSmoothing float64
	translate                                        int
	// devices is the number of devices of the backend that share each batch (data parallelism).
	devices        int
	testEvery      int
	lookahead      int
	lookaheadDecay float64
	altFlip        bool
}

// backendUsage and dataUsage are the help texts of the --backend and --data flags of every command.
const (
	backendUsage = "backend: xla:cpu, xla:cuda or go (default $" + backend.EnvVar + ", else " + backend.Default + ")"
	dataUsage    = "directory holding cifar-100-binary/ (default $" + datasets.DataDirEnv + ")"
)

// register adds the shared flags to fs with the lecture experiment's defaults.
func (f *trainFlags) register(fs *flag.FlagSet, defaultOut string) {
	d := training.DefaultTrainConfig()
	fs.StringVar(&f.backend, "backend", "", backendUsage)
	fs.StringVar(&f.data, "data", "", dataUsage)
	fs.StringVar(&f.out, "out", defaultOut, "output directory: model, checkpoint, history, reports (a run there resumes from its checkpoint; one run at a time: locked)")
	fs.IntVar(&f.epochs, "epochs", 0, fmt.Sprintf("epochs of training (default $%s, else %d)", EpochsEnv, d.Epochs))
	fs.BoolVar(&f.quick, "quick", false, fmt.Sprintf("short run of %d epochs, for notebooks and CI (accuracy bounds not reached)", quickEpochs))
	fs.IntVar(&f.batch, "batch", d.BatchSize, "batch size")
	fs.StringVar(&f.optimizer, "optimizer", d.Optimizer, "optimizer: momentum, sgd, lineardecay or adam")
	fs.Float64Var(&f.lr, "lr", d.LearningRate, "learning rate (initial rate ε₀ for lineardecay)")
	fs.Float64Var(&f.lrFinal, "lr-final", 0, "final learning rate ε_τ of a linear decay over the whole training (lineardecay; momentum if > 0)")
	fs.Float64Var(&f.momentum, "momentum", d.Momentum, "momentum coefficient α (optimizer momentum)")
	fs.Float64Var(&f.weightDecay, "weight-decay", 0, "L2 weight decay λ (0: none)")
	fs.Int64Var(&f.seed, "seed", d.Seed, "seed of the initial weights and of the batch order")
	fs.BoolVar(&f.augment, "augment", false, "augment training images (random crop with 4-pixel padding, horizontal flip)")
	fs.IntVar(&f.checkpointEvery, "checkpoint-every", 200, "steps between checkpoints (also saved after every epoch)")
	fs.BoolVar(&f.noProgress, "no-progress", false, "do not print the progress display (to stderr)")
	fs.BoolVar(&f.restart, "restart", false, "discard the checkpoint in --out and train from scratch (instead of resuming it)")
	fs.BoolVar(&f.evalAll, "eval-train", false, "evaluate the whole training set after every epoch (default: running mean of the epoch's batches)")
	fs.BoolVar(&f.nesterov, "nesterov", false, "Nesterov momentum, PyTorch's form (optimizer momentum)")
	fs.Float64Var(&f.decoupledWD, "decoupled-wd", 0, "weight decay decoupled from the gradient, θ ← θ·(1 − ε·λ) each step (0: none)")
	fs.Float64Var(&f.warmup, "warmup", 0, "fraction of the steps of a linear learning-rate warm-up, then a linear decay to --lr-final (0: no warm-up)")
	fs.Float64Var(&f.warmupStart, "warmup-start", 0, "factor of --lr the warm-up starts from (0…1)")
	fs.Float64Var(&f.labelSmoothing, "label-smoothing", 0, "label smoothing s of the cross-entropy, as PyTorch's (0: none)")
	fs.IntVar(&f.translate, "translate", 0, fmt.Sprintf("largest translation of --augment in pixels (0: %d)", datasets.AugmentPadding))
	fs.BoolVar(&f.altFlip, "alt-flip", false, "with --augment, airbench's alternating flip instead of the random one: each image mirrored in every other epoch")
	fs.BoolVar(&f.tta, "tta", false, "evaluate with test-time augmentation: mean logits of each image and its mirror")
	fs.BoolVar(&f.ttaTranslate, "tta-translate", false, "with --tta, also average the image's 1-pixel translations up-left and down-right and their mirrors (airbench's TTA: 6 passes per image)")
	fs.IntVar(&f.devices, "devices", 1, "devices of the backend that share each batch, data-parallel: --batch is the global batch, "+
		"split evenly (see docs/distributed.md)")
	fs.IntVar(&f.testEvery, "test-every", 1, "evaluate the test set after every this many epochs and after the last (fewer evaluations inside a time budget; the curve gets fewer points)")
	fs.IntVar(&f.lookahead, "lookahead", 0, "lookahead (airbench's form): every this many steps pull slow weights towards the fast ones and reset the fast ones to them; the final weights are the slow ones (0: none)")
	fs.Float64Var(&f.lookaheadDecay, "lookahead-decay", 0.95, "per-step decay of --lookahead: the pull keeps decay^steps·(step/total)³ of the slow weights")
}

// config validates the flags parsed by fs and returns the training configuration they give.
func (f *trainFlags) config(fs *flag.FlagSet) (training.TrainConfig, error) {
	if err := f.validate(fs); err != nil {
		return training.TrainConfig{}, err
	}
	cfg := training.TrainConfig{Epochs: f.epochs, BatchSize: f.batch, Optimizer: f.optimizer, LearningRate: f.lr,
		FinalLearningRate: f.lrFinal, Momentum: f.momentum, WeightDecay: f.weightDecay, Seed: f.seed,
		Augment: f.augment, CheckpointEvery: f.checkpointEvery, EvalTrain: f.evalAll,
		Nesterov: f.nesterov, DecoupledWeightDecay: f.decoupledWD, WarmupFraction: f.warmup, WarmupStart: f.warmupStart,
		LabelSmoothing: f.labelSmoothing, AugmentTranslate: f.translate, TTA: f.tta, TTATranslate: f.ttaTranslate, Devices: f.devices, TestEvery: f.testEvery,
		AlternateFlip: f.altFlip}
	if f.lookahead > 0 {
		cfg.LookaheadEvery, cfg.LookaheadDecay = f.lookahead, f.lookaheadDecay
	}
	if cfg.Epochs == 0 {
		cfg.Epochs = training.DefaultTrainConfig().Epochs
		if env := os.Getenv(EpochsEnv); env != "" {
			n, err := strconv.Atoi(env)
			if err != nil || n < 1 {
				return cfg, errors.Errorf("$%s=%q: want a positive number of epochs", EpochsEnv, env)
			}
			cfg.Epochs = n
		}
		if f.quick {
			cfg.Epochs = quickEpochs
		}
	}
	if !f.noProgress {
		cfg.Progress = os.Stderr
	}
	if _, err := cfg.NewOptimizer(1); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// validate checks each flag parsed by fs on its own, before anything is loaded or created: the
// error names the flag, its value and what it takes.
func (f *trainFlags) validate(fs *flag.FlagSet) error {
	set := make(map[string]bool)
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	usesMomentum := f.optimizer == training.OptimizerMomentum || f.optimizer == ""
	checks := []struct {
		flag string
		bad  bool
		want string
	}{
		{"epochs", f.epochs < 0 || (set["epochs"] && f.epochs == 0), "a number of epochs ≥ 1"},
		{"batch", f.batch < 1, "a batch size ≥ 1"},
		{"lr", !finite(f.lr) || f.lr <= 0, "a finite learning rate > 0"},
		{"lr-final", !finite(f.lrFinal) || f.lrFinal < 0, "a finite learning rate ≥ 0"},
		{"lr-final", f.lrFinal > 0 && !usesMomentum && f.optimizer != training.OptimizerLinearDecay,
			"--optimizer momentum or lineardecay (--optimizer " + f.optimizer + " has no final rate)"},
		{"momentum", !finite(f.momentum) || f.momentum < 0 || f.momentum >= 1, "a momentum coefficient in [0, 1)"},
		{"momentum", set["momentum"] && !usesMomentum, "--optimizer momentum (--optimizer " + f.optimizer + " has none)"},
		{"weight-decay", !finite(f.weightDecay) || f.weightDecay < 0, "a finite weight decay ≥ 0"},
		{"checkpoint-every", f.checkpointEvery < 0, "a number of steps ≥ 0 (0: at the end of epochs only)"},
		{"decoupled-wd", !finite(f.decoupledWD) || f.decoupledWD < 0, "a finite decoupled weight decay ≥ 0"},
		{"warmup", !(f.warmup >= 0 && f.warmup < 1), "a fraction of the training in [0, 1)"},
		{"warmup-start", !(f.warmupStart >= 0 && f.warmupStart <= 1), "a factor of --lr in [0, 1]"},
		{"label-smoothing", !(f.labelSmoothing >= 0 && f.labelSmoothing < 1), "a smoothing in [0, 1)"},
		{"translate", f.translate < 0 || f.translate > 16, "a translation of 0…16 pixels"},
		{"devices", f.devices < 1, "a number of devices ≥ 1"},
		{"test-every", f.testEvery < 1, "a number of epochs ≥ 1 (1: after every epoch)"},
		{"batch", f.devices > 1 && f.batch%f.devices != 0,
			fmt.Sprintf("a multiple of --devices %d (each device takes an equal share of the batch)", f.devices)},
		{"lookahead", f.lookahead < 0, "a number of steps ≥ 0 (0: none)"},
		{"lookahead", f.lookahead > 0 && f.optimizer == training.OptimizerAdam, "--optimizer momentum, sgd or lineardecay (adam has no lookahead here)"},
		{"lookahead-decay", !(f.lookaheadDecay > 0 && f.lookaheadDecay < 1), "a decay in (0, 1)"},
	}
	for _, c := range checks {
		if c.bad {
			return errors.Errorf("--%s %s: want %s", c.flag, fs.Lookup(c.flag).Value, c.want)
		}
	}
	return nil
}

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// checkBatch fails if the --batch of cfg is larger than the training set (no step per epoch).
func checkBatch(cfg training.TrainConfig, train *datasets.Set) error {
	if cfg.BatchSize > train.Len() {
		return errors.Errorf("--batch %d: larger than the %d training images of %s (an epoch would have no step)",
			cfg.BatchSize, train.Len(), train.Name)
	}
	return nil
}

// checkDevices fails if the --devices of cfg exceeds the devices of backend b, naming both numbers.
func checkDevices(cfg training.TrainConfig, b compute.Backend) error {
	if n := b.NumDevices(); cfg.Devices > n {
		return errors.Errorf("--devices %d: backend %s has only %d device(s)", cfg.Devices, b.Name(), n)
	}
	return nil
}

// noArgs fails if fs has positional arguments left.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return errors.Errorf("unexpected arguments %q (flags go before them? see --help)", strings.Join(fs.Args(), " "))
	}
	return nil
}

// openBackend creates the backend of flagValue and prints which one is used.
func openBackend(flagValue string, stdout io.Writer) (compute.Backend, error) {
	b, err := backend.New(flagValue)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(stdout, runningOn(b))
	return b, nil
}

// runningOn is the line every command prints once its backend is open: the backend and how this
// process allocates memory (backend.MemoryNote).
func runningOn(b compute.Backend) string {
	return fmt.Sprintf("running on %s; %s", backend.Describe(b), backend.MemoryNote())
}

// loadClasses loads CIFAR-100 from dataDir — downloading and verifying the official tarball first
// if dataDir does not hold it yet — and returns the train and test subsets of classes
// (comma-separated ids or names; "all" for the 100 classes).
func loadClasses(dataDir, classes string) (train, test *datasets.Set, err error) {
	if _, err := datasets.EnsureCIFAR100(context.Background(), dataDir, datasets.DownloadOptions{}); err != nil {
		return nil, nil, err
	}
	data, err := datasets.LoadCIFAR100(dataDir)
	if err != nil {
		return nil, nil, err
	}
	if strings.TrimSpace(classes) == "all" {
		return data.Train, data.Test, nil
	}
	var list []string
	for _, c := range strings.Split(classes, ",") {
		if c = strings.TrimSpace(c); c != "" {
			list = append(list, c)
		}
	}
	if len(list) < 2 {
		return nil, nil, errors.Errorf("--classes %q: give at least 2 classes (ids or names, comma-separated) or \"all\"", classes)
	}
	return data.Subset(list...)
}

// lockOut creates the output directory dir and locks it for this run (see dirlock): a second
// run on the same directory fails, naming the first one's PID. A lock left by a killed run is
// taken over, with a note on stdout.
func lockOut(dir string, stdout io.Writer) (*dirlock.Lock, error) {
	l, err := dirlock.Acquire(dir)
	if err != nil {
		return nil, errors.WithMessage(err, "--out")
	}
	if l.StalePID != 0 {
		fmt.Fprintf(stdout, "note: the previous run in %s (PID %d) ended without releasing it (killed?); taking over\n", dir, l.StalePID)
	}
	return l, nil
}

// signalContext returns a context cancelled by SIGINT or SIGTERM, so training stops after a
// checkpoint.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// writeJSON writes v as indented JSON to path (via a temporary file renamed into place).
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return errors.Wrapf(err, "encoding %q", path)
	}
	return writeFileAtomic(path, append(data, '\n'))
}

// writeFileAtomic writes data to path through a synced temporary file (see atomicfile).
func writeFileAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data) }

// writeHistory writes the history as history.csv and history.json in dir; in the CSV the test
// cells of an epoch without a test evaluation (--test-every) are empty.
func writeHistory(dir string, history []training.EpochStats) error {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"epoch", "step", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds", "images_per_second"})
	for _, s := range history {
		testLoss, testAccuracy := ff(s.TestLoss), ff(s.TestAccuracy)
		if s.TestSkipped {
			testLoss, testAccuracy = "", ""
		}
		_ = w.Write([]string{strconv.Itoa(s.Epoch), strconv.Itoa(s.Step), ff(s.TrainLoss), ff(s.TrainAccuracy),
			testLoss, testAccuracy, ff(s.Seconds), ff(s.ImagesPerSecond)})
	}
	w.Flush()
	if err := writeFileAtomic(filepath.Join(dir, "history.csv"), []byte(b.String())); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "history.json"), history)
}

// ff formats a float for CSV.
func ff(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }

// writeCurve writes the accuracy-vs-training-minutes curve as dir/curve.csv and dir/curve.png.
func writeCurve(dir string, curve []curvePoint) error {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"epoch", "minutes", "test_accuracy"})
	x, y := make([]float64, len(curve)), make([]float64, len(curve))
	for i, p := range curve {
		_ = w.Write([]string{strconv.Itoa(p.Epoch), ff(p.Minutes), ff(p.TestAccuracy)})
		x[i], y[i] = p.Minutes, p.TestAccuracy
	}
	w.Flush()
	if err := writeFileAtomic(filepath.Join(dir, "curve.csv"), []byte(b.String())); err != nil {
		return err
	}
	png, err := plot.Chart{Title: "test accuracy vs training time", XLabel: "training minutes (steps only)",
		YLabel: "test accuracy", Series: []plot.Series{{Name: "test", X: x, Y: y}}}.PNG()
	if err != nil {
		return errors.WithMessage(err, "accuracy curve")
	}
	return writeFileAtomic(filepath.Join(dir, "curve.png"), png)
}
