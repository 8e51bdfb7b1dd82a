package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cnnlab/cnnlab/backend"
	"github.com/cnnlab/cnnlab/bench"
	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/onnxexport"
	"github.com/cnnlab/cnnlab/training"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/pkg/errors"
)

// benchModels are the models "cnnlab bench" knows, by the names used in its results.
var benchModels = map[string]func() *cnn.Model{
	"cnn3":   func() *cnn.Model { return cnn.LectureCNN(3) },
	"cnn100": func() *cnn.Model { return cnn.LectureCNN(100) },
	"mlp":    func() *cnn.Model { return cnn.MLP(cnn.DefaultMLPHidden, 3) },
	// resnet-mini100 is the small residual network (BatchNorm2d, a residual block) at 100 classes.
	"resnet-mini100": func() *cnn.Model { return cnn.ResNetMini(100) },
	// convnet7-bn is the full-CIFAR-100 model of the cifar100-1h preset (airbench-style, ≈118 M MACs).
	"convnet7-bn": func() *cnn.Model { return cnn.ConvNet7BN(100) },
}

// benchModelNames returns the names of benchModels, sorted.
func benchModelNames() []string {
	names := make([]string, 0, len(benchModels))
	for name := range benchModels {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// benchResult is one measurement of "cnnlab bench" (and of bench/peers, same fields).
type benchResult struct {
	Framework string `json:"framework"`
	Backend   string `json:"backend"`
	Model     string `json:"model"`
	// Kind is "train" (steps with data feeding), "infer" (throughput) or "latency" (batch of 1).
	Kind  string `json:"kind"`
	Batch int    `json:"batch"`
	// ImagesPerSec is the median over Reps of the images per second of a window of StepsPerRep
	// steps (train) or calls (infer), after warm-up.
	ImagesPerSec float64   `json:"images_per_sec"`
	Reps         []float64 `json:"reps_images_per_sec,omitempty"`
	StepsPerRep  int       `json:"steps_per_rep,omitempty"`
	// FirstStepSeconds is the time from the start of training to the end of the first step
	// (graph building and compilation included).
	FirstStepSeconds float64 `json:"first_step_seconds,omitempty"`
	// LatencyMs is the median (and P90) of single calls (kind latency).
	LatencyMs    float64 `json:"latency_ms,omitempty"`
	LatencyP90Ms float64 `json:"latency_p90_ms,omitempty"`
	// CPUMsPerImage is the process's CPU time (user + system, all threads) per trained image over
	// the timed steps: on a loaded machine it changes far less than the wall-clock throughput, so
	// the ratio of two configurations' figures stays meaningful there.
	CPUMsPerImage float64 `json:"cpu_ms_per_image,omitempty"`
	// PeakRSSMB is the process's peak RSS during this measurement (VmHWM, reset before it).
	PeakRSSMB float64 `json:"peak_rss_mb,omitempty"`
	Threads   int     `json:"threads"`
	Error     string  `json:"error,omitempty"`
}

// benchReport is the JSON written by "cnnlab bench".
type benchReport struct {
	Date     string                      `json:"date"`
	Machine  bench.Machine               `json:"machine"`
	Go       string                      `json:"go"`
	Env      map[string]string           `json:"env"`
	Backends map[string]string           `json:"backends"`
	FLOPs    map[string]map[string]int64 `json:"flops_per_image"`
	Results  []benchResult               `json:"results"`
}

// benchOptions are the flags of "cnnlab bench".
type benchOptions struct {
	// rewrites override the backend's default graph options (cnn.DefaultGraphOptions).
	rewrites         graphFlags
	backends, models []string
	batches          []int
	reps             int
	repImages        int
	goRepImages      int
	inference        bool
	onnxDir          string
}

// runBench measures training and inference throughput of the GoMLX backends.
func runBench(args []string, stdout io.Writer) error {
	fs := newFlagSet("bench", "[flags]")
	backendsFlag := fs.String("backends", "xla:cpu,go", "comma-separated backends to measure")
	modelsFlag := fs.String("models", "cnn3,cnn100,mlp", "comma-separated models: cnn3 (lecture CNN, 3 classes), cnn100 (100 classes), mlp, resnet-mini100, convnet7-bn")
	batchesFlag := fs.String("batches", "32,128,512", "comma-separated batch sizes")
	out := fs.String("out", "", "write the results as JSON to this file (default: stdout only)")
	var o benchOptions
	o.rewrites.register(fs)
	fs.IntVar(&o.reps, "reps", 5, "timed repetitions (the median is reported)")
	fs.IntVar(&o.repImages, "rep-images", 4096, "images per timed repetition (rounded up to whole steps)")
	fs.IntVar(&o.goRepImages, "go-rep-images", 512, "images per timed repetition on the go backend (slower)")
	fs.BoolVar(&o.inference, "inference", true, "also measure inference throughput (largest batch) and single-image latency")
	fs.StringVar(&o.onnxDir, "onnx-dir", "", "export each trained model (xla:cpu) to DIR/<model>.onnx for bench/peers/ort_bench.py")
	fmaUnits := fs.Int("fma-units", 0, "FMA units per core of the widest vectors assumed for the float32 peak (0: by the CPU: 1 for AVX-512 on AMD Zen 4, else 2)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	o.backends, o.models = splitList(*backendsFlag), splitList(*modelsFlag)
	for _, s := range splitList(*batchesFlag) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return errors.Errorf("--batches: bad batch size %q", s)
		}
		o.batches = append(o.batches, n)
	}
	if o.reps < 1 {
		return errors.New("--reps must be ≥ 1")
	}
	report := &benchReport{Date: time.Now().UTC().Format(time.RFC3339), Machine: bench.ReadMachine(*fmaUnits),
		Go: runtime.Version(), Env: map[string]string{}, Backends: map[string]string{}, FLOPs: map[string]map[string]int64{}}
	for _, k := range []string{"XLA_FLAGS", "GOMAXPROCS", "GOEXPERIMENT", "OMP_NUM_THREADS", "GLIBC_TUNABLES", backend.HugePagesEnv} {
		if v, ok := os.LookupEnv(k); ok {
			report.Env[k] = v
		}
	}
	for _, name := range o.models {
		mk, ok := benchModels[name]
		if !ok {
			return errors.Errorf("--models: unknown model %q (%s)", name, strings.Join(benchModelNames(), ", "))
		}
		train, err := bench.TrainFLOPsPerImage(mk())
		if err != nil {
			return err
		}
		fwd, _ := bench.ForwardFLOPsPerImage(mk())
		report.FLOPs[name] = map[string]int64{"train": train, "forward": fwd}
	}
	fmt.Fprintf(stdout, "machine: %s, %d cores, peak %.1f GFLOP/s (%s)\n", report.Machine.Model, report.Machine.Cores,
		report.Machine.PeakGFLOPS, report.Machine.Formula)
	for _, bname := range o.backends {
		b, err := backend.New(bname)
		if err != nil {
			return err
		}
		report.Backends[bname] = backend.Describe(b)
		fmt.Fprintf(stdout, "backend %s: %s; %s\n", bname, backend.Describe(b), backend.MemoryNote())
		for _, mname := range o.models {
			for _, batch := range o.batches {
				r, t := benchTrain(b, bname, mname, batch, o)
				report.Results = append(report.Results, r)
				printBenchResult(stdout, r, report)
				if batch != o.batches[len(o.batches)-1] || t == nil {
					continue
				}
				if o.inference {
					for _, r := range benchInference(b, bname, mname, t, batch, o) {
						report.Results = append(report.Results, r)
						printBenchResult(stdout, r, report)
					}
				}
				if o.onnxDir != "" && backend.Resolve(bname) != "go" {
					path := filepath.Join(o.onnxDir, mname+".onnx")
					if err := os.MkdirAll(o.onnxDir, 0o755); err != nil {
						return err
					}
					if _, err := onnxexport.ExportFile(t, path, onnxexport.Options{}); err != nil {
						fmt.Fprintf(stdout, "  ONNX export of %s failed: %v\n", mname, err)
					} else {
						fmt.Fprintf(stdout, "  exported %s\n", path)
					}
				}
			}
		}
		b.Finalize()
	}
	if *out != "" {
		return writeJSON(*out, report)
	}
	return nil
}

// printBenchResult prints one result line.
func printBenchResult(w io.Writer, r benchResult, rep *benchReport) {
	if r.Error != "" {
		fmt.Fprintf(w, "  %-8s %-7s %-7s batch %4d: error: %s\n", r.Backend, r.Model, r.Kind, r.Batch, r.Error)
		return
	}
	line := fmt.Sprintf("  %-8s %-7s %-7s batch %4d: %9.0f img/s", r.Backend, r.Model, r.Kind, r.Batch, r.ImagesPerSec)
	if r.Kind == "train" {
		gflops := r.ImagesPerSec * float64(rep.FLOPs[r.Model]["train"]) / 1e9
		line += fmt.Sprintf("  %6.1f GFLOP/s", gflops)
		if onCPU(r.Backend) { // The peak is the CPU's: no percentage for a GPU.
			line += fmt.Sprintf(" (%4.1f%% of peak)", 100*gflops/rep.Machine.PeakGFLOPS)
		}
		line += fmt.Sprintf("  CPU %.1f ms/img  first step %.2fs  peak RSS %.0f MB", r.CPUMsPerImage, r.FirstStepSeconds, r.PeakRSSMB)
	}
	if r.Kind == "latency" {
		line += fmt.Sprintf("  latency median %.3f ms, p90 %.3f ms", r.LatencyMs, r.LatencyP90Ms)
	}
	fmt.Fprintln(w, line)
}

// onCPU reports whether a backend name ("xla:cpu", "go", "xla:cuda") runs on the CPU, whose peak
// the machine description holds.
func onCPU(backendName string) bool {
	return backendName == "go" || strings.HasSuffix(backendName, ":cpu")
}

// errBenchDone stops a timed training run.
var errBenchDone = errors.New("benchmark done")

// syntheticSet is a set of n random images with labels in 0..classes-1 (the timing does not
// depend on the pixel values).
func syntheticSet(n, classes int) *datasets.Set {
	rng := rand.New(rand.NewPCG(1, 2))
	s := &datasets.Set{Name: "synthetic", Pixels: make([]uint8, n*datasets.RecordPixels), Labels: make([]int32, n)}
	for i := range s.Pixels {
		s.Pixels[i] = uint8(rng.IntN(256))
	}
	for i := range s.Labels {
		s.Labels[i] = int32(i % classes)
	}
	for c := range classes {
		s.ClassIDs = append(s.ClassIDs, c)
		s.ClassNames = append(s.ClassNames, strconv.Itoa(c))
	}
	return s
}

// stepsPerRep is the number of steps of a timed window.
func stepsPerRep(bname string, batch int, o benchOptions) int {
	images := o.repImages
	if backend.Resolve(bname) == "go" {
		images = o.goRepImages
	}
	return max(1, (images+batch-1)/batch)
}

// benchTrain measures training throughput of model mname at batch on b with training.Train (the
// batches are produced by datasets.Batches from a uint8 set, as in real training). It returns the
// trained model for the inference measurements.
func benchTrain(b compute.Backend, bname, mname string, batch int, o benchOptions) (benchResult, *cnn.Trained) {
	r := benchResult{Framework: "cnnlab (GoMLX)", Backend: bname, Model: mname, Kind: "train", Batch: batch, Threads: runtime.GOMAXPROCS(0)}
	m := benchModels[mname]()
	t, err := cnn.NewTrained(m, 1)
	if err != nil {
		r.Error = err.Error()
		return r, nil
	}
	if t.Options, err = o.rewrites.options(b, m); err != nil {
		r.Error = err.Error()
		return r, nil
	}
	steps := stepsPerRep(bname, batch, o)
	warmup := 2
	if backend.Resolve(bname) == "go" {
		warmup = 1
	}
	total := 1 + warmup + o.reps*steps
	set := syntheticSet(max(4*batch, 2048), m.NumClasses())
	cfg := training.DefaultTrainConfig()
	cfg.BatchSize, cfg.Epochs = batch, total // One step per epoch at least: never ends early.
	times := make([]time.Time, 0, total+1)
	cpu := make([]time.Duration, 0, total+1)
	cfg.AfterStep = func(step int) error {
		times = append(times, time.Now())
		cpu = append(cpu, processCPUTime())
		if step >= total {
			return errBenchDone
		}
		return nil
	}
	resetPeakRSS()
	start := time.Now()
	_, err = training.Train(context.Background(), b, t, set, nil, cfg)
	r.PeakRSSMB = peakRSSMB()
	if err != nil && !errors.Is(err, errBenchDone) {
		r.Error = err.Error()
		return r, nil
	}
	if len(times) < total {
		r.Error = fmt.Sprintf("only %d of %d steps ran", len(times), total)
		return r, nil
	}
	r.FirstStepSeconds = times[0].Sub(start).Seconds()
	r.StepsPerRep = steps
	for i := range o.reps {
		from := times[warmup+i*steps]
		to := times[warmup+(i+1)*steps]
		r.Reps = append(r.Reps, float64(steps*batch)/to.Sub(from).Seconds())
	}
	r.ImagesPerSec = bench.Median(r.Reps)
	if first, last := cpu[warmup], cpu[warmup+o.reps*steps]; first > 0 {
		r.CPUMsPerImage = float64((last - first).Milliseconds()) / float64(o.reps*steps*batch)
	}
	return r, t
}

// processCPUTime returns the user + system CPU time of this process so far (0 if unknown).
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchInference measures the inference throughput at batch and the latency of one image, with
// one compiled graph of the final weights (the images are converted from uint8 at each call, and
// the logits copied back to the host, as cnn.Evaluator does).
func benchInference(b compute.Backend, bname, mname string, t *cnn.Trained, batch int, o benchOptions) []benchResult {
	set := syntheticSet(batch, t.Model.NumClasses())
	exec, err := model.NewExec(b, t.Store(), func(scope *model.Scope, images *graph.Node) *graph.Node {
		return t.Forward(false)(scope, images)
	})
	if err != nil {
		return []benchResult{{Framework: "cnnlab (GoMLX)", Backend: bname, Model: mname, Kind: "infer", Batch: batch, Error: err.Error()}}
	}
	defer exec.Finalize()
	call := func(n int) error {
		outputs, err := exec.Exec(cnn.ImagesTensor(set, 0, n, n))
		if err != nil {
			return err
		}
		_, err = tensors.CopyFlatData[float32](outputs[0])
		outputs[0].FinalizeAll()
		return err
	}
	thr := benchResult{Framework: "cnnlab (GoMLX)", Backend: bname, Model: mname, Kind: "infer", Batch: batch, Threads: runtime.GOMAXPROCS(0)}
	calls := stepsPerRep(bname, batch, o)
	for i := range 2 + o.reps {
		start := time.Now()
		for range calls {
			if err := call(batch); err != nil {
				thr.Error = err.Error()
				return []benchResult{thr}
			}
		}
		if i >= 2 { // Two warm-up windows (the first compiles).
			thr.Reps = append(thr.Reps, float64(calls*batch)/time.Since(start).Seconds())
		}
	}
	thr.StepsPerRep, thr.ImagesPerSec = calls, bench.Median(thr.Reps)
	lat := benchResult{Framework: "cnnlab (GoMLX)", Backend: bname, Model: mname, Kind: "latency", Batch: 1, Threads: runtime.GOMAXPROCS(0)}
	n := 200
	if backend.Resolve(bname) == "go" {
		n = 50
	}
	var ms []float64
	for i := range n + 3 {
		start := time.Now()
		if err := call(1); err != nil {
			lat.Error = err.Error()
			return []benchResult{thr, lat}
		}
		if i >= 3 {
			ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		}
	}
	lat.LatencyMs = bench.Median(ms)
	lat.ImagesPerSec = 1000 / lat.LatencyMs
	lat.LatencyP90Ms = quantile(ms, 0.9)
	return []benchResult{thr, lat}
}

// quantile returns the q-quantile (nearest rank) of xs.
func quantile(xs []float64, q float64) float64 {
	s := append([]float64(nil), xs...)
	for i := 1; i < len(s); i++ { // Insertion sort: small slices.
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// resetPeakRSS resets the kernel's peak RSS of this process (Linux; ignored elsewhere).
func resetPeakRSS() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSSMB returns the process's peak RSS (VmHWM) in MB, 0 if unknown.
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// graphFlags are the command-line switches of the graph rewrites (cnn.GraphOptions): each left at
// its zero value keeps the backend's default.
type graphFlags struct {
	plain                     bool
	channelsLast, poolReshape string
	kernelGrad, maxPool       string
	convMethod                string
	convSplit, forwardChunk   int
}

// register adds the flags to fs.
func (f *graphFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.plain, "no-rewrites", false, "start from no graph rewrites at all (cnn.PlainGraphOptions) instead of the backend's defaults")
	fs.StringVar(&f.channelsLast, "channels-last", "", "on|off: convolutions and pooling in NHWC (default: the backend's)")
	fs.StringVar(&f.poolReshape, "pool-reshape", "", "on|off: average pooling as reshape + mean (default: the backend's)")
	fs.StringVar(&f.convMethod, "conv-method", "", "auto|native|im2col (default: the backend's)")
	fs.StringVar(&f.maxPool, "max-pool-reshape", "", "on|off: max pooling with stride = kernel as reshape + maximum, PyTorch's gradient (default: the backend's)")
	fs.StringVar(&f.kernelGrad, "im2col-kernel-grad", "", "on|off: kernel gradient of native convolutions as an im2col matrix product (default: the backend's)")
	fs.IntVar(&f.convSplit, "conv-split", 0, "batch chunks of each convolution, 1 for none (default: the backend's)")
	fs.IntVar(&f.forwardChunk, "forward-chunk", -1, "largest training forward chunk, 0 for none (default: the backend's)")
}

// options returns the graph options for backend b and model m with the flags applied.
func (f *graphFlags) options(b compute.Backend, m *cnn.Model) (*cnn.GraphOptions, error) {
	o := cnn.DefaultGraphOptionsFor(b, m)
	if f.plain {
		o = cnn.PlainGraphOptions()
	}
	onOff := func(name, v string, dst *bool) error {
		switch v {
		case "":
		case "on":
			*dst = true
		case "off":
			*dst = false
		default:
			return fmt.Errorf("--%s %q: want on or off", name, v)
		}
		return nil
	}
	if err := onOff("channels-last", f.channelsLast, &o.ChannelsLast); err != nil {
		return nil, err
	}
	if err := onOff("pool-reshape", f.poolReshape, &o.PoolReshape); err != nil {
		return nil, err
	}
	if err := onOff("im2col-kernel-grad", f.kernelGrad, &o.Im2colKernelGrad); err != nil {
		return nil, err
	}
	if err := onOff("max-pool-reshape", f.maxPool, &o.MaxPoolReshape); err != nil {
		return nil, err
	}
	switch f.convMethod {
	case "":
	case cnn.ConvAuto, cnn.ConvNative, cnn.ConvIm2col:
		o.ConvMethod = f.convMethod
	default:
		return nil, fmt.Errorf("--conv-method %q: want auto, native or im2col", f.convMethod)
	}
	if f.convSplit < 0 {
		return nil, fmt.Errorf("--conv-split %d: want ≥ 1", f.convSplit)
	}
	if f.convSplit > 0 {
		o.ConvBatchSplit = f.convSplit
	}
	if f.forwardChunk >= 0 {
		o.ForwardChunk = f.forwardChunk
	}
	return &o, nil
}
