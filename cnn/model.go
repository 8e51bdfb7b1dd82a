package cnn

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/internal/atomicfile"
	"github.com/pkg/errors"
)

// Model describes a sequential network, like the lecture's nn.Sequential: plain exported data from
// which cnnlab builds the GoMLX graph (Forward), prints the summary (Summary) and from which an
// exporter can write ONNX. It is JSON (de)serialisable and saved beside the weights.
type Model struct {
	// Name identifies the architecture ("LectureCNN", "LectureCNNMaxPool", "MLP").
	Name string `json:"name"`
	// InputShape is the shape of one input image, [channels, height, width] (NCHW without N).
	InputShape [3]int `json:"input_shape"`
	// Layers run in order.
	Layers []Layer `json:"-"`
	// ClassIDs maps an output index to the original CIFAR-100 class id (may be empty).
	ClassIDs []int `json:"class_ids,omitempty"`
	// ClassNames maps an output index to a class name (may be empty).
	ClassNames []string `json:"class_names,omitempty"`
}

// Model names accepted by NewModel.
const (
	NameLectureCNN        = "LectureCNN"
	NameLectureCNNMaxPool = "LectureCNNMaxPool"
	NameMLP               = "MLP"
)

// CIFARInput is the shape of a CIFAR image, [3,32,32].
var cifarInput = [3]int{3, 32, 32}

// DefaultMLPHidden is the hidden width of the MLP baseline of the previous lecture.
const DefaultMLPHidden = 512

// LectureCNN returns the lecture's convolutional network for numClasses classes:
// Normalize → Conv2d(3,32,5,stride 4,pad 2) → ReLU → Conv2d(32,64,3,stride 1,pad 1) → ReLU →
// AvgPool2d(4) → Flatten → Linear(256,numClasses).
func LectureCNN(numClasses int) *Model {
	return lectureCNN(NameLectureCNN, AvgPool2d{Kernel: 4}, numClasses)
}

// LectureCNNMaxPool is LectureCNN with MaxPool2d(4) instead of AvgPool2d(4), the slide's
// commented-out alternative.
func LectureCNNMaxPool(numClasses int) *Model {
	return lectureCNN(NameLectureCNNMaxPool, MaxPool2d{Kernel: 4}, numClasses)
}

// lectureCNN builds the lecture's network with the given pooling layer.
func lectureCNN(name string, pool Layer, numClasses int) *Model {
	return &Model{
		Name:       name,
		InputShape: cifarInput,
		Layers: []Layer{
			Normalize{Mean: datasets.LectureMean, Std: datasets.LectureStd},
			Conv2d{In: 3, Out: 32, Kernel: 5, Stride: 4, Padding: 2, PadMode: PadZeros},
			ReLU{},
			Conv2d{In: 32, Out: 64, Kernel: 3, Stride: 1, Padding: 1, PadMode: PadZeros},
			ReLU{},
			pool,
			Flatten{},
			Linear{In: 256, Out: numClasses},
		},
	}
}

// MLP returns the previous lecture's baseline: Normalize → Flatten → Linear(3072,hidden) → ReLU →
// Linear(hidden,numClasses).
func MLP(hidden, numClasses int) *Model {
	return &Model{
		Name:       NameMLP,
		InputShape: cifarInput,
		Layers: []Layer{
			Normalize{Mean: datasets.LectureMean, Std: datasets.LectureStd},
			Flatten{},
			Linear{In: 3 * 32 * 32, Out: hidden},
			ReLU{},
			Linear{In: hidden, Out: numClasses},
		},
	}
}

// NewModel returns the model called name (NameLectureCNN, NameLectureCNNMaxPool or NameMLP, case
// as given, or the short forms "cnn", "cnn-maxpool", "mlp") for numClasses classes.
func NewModel(name string, numClasses int) (*Model, error) {
	if numClasses < 2 {
		return nil, errors.Errorf("model %q: need at least 2 classes, got %d", name, numClasses)
	}
	var m *Model
	switch name {
	case NameLectureCNN, "cnn":
		m = LectureCNN(numClasses)
	case NameLectureCNNMaxPool, "cnn-maxpool":
		m = LectureCNNMaxPool(numClasses)
	case NameMLP, "mlp":
		m = MLP(DefaultMLPHidden, numClasses)
	default:
		return nil, errors.Errorf("unknown model %q: choose cnn (%s), cnn-maxpool (%s) or mlp (%s)",
			name, NameLectureCNN, NameLectureCNNMaxPool, NameMLP)
	}
	return m, m.Validate()
}

// NumClasses returns the size of the model's output (the last layer's output), or 0 if invalid.
func (m *Model) NumClasses() int {
	shapes, err := m.Shapes()
	if err != nil {
		return 0
	}
	out := shapes[len(shapes)-1]
	if len(out) != 1 {
		return 0
	}
	return out[0]
}

// Shapes returns the output shape (without batch) of every layer, in order.
func (m *Model) Shapes() ([][]int, error) {
	if len(m.Layers) == 0 {
		return nil, errors.Errorf("model %q has no layers", m.Name)
	}
	in := m.InputShape[:]
	shapes := make([][]int, len(m.Layers))
	for i, l := range m.Layers {
		if l == nil {
			return nil, errors.Errorf("model %q: layer %d is nil", m.Name, i)
		}
		out, err := l.OutputShape(in)
		if err != nil {
			return nil, errors.WithMessagef(err, "model %q layer %d (%s)", m.Name, i, l.Type())
		}
		shapes[i], in = out, out
	}
	return shapes, nil
}

// Validate checks that the layers chain, that the output is a vector of scores, and that the
// class ids and names (if given) match the number of outputs.
func (m *Model) Validate() error {
	shapes, err := m.Shapes()
	if err != nil {
		return err
	}
	out := shapes[len(shapes)-1]
	if len(out) != 1 {
		return errors.Errorf("model %q: output shape %v is not a vector of class scores", m.Name, out)
	}
	if n := len(m.ClassIDs); n != 0 && n != out[0] {
		return errors.Errorf("model %q: %d class ids for %d outputs", m.Name, n, out[0])
	}
	if n := len(m.ClassNames); n != 0 && n != out[0] {
		return errors.Errorf("model %q: %d class names for %d outputs", m.Name, n, out[0])
	}
	return nil
}

// NumParams returns the total number of parameters of the model.
func (m *Model) NumParams() int {
	total := 0
	for _, l := range m.Layers {
		total += NumParams(l)
	}
	return total
}

// ClassName returns the name of output class i, or its index as text when names are unknown.
func (m *Model) ClassName(i int) string {
	if i >= 0 && i < len(m.ClassNames) {
		return m.ClassNames[i]
	}
	return fmt.Sprint(i)
}

// layerJSON is the serialised form of a layer: its type and its fields.
type layerJSON struct {
	Type   string          `json:"type"`
	Config json.RawMessage `json:"config"`
}

// modelJSON is the serialised form of a Model.
type modelJSON struct {
	modelAlias
	Layers []layerJSON `json:"layers"`
}

// modelAlias has Model's fields without its methods (avoids recursion in MarshalJSON).
type modelAlias Model

// MarshalJSON writes the model with each layer as {"type": "Conv2d", "config": {...}}.
func (m *Model) MarshalJSON() ([]byte, error) {
	out := modelJSON{modelAlias: modelAlias(*m)}
	for i, l := range m.Layers {
		if l == nil {
			return nil, errors.Errorf("model %q: layer %d is nil", m.Name, i)
		}
		config, err := json.Marshal(l)
		if err != nil {
			return nil, errors.Wrapf(err, "model %q: encoding layer %d (%s)", m.Name, i, l.Type())
		}
		out.Layers = append(out.Layers, layerJSON{Type: l.Type(), Config: config})
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a model written by MarshalJSON; unknown layer types are an error.
func (m *Model) UnmarshalJSON(data []byte) error {
	var in modelJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return errors.Wrap(err, "decoding model description")
	}
	*m = Model(in.modelAlias)
	m.Layers = nil
	for i, lj := range in.Layers {
		l, err := decodeLayer(lj)
		if err != nil {
			return errors.WithMessagef(err, "model %q layer %d", m.Name, i)
		}
		m.Layers = append(m.Layers, l)
	}
	return nil
}

// decodeLayer returns the concrete layer of a serialised layer.
func decodeLayer(lj layerJSON) (Layer, error) {
	var l Layer
	switch lj.Type {
	case "Normalize":
		l = &Normalize{}
	case "Conv2d":
		l = &Conv2d{}
	case "ReLU":
		return ReLU{}, nil
	case "AvgPool2d":
		l = &AvgPool2d{}
	case "MaxPool2d":
		l = &MaxPool2d{}
	case "Flatten":
		return Flatten{}, nil
	case "Linear":
		l = &Linear{}
	default:
		return nil, errors.Errorf("unknown layer type %q", lj.Type)
	}
	if err := json.Unmarshal(lj.Config, l); err != nil {
		return nil, errors.Wrapf(err, "decoding %s", lj.Type)
	}
	return derefLayer(l), nil
}

// derefLayer turns a pointer to a layer into the layer value, so models hold values only.
func derefLayer(l Layer) Layer {
	switch v := l.(type) {
	case *Normalize:
		return *v
	case *Conv2d:
		return *v
	case *AvgPool2d:
		return *v
	case *MaxPool2d:
		return *v
	case *Linear:
		return *v
	}
	return l
}

// SaveJSON writes the model description to path (via a temporary file renamed into place).
func (m *Model) SaveJSON(path string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

// LoadModelJSON reads a model description written by SaveJSON and validates it.
func LoadModelJSON(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrap(err, "reading model description")
	}
	m := &Model{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, errors.WithMessagef(err, "model description %q", path)
	}
	if err := m.Validate(); err != nil {
		return nil, errors.WithMessagef(err, "model description %q", path)
	}
	return m, nil
}

// writeFileAtomic writes data to path through a synced temporary file (see atomicfile).
func writeFileAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data) }
