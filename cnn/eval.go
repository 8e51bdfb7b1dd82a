package cnn

import (
	"math"
	"sort"

	"github.com/cnnlab/cnnlab/datasets"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/distributed"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/dtensor"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/pkg/errors"
)

// DefaultEvalBatchSize is the number of images per inference call of an Evaluator.
const DefaultEvalBatchSize = 500

// Evaluator runs inference of a Trained model on a backend, always with the current weights.
//
// GoMLX's pure-Go backend prefers constants for variables: an inference graph compiled once embeds
// the weights it saw then, so a long-lived exec would report stale results after more training.
// The Evaluator therefore compiles a fresh graph for every Logits/Evaluate call on backends that
// prefer constants, and keeps one compiled graph on the others (XLA passes variables as parameters).
//
// By default it runs on the backend's first device; Sharded splits every batch across several.
type Evaluator struct {
	backend   compute.Backend
	trained   *Trained
	batchSize int
	tta       TTA
	exec      *model.Exec
	// shards, if not nil, splits every batch along its batch axis across several devices (Sharded).
	shards *evalShards
	// padValue fills the padding rows of a partial batch: 0, except in the test that shows that
	// those rows never reach the results (TestShardedEvaluationDropsPadding).
	padValue float32
}

// evalShards is the set-up of a sharded Evaluator: the batch axis of the images and of the logits
// is split along the one axis of spec's mesh, share i on devices[i].
type evalShards struct {
	spec    *distributed.ShardingSpec
	devices []compute.DeviceNum
}

// NewEvaluator returns an Evaluator of t on b with DefaultEvalBatchSize.
func NewEvaluator(b compute.Backend, t *Trained) *Evaluator {
	return &Evaluator{backend: b, trained: t, batchSize: DefaultEvalBatchSize}
}

// BatchSize sets the number of images per inference call (default DefaultEvalBatchSize).
func (e *Evaluator) BatchSize(n int) *Evaluator {
	if n > 0 {
		e.batchSize = n
	}
	return e
}

// Sharded makes e split every inference batch along its batch axis into equal shares across the
// devices of mesh, a mesh with one axis, share i on devices[i] (nil: devices 0…N−1), with GoMLX's
// AutoSharding: the graph is the single-device one over the whole batch, the weights are
// replicated on every device (Trained.ReplicateOn(mesh) before every evaluation: after
// data-parallel training, pass its mesh, and the copies already on the devices are used), and the
// logits come back sharded and are joined on the host. The batch size is rounded up to a multiple
// of the devices, and a partial batch (the last of Evaluate, or Logits of any number of images)
// is padded to it: the padding rows are computed and dropped, never counted. A mesh of one device
// (or nil) is the single-device path.
func (e *Evaluator) Sharded(mesh *distributed.DeviceMesh, devices []compute.DeviceNum) (*Evaluator, error) {
	if mesh == nil || mesh.NumDevices() == 1 {
		e.setShards(nil)
		return e, nil
	}
	if mesh.Rank() != 1 {
		return nil, errors.Errorf("sharded evaluation of %s: mesh %s has %d axes, want one (the batch axis is split along it)",
			e.trained.Model.Name, mesh, mesh.Rank())
	}
	n := mesh.NumDevices()
	if devices == nil {
		devices = make([]compute.DeviceNum, n)
		for i := range devices {
			devices[i] = compute.DeviceNum(i)
		}
	}
	if len(devices) != n {
		return nil, errors.Errorf("sharded evaluation of %s: %d device(s) %v for mesh %s of %d", e.trained.Model.Name, len(devices), devices, mesh, n)
	}
	if available := e.backend.NumDevices(); n > available {
		return nil, errors.Errorf("sharded evaluation of %s on %d devices: backend %s has only %d", e.trained.Model.Name, n, e.backend.Name(), available)
	}
	spec, err := distributed.BuildSpec(mesh).S(mesh.AxesNames()[0]).Done()
	if err != nil {
		return nil, errors.WithMessagef(err, "sharded evaluation of %s: sharding spec of the batch axis over %s", e.trained.Model.Name, mesh)
	}
	e.setShards(&evalShards{spec: spec, devices: append([]compute.DeviceNum(nil), devices...)})
	return e, nil
}

// setShards changes the sharding of e (nil: one device), dropping the compiled graph.
func (e *Evaluator) setShards(shards *evalShards) {
	if e.exec != nil && (shards != nil || e.shards != nil) {
		e.exec.Finalize()
		e.exec = nil
	}
	e.shards = shards
}

// NumDevices returns the number of devices each inference batch is split across (1 unless Sharded).
func (e *Evaluator) NumDevices() int {
	if e.shards == nil {
		return 1
	}
	return len(e.shards.devices)
}

// batchFor returns the number of images per inference call for a set of n images: the batch
// size, or n if smaller, rounded up to a multiple of the devices (on one device: unchanged).
func (e *Evaluator) batchFor(n int) int {
	batch := min(e.batchSize, n)
	if d := e.NumDevices(); d > 1 {
		batch = (batch + d - 1) / d * d
	}
	return batch
}

// WithTTA sets the test-time augmentation (default TTANone): the logits of an image become an
// average of the model's logits over views of it (TTAFlip: the image and its mirror, the flip of
// training-time augmentation; TTAFlipTranslate: also its 1-pixel translations), which usually
// gains some accuracy for TTA.Views times the inference cost.
func (e *Evaluator) WithTTA(t TTA) *Evaluator {
	if t != e.tta && e.exec != nil {
		e.exec.Finalize()
		e.exec = nil
	}
	e.tta = t
	return e
}

// TTA returns the test-time augmentation of e.
func (e *Evaluator) TTA() TTA { return e.tta }

// currentExec returns an exec that reads the current weights (see Evaluator).
func (e *Evaluator) currentExec() (*model.Exec, error) {
	if sh := e.shards; sh != nil {
		if err := e.trained.ReplicateOn(sh.spec.Mesh); err != nil {
			return nil, errors.WithMessagef(err, "sharded evaluation of %s", e.trained.Model.Name)
		}
	}
	if e.exec != nil && !e.backend.Capabilities().PreferConstantsForVariables {
		return e.exec, nil
	}
	if e.exec != nil {
		e.exec.Finalize()
	}
	m := e.trained.Model
	tta := e.tta
	exec, err := model.NewExec(e.backend, e.trained.store, func(scope *model.Scope, images *graph.Node) *graph.Node {
		forward := e.trained.Forward(false)
		return ttaLogits(tta, func(x *graph.Node) *graph.Node { return forward(scope, x) }, images)
	})
	if err != nil {
		return nil, errors.WithMessagef(err, "creating the inference graph of %s", m.Name)
	}
	if sh := e.shards; sh != nil {
		exec.AutoSharding(sh.spec.Mesh).WithInputShardingSpecs(sh.spec).WithOutputShardingSpecs(sh.spec).WithDeviceAssignment(sh.devices)
	}
	e.exec = exec
	return exec, nil
}

// Logits returns the logits [n,numClasses] of images ([n,3,32,32] float32 in [0,1]) as float32
// row-major values, computed with the current weights. When Sharded, n is padded to a multiple of
// the devices and the padding rows' logits are dropped.
func (e *Evaluator) Logits(images *tensors.Tensor) ([]float32, error) {
	exec, err := e.currentExec()
	if err != nil {
		return nil, err
	}
	d := e.NumDevices()
	n := images.Shape().Dimensions[0]
	if d == 1 || n%d == 0 {
		return e.run(exec, images)
	}
	padded, err := padRows(images, (n+d-1)/d*d, e.padValue)
	if err != nil {
		return nil, errors.WithMessagef(err, "padding %d images to a multiple of %d devices", n, d)
	}
	logits, err := e.run(exec, padded)
	if err != nil {
		return nil, err
	}
	return logits[:len(logits)/padded.Shape().Dimensions[0]*n], nil
}

// padRows returns t [n,…] (float32) with rows n…size−1 appended, every value pad.
func padRows(t *tensors.Tensor, size int, pad float32) (*tensors.Tensor, error) {
	dims := t.Shape().Dimensions
	data, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, err
	}
	row := len(data) / dims[0]
	for range (size - dims[0]) * row {
		data = append(data, pad)
	}
	return tensors.FromFlatDataAndDimensions(data, append([]int{size}, dims[1:]...)...), nil
}

// run executes exec on images (their batch split across the devices when Sharded) and copies the
// logits to the host.
func (e *Evaluator) run(exec *model.Exec, images *tensors.Tensor) ([]float32, error) {
	if e.shards != nil {
		return e.runSharded(exec, images)
	}
	outputs, err := exec.Exec(images)
	if err != nil {
		return nil, errors.WithMessagef(err, "inference of %s on %s", e.trained.Model.Name, e.backend.Name())
	}
	defer outputs[0].FinalizeAll()
	return tensors.CopyFlatData[float32](outputs[0])
}

// runSharded executes the sharded exec on images, split along the batch axis, and joins the
// devices' shares of the logits on the host.
func (e *Evaluator) runSharded(exec *model.Exec, images *tensors.Tensor) ([]float32, error) {
	d := len(e.shards.devices)
	in, err := dtensor.ShardTensor(e.shards.spec, images)
	if err != nil {
		return nil, errors.WithMessagef(err, "splitting %s images of %s over %d devices", images.Shape(), e.trained.Model.Name, d)
	}
	defer func() { _ = in.FinalizeAll() }()
	outputs, err := exec.DistributedExec(in)
	if err != nil {
		return nil, errors.WithMessagef(err, "inference of %s on %d devices of %s", e.trained.Model.Name, d, e.backend.Name())
	}
	defer func() {
		for _, o := range outputs {
			_ = o.FinalizeAll()
		}
	}()
	logits, err := outputs[0].Merge()
	if err != nil {
		return nil, errors.WithMessagef(err, "joining the logits of %s from %d devices", e.trained.Model.Name, d)
	}
	defer logits.FinalizeAll()
	return tensors.CopyFlatData[float32](logits)
}

// Evaluation holds the results of a model on a set.
type Evaluation struct {
	// Set is the name of the evaluated set.
	Set string `json:"set"`
	// Loss is the mean cross-entropy.
	Loss float64 `json:"loss"`
	// Accuracy is the fraction of correct top-1 predictions.
	Accuracy float64 `json:"accuracy"`
	// Top5 is the fraction of images whose label is among the 5 highest logits (all of them when
	// the model has 5 classes or fewer).
	Top5 float64 `json:"top5"`
	// Labels and Predictions are the true and predicted classes, in the set's order.
	Labels      []int32 `json:"-"`
	Predictions []int32 `json:"-"`
}

// Evaluate runs the model on every image of s in order and returns the loss, accuracy and
// predictions. The last, partial batch is zero-padded to the batch size so one graph serves all;
// only the logits of the set's images are read.
func (e *Evaluator) Evaluate(s *datasets.Set) (*Evaluation, error) {
	return e.evaluate(s, nil)
}

// evaluate is Evaluate; if logitsOut is not nil, it also receives the logits of every image of s,
// row-major [s.Len(), numClasses] (for the tests).
func (e *Evaluator) evaluate(s *datasets.Set, logitsOut *[]float32) (*Evaluation, error) {
	if s == nil || s.Len() == 0 {
		return nil, errors.New("evaluate: empty set")
	}
	numClasses := e.trained.Model.NumClasses()
	if s.NumClasses() != 0 && s.NumClasses() != numClasses {
		return nil, errors.Errorf("evaluate %s: set has %d classes, model %s has %d outputs", s.Name, s.NumClasses(), e.trained.Model.Name, numClasses)
	}
	exec, err := e.currentExec()
	if err != nil {
		return nil, err
	}
	ev := &Evaluation{Set: s.Name, Labels: append([]int32(nil), s.Labels...), Predictions: make([]int32, s.Len())}
	batch := e.batchFor(s.Len())
	lossSum, correct, top5 := 0.0, 0, 0
	for start := 0; start < s.Len(); start += batch {
		n := min(batch, s.Len()-start)
		logits, err := e.run(exec, imagesTensor(s, start, n, batch, e.padValue))
		if err != nil {
			return nil, err
		}
		if logitsOut != nil {
			*logitsOut = append(*logitsOut, logits[:n*numClasses]...)
		}
		for i := range n {
			row := logits[i*numClasses : (i+1)*numClasses]
			label := s.Labels[start+i]
			pred := argmax(row)
			ev.Predictions[start+i] = int32(pred)
			lossSum += crossEntropy(row, int(label))
			if int32(pred) == label {
				correct++
			}
			if inTopK(row, int(label), 5) {
				top5++
			}
		}
	}
	ev.Loss = lossSum / float64(s.Len())
	ev.Accuracy = float64(correct) / float64(s.Len())
	ev.Top5 = float64(top5) / float64(s.Len())
	if math.IsNaN(ev.Loss) || math.IsInf(ev.Loss, 0) {
		return ev, errors.Errorf("evaluate %s: loss is %g (weights diverged?)", s.Name, ev.Loss)
	}
	return ev, nil
}

// ImagesTensor returns images [start,start+n) of s as a float32 tensor [size,3,32,32] in [0,1]
// (NCHW, as stored); rows n..size-1 are zero padding.
func ImagesTensor(s *datasets.Set, start, n, size int) *tensors.Tensor {
	return imagesTensor(s, start, n, size, 0)
}

// imagesTensor is ImagesTensor with the padding rows filled with pad.
func imagesTensor(s *datasets.Set, start, n, size int, pad float32) *tensors.Tensor {
	const record = datasets.RecordPixels
	data := make([]float32, size*record)
	src := s.Pixels[start*record : (start+n)*record]
	for i, p := range src {
		data[i] = float32(p) / 255
	}
	if pad != 0 {
		for i := len(src); i < len(data); i++ {
			data[i] = pad
		}
	}
	return tensors.FromFlatDataAndDimensions(data, size, 3, 32, 32)
}

// RecordsTensor returns images given as CHW records (3072 bytes each) as a float32 tensor
// [len(records),3,32,32] in [0,1].
func RecordsTensor(records [][]uint8) (*tensors.Tensor, error) {
	const record = datasets.RecordPixels
	data := make([]float32, 0, len(records)*record)
	for i, r := range records {
		if len(r) != record {
			return nil, errors.Errorf("image %d has %d bytes, want %d (3×32×32)", i, len(r), record)
		}
		for _, p := range r {
			data = append(data, float32(p)/255)
		}
	}
	return tensors.FromFlatDataAndDimensions(data, len(records), 3, 32, 32), nil
}

// inTopK reports whether row[label] is among the k largest values of row: fewer than k values are
// larger (ties count in the label's favour, as for argmax's first-index rule they rarely matter).
func inTopK(row []float32, label, k int) bool {
	larger := 0
	for _, v := range row {
		if v > row[label] {
			larger++
		}
	}
	return larger < k
}

// argmax returns the index of the largest value (the first one on ties).
func argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}

// crossEntropy returns -log softmax(row)[label], computed stably in float64.
func crossEntropy(row []float32, label int) float64 {
	return logSumExp(row) - float64(row[label])
}

// logSumExp returns log Σ exp(row) in float64.
func logSumExp(row []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	sum := 0.0
	for _, v := range row {
		sum += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(sum)
}

// Softmax returns the probabilities of a row of logits.
func Softmax(row []float32) []float64 {
	lse := logSumExp(row)
	probs := make([]float64, len(row))
	for i, v := range row {
		probs[i] = math.Exp(float64(v) - lse)
	}
	return probs
}

// Prediction is one ranked class of a prediction.
type Prediction struct {
	// Class is the output index; ClassID the original CIFAR-100 id (-1 if unknown); Name its name.
	Class       int     `json:"class"`
	ClassID     int     `json:"class_id"`
	Name        string  `json:"name"`
	Probability float64 `json:"probability"`
}

// TopK returns the k most probable classes of a row of logits, most probable first, named after m.
func (m *Model) TopK(row []float32, k int) []Prediction {
	probs := Softmax(row)
	order := make([]int, len(probs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
	k = min(k, len(order))
	top := make([]Prediction, k)
	for i, c := range order[:k] {
		id := -1
		if c < len(m.ClassIDs) {
			id = m.ClassIDs[c]
		}
		top[i] = Prediction{Class: c, ClassID: id, Name: m.ClassName(c), Probability: probs[c]}
	}
	return top
}
