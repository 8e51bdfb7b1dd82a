package cnn

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/pkg/errors"
)

// Activations runs the first numLayers layers of t's model on images ([n,3,32,32] float32 in [0,1])
// with the current weights and returns the output values (row-major) and their shape, e.g.
// [n,32,8,8] after the lecture CNN's first convolution (numLayers 2: Normalize, Conv2d). This is how
// the notebooks show feature maps. A fresh graph is compiled on every call, so the values are never
// stale (see Evaluator).
func Activations(b compute.Backend, t *Trained, numLayers int, images *tensors.Tensor) (values []float32, shape []int, err error) {
	m := t.Model
	if numLayers < 1 || numLayers > len(m.Layers) {
		return nil, nil, errors.Errorf("activations of %s: numLayers %d out of range 1..%d", m.Name, numLayers, len(m.Layers))
	}
	prefix := &Model{Name: m.Name, InputShape: m.InputShape, Layers: m.Layers[:numLayers]}
	prefixed := &Trained{Model: prefix, Options: t.Options, store: t.store}
	exec, err := model.NewExec(b, t.store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		return prefixed.Forward(false)(scope, x)
	})
	if err != nil {
		return nil, nil, errors.WithMessagef(err, "creating the graph of the first %d layers of %s", numLayers, m.Name)
	}
	defer exec.Finalize()
	outputs, err := exec.Exec(images)
	if err != nil {
		return nil, nil, errors.WithMessagef(err, "running the first %d layers of %s on %s", numLayers, m.Name, b.Name())
	}
	defer outputs[0].FinalizeAll()
	values, err = tensors.CopyFlatData[float32](outputs[0])
	if err != nil {
		return nil, nil, errors.WithMessagef(err, "copying the activations of %s", m.Name)
	}
	return values, outputs[0].Shape().Dimensions, nil
}
