package cnn

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/pkg/errors"
)

// RunLayer applies one layer, with the given parameters and buffers (PyTorch layout, by name; every
// one the layer declares), to a batch x (NCHW for images) on backend b, through the same graph code
// a model trains with — its Apply, with the backend's default graph options (the layout
// conversions of a model included). With training, BatchNorm2d uses the batch statistics and
// Dropout drops (seeded by seed). It returns the output and the layer's parameters and buffers
// after the call (BatchNorm2d's running statistics updated when training).
func RunLayer(b compute.Backend, l Layer, x *tensors.Tensor, params map[string]*Param, training bool, seed int64) (*tensors.Tensor, map[string]*Param, error) {
	if l == nil {
		return nil, nil, errors.New("RunLayer: no layer")
	}
	dims := x.Shape().Dimensions
	if len(dims) < 2 {
		return nil, nil, errors.Errorf("RunLayer %s: input shape %v has no batch axis", l.Type(), dims)
	}
	if _, err := l.OutputShape(dims[1:]); err != nil {
		return nil, nil, errors.WithMessagef(err, "RunLayer %s", l.Type())
	}
	path := LayerScope(0, l)
	store := model.NewStore()
	t := &Trained{Model: &Model{Name: "RunLayer(" + l.Type() + ")"}, store: store}
	for _, ps := range l.Params() {
		p, ok := params[ps.Name]
		if !ok || p == nil {
			return nil, nil, errors.Errorf("RunLayer %s: parameter %q missing", l.Type(), ps.Name)
		}
		if fmt.Sprint(p.Shape) != fmt.Sprint(ps.Shape) {
			return nil, nil, errors.Errorf("RunLayer %s: parameter %q has shape %v, want %v", l.Type(), ps.Name, p.Shape, ps.Shape)
		}
		if err := t.setParam(path, ps, p.Data); err != nil {
			return nil, nil, err
		}
	}
	if err := store.SetRNGStateFromSeed(seed); err != nil {
		return nil, nil, err
	}
	exec, err := model.NewExec(b, store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		opts := DefaultGraphOptions(x.Graph().Backend())
		c := &Context{store: scope.Store(), path: "/" + ModelScope, model: t.Model.Name, Training: training, Options: opts}
		y := applySequence(c, "", []Layer{l}, x)
		return setLayout(y, c.ChannelsLast, false)
	})
	if err != nil {
		return nil, nil, errors.WithMessagef(err, "RunLayer %s: building the graph", l.Type())
	}
	defer exec.Finalize()
	outs, err := exec.Exec(x)
	if err != nil {
		return nil, nil, errors.WithMessagef(err, "RunLayer %s on %s", l.Type(), b.Name())
	}
	after := map[string]*Param{}
	for _, ps := range l.Params() {
		v := store.GetVariable(variablePath(path, ps.Name))
		value, err := v.Value()
		if err != nil {
			return nil, nil, err
		}
		data, err := tensors.CopyFlatData[float32](value)
		if err != nil {
			return nil, nil, err
		}
		after[ps.Name] = &Param{Shape: clone(ps.Shape), Data: data}
	}
	return outs[0], after, nil
}
