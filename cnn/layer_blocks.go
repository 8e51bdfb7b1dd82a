package cnn

import (
	"encoding/json"
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/pkg/errors"
)

// Sequential runs its layers in order, like torch.nn.Sequential; it nests in other blocks.
type Sequential struct {
	Layers []Layer `json:"-"`
}

// Type implements Layer.
func (Sequential) Type() string { return "Sequential" }

// Children implements Container.
func (s Sequential) Children(in []int) ([]Child, error) {
	children, _, err := sequenceChildren("", s.Layers, in)
	return children, err
}

// OutputShape implements Layer.
func (s Sequential) OutputShape(in []int) ([]int, error) {
	if len(s.Layers) == 0 {
		return nil, errors.New("Sequential has no layers")
	}
	_, out, err := sequenceChildren("", s.Layers, in)
	return out, err
}

// Params implements Layer: the children own the parameters.
func (Sequential) Params() []ParamSpec { return nil }

// Layout implements Layer.
func (Sequential) Layout() Layout { return LayoutAny }

// MACs implements Layer: the children's work is counted on them.
func (Sequential) MACs(_, _ []int) int64 { return 0 }

// Apply implements Layer.
func (s Sequential) Apply(c *Context, x *graph.Node) *graph.Node {
	return applySequence(c, "", s.Layers, x)
}

// ONNX implements Layer.
func (s Sequential) ONNX(e ONNXEmitter, x string) (string, error) {
	return onnxSequence(e, "", s.Layers, x)
}

// MarshalJSON writes {"layers": [...]}.
func (s Sequential) MarshalJSON() ([]byte, error) {
	layers, err := encodeLayers(s.Layers)
	if err != nil {
		return nil, errors.WithMessage(err, "Sequential")
	}
	return json.Marshal(struct {
		Layers []layerJSON `json:"layers"`
	}{layers})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Sequential) UnmarshalJSON(data []byte) error {
	var in struct {
		Layers []layerJSON `json:"layers"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return errors.Wrap(err, "decoding Sequential")
	}
	layers, err := decodeLayers(in.Layers)
	if err != nil {
		return errors.WithMessage(err, "Sequential")
	}
	s.Layers = layers
	return nil
}

// Residual adds its Body's output to its input, or to its Shortcut's output when a Shortcut is
// given (the projection of a ResNet block, e.g. a 1×1 Conv2d with stride and a BatchNorm2d):
// y = Body(x) + Shortcut(x). The activation after the sum is the next layer's.
type Residual struct {
	Body     []Layer `json:"-"`
	Shortcut []Layer `json:"-"`
}

// Type implements Layer.
func (Residual) Type() string { return "Residual" }

// Children implements Container: "body/NN_Type" and "shortcut/NN_Type".
func (r Residual) Children(in []int) ([]Child, error) {
	body, _, err := sequenceChildren("body/", r.Body, in)
	if err != nil {
		return nil, errors.WithMessage(err, "Residual body")
	}
	short, _, err := sequenceChildren("shortcut/", r.Shortcut, in)
	if err != nil {
		return nil, errors.WithMessage(err, "Residual shortcut")
	}
	return append(body, short...), nil
}

// OutputShape implements Layer: the body's and the shortcut's outputs must match.
func (r Residual) OutputShape(in []int) ([]int, error) {
	if len(r.Body) == 0 {
		return nil, errors.New("Residual has no body")
	}
	_, out, err := sequenceChildren("body/", r.Body, in)
	if err != nil {
		return nil, errors.WithMessage(err, "Residual body")
	}
	_, short, err := sequenceChildren("shortcut/", r.Shortcut, in)
	if err != nil {
		return nil, errors.WithMessage(err, "Residual shortcut")
	}
	if fmt.Sprint(out) != fmt.Sprint(short) {
		return nil, errors.Errorf("Residual: body output %v and shortcut output %v differ (add a projection shortcut)", out, short)
	}
	return out, nil
}

// Params implements Layer.
func (Residual) Params() []ParamSpec { return nil }

// Layout implements Layer.
func (Residual) Layout() Layout { return LayoutAny }

// MACs implements Layer.
func (Residual) MACs(_, _ []int) int64 { return 0 }

// Apply implements Layer: both branches start in the input's layout; the shortcut's output is
// brought to the body's layout before the sum.
func (r Residual) Apply(c *Context, x *graph.Node) *graph.Node {
	layout := c.ChannelsLast
	body := *c
	y := applySequence(&body, "body/", r.Body, x)
	short := *c
	short.ChannelsLast = layout
	s := applySequence(&short, "shortcut/", r.Shortcut, x)
	s = setLayout(s, short.ChannelsLast, body.ChannelsLast)
	c.ChannelsLast = body.ChannelsLast
	return graph.Add(y, s)
}

// ONNX implements Layer: the branches, then Add.
func (r Residual) ONNX(e ONNXEmitter, x string) (string, error) {
	y, err := onnxSequence(e, "body/", r.Body, x)
	if err != nil {
		return "", err
	}
	s, err := onnxSequence(e, "shortcut/", r.Shortcut, x)
	if err != nil {
		return "", err
	}
	return e.Node("Add", []string{y, s}), nil
}

// MarshalJSON writes {"body": [...], "shortcut": [...]}.
func (r Residual) MarshalJSON() ([]byte, error) {
	body, err := encodeLayers(r.Body)
	if err != nil {
		return nil, errors.WithMessage(err, "Residual body")
	}
	short, err := encodeLayers(r.Shortcut)
	if err != nil {
		return nil, errors.WithMessage(err, "Residual shortcut")
	}
	return json.Marshal(struct {
		Body     []layerJSON `json:"body"`
		Shortcut []layerJSON `json:"shortcut"`
	}{body, short})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Residual) UnmarshalJSON(data []byte) error {
	var in struct {
		Body     []layerJSON `json:"body"`
		Shortcut []layerJSON `json:"shortcut"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return errors.Wrap(err, "decoding Residual")
	}
	var err error
	if r.Body, err = decodeLayers(in.Body); err != nil {
		return errors.WithMessage(err, "Residual body")
	}
	if r.Shortcut, err = decodeLayers(in.Shortcut); err != nil {
		return errors.WithMessage(err, "Residual shortcut")
	}
	if len(r.Shortcut) == 0 {
		r.Shortcut = nil
	}
	return nil
}

// onnxSequence emits layers in order under prefix.
func onnxSequence(e ONNXEmitter, prefix string, layers []Layer, x string) (string, error) {
	for i, l := range layers {
		var err error
		scope := prefix + LayerScope(i, l)
		if x, err = l.ONNX(e.In(scope), x); err != nil {
			return "", errors.WithMessagef(err, "layer %s (%s)", scope, l.Type())
		}
	}
	return x, nil
}
