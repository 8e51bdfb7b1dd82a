package cnn

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/pkg/errors"
)

// Layer is one module of a Model, like a torch.nn.Module: it owns its hyper-parameters (its
// exported fields, serialised as JSON), declares its parameters and buffers (Params), builds its
// graph (Apply), knows its output shape, its cost (MACs) and its ONNX nodes (ONNX). Each layer type
// lives in its own file and is registered once in layerTypes (registry.go); every consumer — the
// graph, the summary, JSON, FLOPs, checkpoints, ONNX export — learns it from there. Containers
// (Sequential, Residual) also implement Container.
type Layer interface {
	// Type is the layer's name in PyTorch ("Conv2d", "BatchNorm2d", ...), used in summaries and JSON.
	Type() string
	// OutputShape returns the layer's output shape (without the batch axis) for the given input
	// shape, or an error naming the layer when the input does not fit.
	OutputShape(in []int) ([]int, error)
	// Params returns the layer's own parameters and buffers in PyTorch layout, in initialisation
	// order; nil for layers without any (containers return nil: their children own theirs).
	Params() []ParamSpec
	// Layout tells the graph builder which memory layout the layer's input must have.
	Layout() Layout
	// Apply builds the layer's graph on x (layout given by c.ChannelsLast) and returns its output.
	// It is a graph-building function: it panics on errors, as GoMLX operations do.
	Apply(c *Context, x *graph.Node) *graph.Node
	// MACs returns the multiply-accumulates of the forward pass for one image with input shape in
	// and output shape out (0 for element-wise layers; containers: their own work only).
	MACs(in, out []int) int64
	// ONNX emits the layer's ONNX nodes (opset 17, NCHW) applied to the value named x and returns
	// the name of the output value.
	ONNX(e ONNXEmitter, x string) (string, error)
}

// Layout is what a layer requires of its input's memory layout (rank-4 inputs only).
type Layout int

const (
	// LayoutAny layers are element-wise or per-channel and work in whatever layout they get
	// (Normalize, ReLU, GELU, Dropout, Scale, BatchNorm2d, containers).
	LayoutAny Layout = iota
	// LayoutSpatial layers (convolutions, pooling) work in both layouts and run faster in
	// channels-last (NHWC) when GraphOptions.ChannelsLast is set.
	LayoutSpatial
	// LayoutNCHW layers need PyTorch's NCHW order (Flatten, Linear).
	LayoutNCHW
)

// Container is a layer made of other layers (Sequential, Residual). Children returns its
// sub-layers with the scope names their variables live under and their input and output shapes,
// for an input of shape in.
type Container interface {
	Layer
	Children(in []int) ([]Child, error)
}

// Child is a sub-layer of a Container.
type Child struct {
	// Scope is the child's scope relative to its container, e.g. "body/00_Conv2d".
	Scope string
	// Layer is the child.
	Layer Layer
	// In and Out are the child's input and output shapes (without the batch axis).
	In, Out []int
}

// BatchCoupler is implemented by layers whose output for one image depends on the other images of
// the batch while training (BatchNorm2d uses the batch's statistics). Graph rewrites that split a
// training batch into chunks are not applied to models with such a layer.
type BatchCoupler interface {
	CouplesBatch() bool
}

// Init is how a parameter or buffer is initialised by NewTrained.
type Init string

// Initialisers.
const (
	// InitFanIn is PyTorch's default for Conv2d and Linear: uniform in ±1/√fan_in.
	InitFanIn Init = "fan_in_uniform"
	// InitOnes fills with 1 (BatchNorm2d weight and running variance).
	InitOnes Init = "ones"
	// InitZeros fills with 0 (BatchNorm2d bias and running mean).
	InitZeros Init = "zeros"
)

// ParamSpec declares one parameter or buffer of a layer.
type ParamSpec struct {
	// Name is the name in PyTorch's state_dict ("weight", "bias", "running_mean", ...).
	Name string
	// Shape is the PyTorch shape: conv weight [out,in,kh,kw], linear weight [out,in], bias [out].
	Shape []int
	// FanIn is the number of inputs of one output unit, used by InitFanIn.
	FanIn int
	// Init is the initialiser.
	Init Init
	// Buffer marks state that is not trained by gradients (BatchNorm2d's running statistics): saved
	// in checkpoints and ONNX, counted as non-trainable.
	Buffer bool
}

// ParamShape is the former name of ParamSpec.
type ParamShape = ParamSpec

// Size returns the number of values of the parameter.
func (p ParamSpec) Size() int {
	return product(p.Shape)
}

// NumParams returns the number of parameters and buffers a layer owns itself (not its children).
func NumParams(l Layer) int {
	total := 0
	for _, p := range l.Params() {
		total += p.Size()
	}
	return total
}

// LayerScope returns the scope name of layer i of a sequence, e.g. "01_Conv2d".
func LayerScope(i int, l Layer) string {
	return fmt.Sprintf("%02d_%s", i, l.Type())
}

// sequenceChildren lists the layers of a sequence as children under prefix ("" or "body/").
func sequenceChildren(prefix string, layers []Layer, in []int) ([]Child, []int, error) {
	children := make([]Child, 0, len(layers))
	for i, l := range layers {
		if l == nil {
			return nil, nil, errors.Errorf("layer %d is nil", i)
		}
		out, err := l.OutputShape(in)
		if err != nil {
			return nil, nil, errors.WithMessagef(err, "layer %s%d (%s)", prefix, i, l.Type())
		}
		children = append(children, Child{Scope: prefix + LayerScope(i, l), Layer: l, In: clone(in), Out: out})
		in = out
	}
	return children, in, nil
}

// Node is one layer of a model visited by Model.Walk.
type Node struct {
	// Path is the layer's scope below the model, e.g. "05_Residual/body/00_Conv2d".
	Path string
	// Layer is the layer.
	Layer Layer
	// In and Out are its input and output shapes (without the batch axis).
	In, Out []int
	// Depth is 0 for the model's own layers, 1 inside a container, and so on.
	Depth int
}

// Walk visits every layer of m, depth first: the children of a container before the container
// itself (the order in which torchsummary lists modules). An error from fn stops the walk.
func (m *Model) Walk(fn func(n Node) error) error {
	children, _, err := sequenceChildren("", m.Layers, m.InputShape[:])
	if err != nil {
		return errors.WithMessagef(err, "model %q", m.Name)
	}
	return walkChildren("", 0, children, fn)
}

// walkChildren visits children (and their descendants) under prefix.
func walkChildren(prefix string, depth int, children []Child, fn func(n Node) error) error {
	for _, c := range children {
		path := prefix + c.Scope
		if cont, ok := c.Layer.(Container); ok {
			sub, err := cont.Children(c.In)
			if err != nil {
				return errors.WithMessagef(err, "layer %s (%s)", path, c.Layer.Type())
			}
			if err := walkChildren(path+"/", depth+1, sub, fn); err != nil {
				return err
			}
		}
		if err := fn(Node{Path: path, Layer: c.Layer, In: c.In, Out: c.Out, Depth: depth}); err != nil {
			return err
		}
	}
	return nil
}

// layerJSON is the serialised form of a layer: its type and its fields.
type layerJSON struct {
	Type   string          `json:"type"`
	Config json.RawMessage `json:"config"`
}

// encodeLayers serialises layers as {"type": "Conv2d", "config": {...}} objects.
func encodeLayers(layers []Layer) ([]layerJSON, error) {
	out := make([]layerJSON, 0, len(layers))
	for i, l := range layers {
		if l == nil {
			return nil, errors.Errorf("layer %d is nil", i)
		}
		if _, ok := layerTypes[l.Type()]; !ok {
			return nil, errors.Errorf("layer %d: type %s (%T) is not registered (see registry.go)", i, l.Type(), l)
		}
		config, err := json.Marshal(l)
		if err != nil {
			return nil, errors.Wrapf(err, "encoding layer %d (%s)", i, l.Type())
		}
		out = append(out, layerJSON{Type: l.Type(), Config: config})
	}
	return out, nil
}

// decodeLayers reads layers written by encodeLayers.
func decodeLayers(in []layerJSON) ([]Layer, error) {
	layers := make([]Layer, 0, len(in))
	for i, lj := range in {
		l, err := decodeLayer(lj)
		if err != nil {
			return nil, errors.WithMessagef(err, "layer %d", i)
		}
		layers = append(layers, l)
	}
	return layers, nil
}

// decodeLayer returns the layer value of a serialised layer, from the registry.
func decodeLayer(lj layerJSON) (Layer, error) {
	newLayer, ok := layerTypes[lj.Type]
	if !ok {
		return nil, errors.Errorf("unknown layer type %q (known: %v)", lj.Type, LayerTypes())
	}
	ptr := newLayer()
	if len(lj.Config) > 0 && string(lj.Config) != "null" {
		if err := json.Unmarshal(lj.Config, ptr); err != nil {
			return nil, errors.Wrapf(err, "decoding %s", lj.Type)
		}
	}
	return reflect.ValueOf(ptr).Elem().Interface().(Layer), nil
}

// LayerTypes returns the registered layer type names, sorted.
func LayerTypes() []string {
	names := make([]string, 0, len(layerTypes))
	for name := range layerTypes {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// product returns the product of dims (1 for none).
func product(dims []int) int {
	p := 1
	for _, d := range dims {
		p *= d
	}
	return p
}

// clone returns a copy of dims.
func clone(dims []int) []int {
	return append([]int(nil), dims...)
}

// spatialAxes returns the height and width axes of a rank-4 batch in the given layout.
func spatialAxes(channelsLast bool) (int, int) {
	if channelsLast {
		return 1, 2
	}
	return 2, 3
}

// channelAxis returns the channel axis of a rank-4 batch in the given layout.
func channelAxis(channelsLast bool) int {
	if channelsLast {
		return 3
	}
	return 1
}

// needCHW returns an error unless in is [C,H,W] (with C = channels when channels > 0).
func needCHW(name string, channels int, in []int) error {
	if len(in) != 3 || (channels > 0 && in[0] != channels) {
		want := "[C,H,W]"
		if channels > 0 {
			want = fmt.Sprintf("[%d,H,W]", channels)
		}
		return errors.Errorf("%s needs a %s input, got %v", name, want, in)
	}
	return nil
}
