package cnn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// ModelScope is the store scope under which the layers' variables live: /model/<layer scope>/weight.
const ModelScope = "model"

// Trained is a Model with its weights, held in a GoMLX model.Store (which also holds the optimizer
// state, the random state and the global step while training).
type Trained struct {
	// Model is the architecture.
	Model *Model
	// Options, if not nil, are the graph rewrites to use; nil means DefaultGraphOptions of the
	// backend the graph runs on.
	Options *GraphOptions
	store   *model.Store
}

// Param is one parameter tensor of a layer in PyTorch layout, as float32.
type Param struct {
	// Shape in PyTorch layout: conv weight [out,in,kh,kw], linear weight [out,in], bias [out].
	Shape []int `json:"shape"`
	// Data holds the values in row-major order.
	Data []float32 `json:"-"`
}

// NewTrained validates m and initialises its parameters and buffers as PyTorch does by default
// (Conv2d and Linear uniform in ±1/√fan_in; BatchNorm2d weight and running variance 1, bias and
// running mean 0), from a generator seeded with seed, on the host: the same seed gives the same
// weights on every backend. The store's random state (Dropout) is seeded with seed too.
func NewTrained(m *Model, seed int64) (*Trained, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	t := &Trained{Model: m, store: model.NewStore()}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x636e6e6c6162)) // "cnnlab"
	err := m.Walk(func(n Node) error {
		for _, ps := range n.Layer.Params() {
			data := make([]float32, ps.Size())
			switch ps.Init {
			case InitFanIn:
				bound := 1 / math.Sqrt(float64(ps.FanIn))
				for j := range data {
					data[j] = float32((2*rng.Float64() - 1) * bound)
				}
			case InitOnes:
				for j := range data {
					data[j] = 1
				}
			case InitZeros:
			default:
				return errors.Errorf("layer %s (%s): parameter %s has unknown initialiser %q", n.Path, n.Layer.Type(), ps.Name, ps.Init)
			}
			if err := t.setParam(n.Path, ps, data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := t.store.SetRNGStateFromSeed(seed); err != nil {
		return nil, errors.WithMessage(err, "seeding the random state")
	}
	return t, nil
}

// Store returns the model.Store holding the weights (and, while training, the optimizer state).
func (t *Trained) Store() *model.Store { return t.store }

// FlatValues returns the values of every parameter and buffer of t, concatenated in the order of
// Model.Walk and of each layer's Params: one slice to compare two trainings value by value.
func (t *Trained) FlatValues() ([]float32, error) {
	var all []float32
	err := t.Model.Walk(func(n Node) error {
		params, err := t.LayerParams(n.Path)
		if err != nil {
			return err
		}
		for _, ps := range n.Layer.Params() {
			all = append(all, params[ps.Name].Data...)
		}
		return nil
	})
	return all, err
}

// NewTrainedEmpty returns a Trained of m with an empty store, for a checkpoint reader to fill;
// call CheckVariables once it has (NewTrained initialises the variables instead).
func NewTrainedEmpty(m *Model) *Trained { return &Trained{Model: m, store: model.NewStore()} }

// variablePath returns the store path of parameter name of the layer at path (see Node.Path).
func variablePath(layerPath, name string) string {
	return model.JoinPath("/", ModelScope, layerPath, name)
}

// setParam creates or overwrites the variable of parameter ps of the layer at path with data.
func (t *Trained) setParam(path string, ps ParamSpec, data []float32) error {
	if len(data) != ps.Size() {
		return errors.Errorf("layer %s: %d values for %s of shape %v", path, len(data), ps.Name, ps.Shape)
	}
	value := tensors.FromFlatDataAndDimensions(append([]float32(nil), data...), ps.Shape...)
	vpath := variablePath(path, ps.Name)
	if v := t.store.GetVariable(vpath); v != nil {
		return errors.WithMessagef(v.SetValue(value), "setting %s", vpath)
	}
	v, err := t.store.CreateVariable(vpath, value)
	if err != nil {
		return errors.WithMessagef(err, "creating %s", vpath)
	}
	v.SetTrainable(!ps.Buffer)
	return nil
}

// findLayer returns the layer at path (see Node.Path).
func (m *Model) findLayer(path string) (Layer, error) {
	var found Layer
	err := m.Walk(func(n Node) error {
		if n.Path == path {
			found = n.Layer
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, errors.Errorf("model %q has no layer %q", m.Name, path)
	}
	return found, nil
}

// LayerParams returns the parameters and buffers of the layer at path (e.g. "01_Conv2d" or
// "05_Residual/body/00_Conv2d") by name, in PyTorch layout, copied to the host.
func (t *Trained) LayerParams(path string) (map[string]*Param, error) {
	l, err := t.Model.findLayer(path)
	if err != nil {
		return nil, err
	}
	params := map[string]*Param{}
	for _, ps := range l.Params() {
		vpath := variablePath(path, ps.Name)
		v := t.store.GetVariable(vpath)
		if v == nil {
			return nil, errors.Errorf("variable %s missing", vpath)
		}
		value, err := v.Value()
		if err != nil {
			return nil, errors.WithMessagef(err, "reading %s", vpath)
		}
		if fmt.Sprint(value.Shape().Dimensions) != fmt.Sprint(ps.Shape) {
			return nil, errors.Errorf("variable %s has shape %v, the model description says %v", vpath, value.Shape().Dimensions, ps.Shape)
		}
		data, err := tensors.CopyFlatData[float32](value)
		if err != nil {
			return nil, errors.WithMessagef(err, "reading %s", vpath)
		}
		params[ps.Name] = &Param{Shape: clone(ps.Shape), Data: data}
	}
	return params, nil
}

// Weights returns the parameters of the model's layer layerIndex (see LayerParams).
func (t *Trained) Weights(layerIndex int) (map[string]*Param, error) {
	if layerIndex < 0 || layerIndex >= len(t.Model.Layers) {
		return nil, errors.Errorf("layer index %d out of range [0,%d)", layerIndex, len(t.Model.Layers))
	}
	return t.LayerParams(LayerScope(layerIndex, t.Model.Layers[layerIndex]))
}

// SetWeights replaces the parameters of the model's layer layerIndex (see SetLayerParams).
func (t *Trained) SetWeights(layerIndex int, params map[string]*Param) error {
	if layerIndex < 0 || layerIndex >= len(t.Model.Layers) {
		return errors.Errorf("layer index %d out of range [0,%d)", layerIndex, len(t.Model.Layers))
	}
	return t.SetLayerParams(LayerScope(layerIndex, t.Model.Layers[layerIndex]), params)
}

// SetLayerParams replaces the parameters and buffers of the layer at path with params (PyTorch
// layout); every one of them must be given with its exact shape.
func (t *Trained) SetLayerParams(path string, params map[string]*Param) error {
	l, err := t.Model.findLayer(path)
	if err != nil {
		return err
	}
	for _, ps := range l.Params() {
		p, found := params[ps.Name]
		if !found || p == nil {
			return errors.Errorf("layer %s: parameter %q missing", path, ps.Name)
		}
		if fmt.Sprint(p.Shape) != fmt.Sprint(ps.Shape) {
			return errors.Errorf("layer %s: parameter %q has shape %v, want %v", path, ps.Name, p.Shape, ps.Shape)
		}
		if err := t.setParam(path, ps, p.Data); err != nil {
			return err
		}
	}
	return nil
}

// CheckVariables verifies that every parameter and buffer of the model is in the store with the
// shape the description gives (a model.json edited by hand fails here, naming the variable).
func (t *Trained) CheckVariables() error {
	return t.Model.Walk(func(n Node) error {
		_, err := t.LayerParams(n.Path)
		return err
	})
}

// graphOptions returns the options in force for graph g.
func (t *Trained) graphOptions(g *graph.Graph) GraphOptions {
	if t.Options != nil {
		return *t.Options
	}
	return DefaultGraphOptionsFor(g.Backend(), t.Model)
}

// Forward returns the model function of t for GoMLX: images ([batch,3,32,32] float32 in [0,1],
// NCHW) → logits [batch,numClasses], reading the variables from the scope's store under /model.
// With training, BatchNorm2d uses batch statistics and Dropout drops, and on XLA's CPU backend the
// batch may run in chunks (GraphOptions.ForwardChunk). It panics on errors (graph building).
func (t *Trained) Forward(training bool) func(scope *model.Scope, images *graph.Node) *graph.Node {
	return func(scope *model.Scope, images *graph.Node) *graph.Node {
		opts := t.graphOptions(images.Graph())
		return t.Model.forwardWith(scope, images, training, opts)
	}
}

// Forward builds the inference graph of m applied to images ([batch,3,32,32] float32 in [0,1],
// NCHW) with the backend's default graph options and returns the logits [batch,numClasses].
func (m *Model) Forward(scope *model.Scope, images *graph.Node) *graph.Node {
	return m.forwardWith(scope, images, false, DefaultGraphOptionsFor(images.Graph().Backend(), m))
}

// forwardWith is the forward graph of m with the given mode and options.
func (m *Model) forwardWith(scope *model.Scope, images *graph.Node, training bool, opts GraphOptions) *graph.Node {
	x := images
	if x.DType() != dtypes.Float32 {
		x = graph.ConvertDType(x, dtypes.Float32)
	}
	if want := append([]int{x.Shape().Dimensions[0]}, m.InputShape[:]...); fmt.Sprint(x.Shape().Dimensions) != fmt.Sprint(want) {
		exceptions.Panicf("model %q: input shape %v, want %v", m.Name, x.Shape().Dimensions, want)
	}
	run := func(x *graph.Node) *graph.Node {
		c := &Context{store: scope.Store(), path: "/" + ModelScope, model: m.Name, Training: training, Options: opts}
		y := applySequence(c, "", m.Layers, x)
		return setLayout(y, c.ChannelsLast, false)
	}
	n := x.Shape().Dimensions[0]
	if training && opts.ForwardChunk > 0 && n > opts.ForwardChunk && m.hasConv() && !m.couplesBatch() {
		return splitBatch(x, (n+opts.ForwardChunk-1)/opts.ForwardChunk, run)
	}
	return run(x)
}

// hasConv reports whether m has a convolution (at any depth).
func (m *Model) hasConv() bool {
	return m.anyLayer(func(l Layer) bool { _, ok := l.(Conv2d); return ok })
}

// couplesBatch reports whether a layer of m couples the images of a training batch (BatchCoupler).
func (m *Model) couplesBatch() bool {
	return m.anyLayer(func(l Layer) bool { b, ok := l.(BatchCoupler); return ok && b.CouplesBatch() })
}

// anyLayer reports whether pred holds for a layer of m at any depth.
func (m *Model) anyLayer(pred func(Layer) bool) bool {
	found := false
	_ = m.Walk(func(n Node) error {
		found = found || pred(n.Layer)
		return nil
	})
	return found
}

// isModelPath reports whether a store path belongs to the model's layers.
func isModelPath(path string) bool {
	return strings.HasPrefix(path, "/"+ModelScope+"/")
}
