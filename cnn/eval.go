package cnn

import (
	"math"
	"sort"

	"github.com/cnnlab/cnnlab/datasets"
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
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
type Evaluator struct {
	backend   compute.Backend
	trained   *Trained
	batchSize int
	flipTTA   bool
	exec      *model.Exec
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

// WithFlipTTA turns test-time augmentation on or off: with it, the logits of an image are the mean
// of the model's logits for the image and for its horizontal mirror (the flip of training-time
// augmentation), which usually gains some accuracy for twice the inference cost.
func (e *Evaluator) WithFlipTTA(on bool) *Evaluator {
	if on != e.flipTTA && e.exec != nil {
		e.exec.Finalize()
		e.exec = nil
	}
	e.flipTTA = on
	return e
}

// currentExec returns an exec that reads the current weights (see Evaluator).
func (e *Evaluator) currentExec() (*model.Exec, error) {
	if e.exec != nil && !e.backend.Capabilities().PreferConstantsForVariables {
		return e.exec, nil
	}
	if e.exec != nil {
		e.exec.Finalize()
	}
	m := e.trained.Model
	flip := e.flipTTA
	exec, err := model.NewExec(e.backend, e.trained.store, func(scope *model.Scope, images *graph.Node) *graph.Node {
		forward := e.trained.Forward(false)
		logits := forward(scope, images)
		if flip {
			mirrored := forward(scope, graph.Reverse(images, 3)) // NCHW: axis 3 is the width.
			logits = graph.MulScalar(graph.Add(logits, mirrored), 0.5)
		}
		return logits
	})
	if err != nil {
		return nil, errors.WithMessagef(err, "creating the inference graph of %s", m.Name)
	}
	e.exec = exec
	return exec, nil
}

// Logits returns the logits [n,numClasses] of images ([n,3,32,32] float32 in [0,1]) as float32
// row-major values, computed with the current weights.
func (e *Evaluator) Logits(images *tensors.Tensor) ([]float32, error) {
	exec, err := e.currentExec()
	if err != nil {
		return nil, err
	}
	return e.run(exec, images)
}

// run executes exec on images and copies the logits to the host.
func (e *Evaluator) run(exec *model.Exec, images *tensors.Tensor) ([]float32, error) {
	outputs, err := exec.Exec(images)
	if err != nil {
		return nil, errors.WithMessagef(err, "inference of %s on %s", e.trained.Model.Name, e.backend.Name())
	}
	defer outputs[0].FinalizeAll()
	return tensors.CopyFlatData[float32](outputs[0])
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
// predictions. The last, partial batch is zero-padded to the batch size so one graph serves all.
func (e *Evaluator) Evaluate(s *datasets.Set) (*Evaluation, error) {
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
	batch := min(e.batchSize, s.Len())
	lossSum, correct, top5 := 0.0, 0, 0
	for start := 0; start < s.Len(); start += batch {
		n := min(batch, s.Len()-start)
		logits, err := e.run(exec, ImagesTensor(s, start, n, batch))
		if err != nil {
			return nil, err
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
	const record = datasets.RecordPixels
	data := make([]float32, size*record)
	src := s.Pixels[start*record : (start+n)*record]
	for i, p := range src {
		data[i] = float32(p) / 255
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
