package onnxexport

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/internal/atomicfile"
	"github.com/cnnlab/cnnlab/training"
	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/pkg/errors"
	"google.golang.org/protobuf/proto"
)

// Format constants of the exported files.
const (
	// Opset is the version of the default ONNX operator set the files import. 17 is what
	// torch.onnx.export used by default until PyTorch 2.5, and what current ONNX Runtime (native
	// and web) runs.
	Opset = 17
	// IRVersion is the ONNX IR version of the files (IR 8 goes with opsets up to 18).
	IRVersion = 8
	// InputName is the graph input: images [N,3,H,W] float32 RGB in [0,1], NCHW.
	InputName = "images"
	// OutputName is the graph output: logits [N,classes] (no softmax).
	OutputName = "logits"
	// BatchDim is the name of the dynamic batch axis of the input and output.
	BatchDim = "N"
	// ProducerName is written in the files' producer_name.
	ProducerName = "cnnlab"
)

// Keys of the metadata_props of an exported file. Lists are comma-separated numbers, except the
// class names, a JSON array of strings (names may contain commas).
const (
	MetaModel       = "cnnlab.model"       // architecture name, e.g. "LectureCNN"
	MetaClassIDs    = "cnnlab.class_ids"   // CIFAR-100 id of each output, e.g. "0,55,58"
	MetaClassNames  = "cnnlab.class_names" // JSON array, e.g. ["apple","otter","pickup_truck"]
	MetaMean        = "cnnlab.normalize_mean"
	MetaStd         = "cnnlab.normalize_std"
	MetaInput       = "cnnlab.input"          // human description of the input
	MetaTrainSteps  = "cnnlab.training_steps" // global step of the saved model (ExportDir only)
	MetaNumParams   = "cnnlab.num_params"
	MetaInputHeight = "cnnlab.input_height"
	MetaInputWidth  = "cnnlab.input_width"
)

// ErrUntrained is returned (wrapped) when a model has no weights to export: a cnn.Trained without
// a weight store, or a saved model directory whose checkpoint records zero training steps (unless
// Options.AllowUntrained).
var ErrUntrained = errors.New("model is untrained")

// Options configure an export. The zero value is fine.
type Options struct {
	// AllowUntrained lets ExportDir export a saved model that has not been trained (zero steps),
	// e.g. to compare initial weights; Export never checks the training steps.
	AllowUntrained bool
	// ProducerVersion is written in producer_version (e.g. the cnnlab version); empty is allowed.
	ProducerVersion string
	// Metadata adds entries to metadata_props (after the cnnlab.* entries, which it cannot override).
	Metadata map[string]string
}

// weightsFunc returns the parameters and buffers of the layer at a path (cnn.Trained.LayerParams).
type weightsFunc func(path string) (map[string]*cnn.Param, error)

// Build returns the ONNX model of t: its layers as standard ONNX operators and its current weights
// as initializers. It fails with an error naming the layer for a layer type without an ONNX
// mapping, with ErrUntrained when t holds no weights, and when a weight is NaN or infinite.
func Build(t *cnn.Trained, opts Options) (*protos.ModelProto, error) {
	if t == nil || t.Model == nil {
		return nil, errors.Wrap(ErrUntrained, "export: no model given")
	}
	if t.Store() == nil {
		return nil, errors.Wrapf(ErrUntrained, "export of %s: no weights (create it with cnn.NewTrained or training.LoadModel)", t.Model.Name)
	}
	if err := t.Model.Validate(); err != nil {
		return nil, errors.WithMessagef(err, "export of %s", t.Model.Name)
	}
	return build(t.Model, t.LayerParams, opts)
}

// build emits the graph of m, reading the parameters through weights. m is assumed valid, except
// that build itself rejects what it cannot express.
func build(m *cnn.Model, weights weightsFunc, opts Options) (*protos.ModelProto, error) {
	if len(m.Layers) == 0 {
		return nil, errors.Errorf("export of %s: model has no layers", m.Name)
	}
	if err := m.Validate(); err != nil {
		return nil, errors.WithMessagef(err, "export of %s", m.Name)
	}
	numClasses := m.NumClasses()
	b := &graphBuilder{graph: &protos.GraphProto{Name: m.Name}, weights: weights, names: map[string]int{}}
	x := InputName
	var normalize *cnn.Normalize
	for i, l := range m.Layers {
		var err error
		scope := cnn.LayerScope(i, l)
		x, err = l.ONNX(b.in(scope), x)
		if err != nil {
			return nil, errors.WithMessagef(err, "export of %s, layer %s (%s)", m.Name, scope, l.Type())
		}
		if n, ok := l.(cnn.Normalize); ok && normalize == nil {
			normalize = &n
		}
	}
	if x == InputName || len(b.graph.Node) == 0 {
		return nil, errors.Errorf("export of %s: the model computes nothing in inference", m.Name)
	}
	b.rename(x, OutputName)
	c, h, w := m.InputShape[0], m.InputShape[1], m.InputShape[2]
	b.graph.Input = []*protos.ValueInfoProto{tensorInfo(InputName, BatchDim, c, h, w)}
	b.graph.Output = []*protos.ValueInfoProto{tensorInfo(OutputName, BatchDim, numClasses)}
	b.graph.DocString = fmt.Sprintf("%s exported by cnnlab: input %s [N,%d,%d,%d] float32 RGB in [0,1] (NCHW), output %s [N,%d] (logits).",
		m.Name, InputName, c, h, w, OutputName, numClasses)

	model := &protos.ModelProto{
		IrVersion:       IRVersion,
		OpsetImport:     []*protos.OperatorSetIdProto{{Domain: "", Version: Opset}},
		ProducerName:    ProducerName,
		ProducerVersion: opts.ProducerVersion,
		DocString:       "cnnlab: the lecture \"Сверточные нейронные сети\" on CIFAR-100, with GoMLX.",
		Graph:           b.graph,
	}
	meta, err := metadata(m, normalize, opts.Metadata)
	if err != nil {
		return nil, err
	}
	model.MetadataProps = meta
	return model, nil
}

// metadata returns the metadata_props of m: the cnnlab.* entries, then extra in key order.
func metadata(m *cnn.Model, normalize *cnn.Normalize, extra map[string]string) ([]*protos.StringStringEntryProto, error) {
	var props []*protos.StringStringEntryProto
	add := func(k, v string) { props = append(props, &protos.StringStringEntryProto{Key: k, Value: v}) }
	add(MetaModel, m.Name)
	add(MetaInput, fmt.Sprintf("%s: float32 [N,%d,%d,%d] RGB in [0,1], NCHW", InputName, m.InputShape[0], m.InputShape[1], m.InputShape[2]))
	add(MetaInputHeight, strconv.Itoa(m.InputShape[1]))
	add(MetaInputWidth, strconv.Itoa(m.InputShape[2]))
	add(MetaNumParams, strconv.Itoa(m.NumParams()))
	if len(m.ClassIDs) > 0 {
		ids := make([]string, len(m.ClassIDs))
		for i, id := range m.ClassIDs {
			ids[i] = strconv.Itoa(id)
		}
		add(MetaClassIDs, strings.Join(ids, ","))
	}
	if len(m.ClassNames) > 0 {
		names, err := json.Marshal(m.ClassNames)
		if err != nil {
			return nil, errors.Wrapf(err, "export of %s: encoding class names", m.Name)
		}
		add(MetaClassNames, string(names))
	}
	if normalize != nil {
		add(MetaMean, joinFloats(normalize.Mean[:]))
		add(MetaStd, joinFloats(normalize.Std[:]))
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		for _, p := range props {
			if p.Key == k {
				return nil, errors.Errorf("export of %s: metadata key %q is reserved", m.Name, k)
			}
		}
		add(k, extra[k])
	}
	return props, nil
}

// joinFloats formats values as a comma-separated list with the shortest float32 representation.
func joinFloats(values []float32) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = strconv.FormatFloat(float64(v), 'g', -1, 32)
	}
	return strings.Join(s, ",")
}

// sortStrings sorts s in place (insertion sort: metadata maps are tiny).
func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// graphBuilder accumulates the nodes and initializers of the ONNX graph.
type graphBuilder struct {
	graph   *protos.GraphProto
	weights weightsFunc
	names   map[string]int // Uses of each node name, to keep them unique.
}

// emitter is a cnn.ONNXEmitter writing the nodes of the layer at path into b.
type emitter struct {
	b      *graphBuilder
	path   string
	params map[string]*cnn.Param // Loaded on first use.
}

// in returns the emitter of the model's layer at scope.
func (b *graphBuilder) in(scope string) *emitter { return &emitter{b: b, path: scope} }

// In implements cnn.ONNXEmitter.
func (e *emitter) In(scope string) cnn.ONNXEmitter {
	return &emitter{b: e.b, path: e.path + "/" + scope}
}

// Node implements cnn.ONNXEmitter: the node is named "/<path>/<op>" (with a suffix when repeated).
func (e *emitter) Node(op string, inputs []string, attrs ...cnn.ONNXAttr) string {
	name := "/" + e.path + "/" + op
	if n := e.b.names[name]; n > 0 {
		e.b.names[name] = n + 1
		name = fmt.Sprintf("%s_%d", name, n)
	} else {
		e.b.names[name] = 1
	}
	out := name + "_output_0"
	protoAttrs := make([]*protos.AttributeProto, len(attrs))
	for i, a := range attrs {
		protoAttrs[i] = attrProto(a)
	}
	e.b.graph.Node = append(e.b.graph.Node, &protos.NodeProto{
		Name: name, OpType: op, Input: inputs, Output: []string{out}, Attribute: protoAttrs,
	})
	return out
}

// Const implements cnn.ONNXEmitter.
func (e *emitter) Const(name string, data []float32, dims ...int) string {
	return e.b.floatInit(e.path+"."+name, data, dims...)
}

// Int64s implements cnn.ONNXEmitter.
func (e *emitter) Int64s(name string, data []int64) string {
	return e.b.int64Init(e.path+"."+name, data)
}

// Param implements cnn.ONNXEmitter: the layer's trained values, checked to be finite.
func (e *emitter) Param(name string) (string, error) {
	if e.params == nil {
		params, err := e.b.weights(e.path)
		if err != nil {
			return "", err
		}
		e.params = params
	}
	p, ok := e.params[name]
	if !ok || p == nil {
		return "", errors.Errorf("parameter %q missing", name)
	}
	if len(p.Data) != product(p.Shape) {
		return "", errors.Errorf("parameter %q has shape %v but %d values", name, p.Shape, len(p.Data))
	}
	for j, v := range p.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return "", errors.Errorf("parameter %q holds %g at index %d (training diverged?)", name, v, j)
		}
	}
	return e.b.floatInit(e.path+"."+name, p.Data, p.Shape...), nil
}

// rename makes the node that outputs value from write to name instead (the graph's output).
func (b *graphBuilder) rename(value, name string) {
	for _, n := range b.graph.Node {
		for i, out := range n.Output {
			if out == value {
				n.Output[i] = name
			}
		}
		for i, in := range n.Input {
			if in == value {
				n.Input[i] = name
			}
		}
	}
}

// attrProto converts a cnn.ONNXAttr.
func attrProto(a cnn.ONNXAttr) *protos.AttributeProto {
	switch a.Kind {
	case "int":
		return attrInt(a.Name, a.Int)
	case "ints":
		return attrInts(a.Name, a.Ints...)
	case "float":
		return attrFloat(a.Name, a.Float)
	}
	return attrString(a.Name, a.String)
}

// floatInit adds a float32 initializer and returns its name.
func (b *graphBuilder) floatInit(name string, data []float32, dims ...int) string {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	b.graph.Initializer = append(b.graph.Initializer, &protos.TensorProto{
		Name: name, Dims: int64s(dims), DataType: int32(protos.TensorProto_FLOAT), RawData: raw,
	})
	return name
}

// int64Init adds a 1-D int64 initializer and returns its name.
func (b *graphBuilder) int64Init(name string, data []int64) string {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	b.graph.Initializer = append(b.graph.Initializer, &protos.TensorProto{
		Name: name, Dims: []int64{int64(len(data))}, DataType: int32(protos.TensorProto_INT64), RawData: raw,
	})
	return name
}

// attrInt returns an INT attribute.
func attrInt(name string, v int64) *protos.AttributeProto {
	return &protos.AttributeProto{Name: name, Type: protos.AttributeProto_INT, I: v}
}

// attrInts returns an INTS attribute.
func attrInts(name string, v ...int64) *protos.AttributeProto {
	return &protos.AttributeProto{Name: name, Type: protos.AttributeProto_INTS, Ints: v}
}

// attrFloat returns a FLOAT attribute.
func attrFloat(name string, v float32) *protos.AttributeProto {
	return &protos.AttributeProto{Name: name, Type: protos.AttributeProto_FLOAT, F: v}
}

// attrString returns a STRING attribute.
func attrString(name, v string) *protos.AttributeProto {
	return &protos.AttributeProto{Name: name, Type: protos.AttributeProto_STRING, S: []byte(v)}
}

// tensorInfo describes a float32 tensor whose first axis is the dynamic axis batch.
func tensorInfo(name, batch string, dims ...int) *protos.ValueInfoProto {
	shape := &protos.TensorShapeProto{Dim: []*protos.TensorShapeProto_Dimension{
		{Value: &protos.TensorShapeProto_Dimension_DimParam{DimParam: batch}},
	}}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &protos.TensorShapeProto_Dimension{
			Value: &protos.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{
		TensorType: &protos.TypeProto_Tensor{ElemType: int32(protos.TensorProto_FLOAT), Shape: shape}}}}
}

// int64s converts dims to int64.
func int64s(dims []int) []int64 {
	out := make([]int64, len(dims))
	for i, d := range dims {
		out[i] = int64(d)
	}
	return out
}

// product returns the product of dims (1 for none).
func product(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// Marshal returns the serialised ONNX file of a model built by Build.
func Marshal(m *protos.ModelProto) ([]byte, error) {
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, errors.Wrapf(err, "serialising ONNX model %s", m.GetGraph().GetName())
	}
	return data, nil
}

// Export writes the ONNX file of t to w and returns its description.
func Export(t *cnn.Trained, w io.Writer, opts Options) (*Info, error) {
	m, err := Build(t, opts)
	if err != nil {
		return nil, err
	}
	data, err := Marshal(m)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, errors.Wrapf(err, "writing ONNX model %s", t.Model.Name)
	}
	return describe(m, int64(len(data))), nil
}

// ExportFile writes the ONNX file of t to path (through a temporary file renamed into place) and
// returns its description, with Info.Path set.
func ExportFile(t *cnn.Trained, path string, opts Options) (*Info, error) {
	m, err := Build(t, opts)
	if err != nil {
		return nil, err
	}
	return writeModel(m, path)
}

// ExportDir exports the model saved in dir (by "cnnlab train", "cnnlab reproduce --out" or
// training.SaveModel) to the ONNX file path. A saved model whose state records zero training steps is
// refused with ErrUntrained unless opts.AllowUntrained; the number of steps goes into the metadata.
func ExportDir(dir, path string, opts Options) (*Info, error) {
	t, state, err := training.LoadModel(dir)
	if err != nil {
		return nil, errors.WithMessagef(err, "export: loading the model of %s", dir)
	}
	steps := 0
	if state != nil {
		steps = state.GlobalStep
	}
	if steps == 0 && !opts.AllowUntrained {
		return nil, errors.Wrapf(ErrUntrained, "export of %s: the model saved in %s has 0 training steps (allow it explicitly to export initial weights)", t.Model.Name, dir)
	}
	meta := map[string]string{MetaTrainSteps: strconv.Itoa(steps)}
	for k, v := range opts.Metadata {
		meta[k] = v
	}
	opts.Metadata = meta
	m, err := Build(t, opts)
	if err != nil {
		return nil, err
	}
	return writeModel(m, path)
}

// writeModel serialises m into path atomically and describes it.
func writeModel(m *protos.ModelProto, path string) (*Info, error) {
	data, err := Marshal(m)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, data); err != nil {
		return nil, err
	}
	info := describe(m, int64(len(data)))
	info.Path = path
	return info, nil
}

// writeFileAtomic writes data to path through a synced temporary file (see atomicfile).
func writeFileAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data) }
