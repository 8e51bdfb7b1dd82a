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
	err = m.Walk(func(n Node) error {
		if _, ok := layerTypes[n.Layer.Type()]; !ok {
			return errors.Errorf("model %q: layer %s: type %s (%T) is not registered (see cnn/registry.go)", m.Name, n.Path, n.Layer.Type(), n.Layer)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n := len(m.ClassIDs); n != 0 && n != out[0] {
		return errors.Errorf("model %q: %d class ids for %d outputs", m.Name, n, out[0])
	}
	if n := len(m.ClassNames); n != 0 && n != out[0] {
		return errors.Errorf("model %q: %d class names for %d outputs", m.Name, n, out[0])
	}
	return nil
}

// NumParams returns the total number of parameters and buffers of the model.
func (m *Model) NumParams() int {
	trainable, buffers := m.ParamCounts()
	return trainable + buffers
}

// ParamCounts returns the numbers of trainable parameters and of non-trainable values (buffers
// such as BatchNorm2d's running statistics) of the model, at any depth.
func (m *Model) ParamCounts() (trainable, buffers int) {
	_ = m.Walk(func(n Node) error {
		for _, p := range n.Layer.Params() {
			if p.Buffer {
				buffers += p.Size()
			} else {
				trainable += p.Size()
			}
		}
		return nil
	})
	return trainable, buffers
}

// ClassName returns the name of output class i, or its index as text when names are unknown.
func (m *Model) ClassName(i int) string {
	if i >= 0 && i < len(m.ClassNames) {
		return m.ClassNames[i]
	}
	return fmt.Sprint(i)
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
	layers, err := encodeLayers(m.Layers)
	if err != nil {
		return nil, errors.WithMessagef(err, "model %q", m.Name)
	}
	return json.Marshal(modelJSON{modelAlias: modelAlias(*m), Layers: layers})
}

// UnmarshalJSON reads a model written by MarshalJSON; unknown layer types are an error.
func (m *Model) UnmarshalJSON(data []byte) error {
	var in modelJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return errors.Wrap(err, "decoding model description")
	}
	*m = Model(in.modelAlias)
	layers, err := decodeLayers(in.Layers)
	if err != nil {
		return errors.WithMessagef(err, "model %q", m.Name)
	}
	m.Layers = layers
	return nil
}

// SaveJSON writes the model description to path (via a temporary file renamed into place).
func (m *Model) SaveJSON(path string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'))
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
