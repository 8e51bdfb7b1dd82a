package onnxexport

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	timage "github.com/gomlx/gomlx/core/tensors/images"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// Program is an ONNX graph loaded back into GoMLX: its nodes become GoMLX operations and its
// initializers constants, so the file can be run on any cnnlab backend and compared with the
// model it came from. It reads what this package exports (the operators Sub, Div, Pad, Conv, Relu,
// AveragePool, MaxPool, Flatten and Gemm with the attributes Export writes); any other operator
// or attribute value is an error at Load time naming the node.
//
// It stands in for github.com/gomlx/onnx-gomlx, whose latest release (v0.3.4) is built against
// GoMLX v0.26's package layout (github.com/gomlx/gomlx/pkg/...) and does not compile with the
// GoMLX v0.28 that cnnlab uses.
type Program struct {
	name    string
	input   string
	output  string
	nodes   []*protos.NodeProto
	consts  map[string]*tensors.Tensor
	ints    map[string][]int64
	classes int
}

// Load converts the ONNX model m into a Program, checking every node.
func Load(m *protos.ModelProto) (*Program, error) {
	g := m.GetGraph()
	if g == nil {
		return nil, errors.New("load ONNX: model has no graph")
	}
	if len(g.GetInput()) != 1 || len(g.GetOutput()) != 1 {
		return nil, errors.Errorf("load ONNX graph %s: want 1 input and 1 output, got %d and %d", g.GetName(), len(g.GetInput()), len(g.GetOutput()))
	}
	p := &Program{name: g.GetName(), input: g.GetInput()[0].GetName(), output: g.GetOutput()[0].GetName(),
		nodes: g.GetNode(), consts: map[string]*tensors.Tensor{}, ints: map[string][]int64{}}
	if dims := g.GetOutput()[0].GetType().GetTensorType().GetShape().GetDim(); len(dims) == 2 {
		p.classes = int(dims[1].GetDimValue())
	}
	for _, t := range g.GetInitializer() {
		if err := p.addInitializer(t); err != nil {
			return nil, errors.WithMessagef(err, "load ONNX graph %s", p.name)
		}
	}
	known := map[string]bool{p.input: true}
	for name := range p.consts {
		known[name] = true
	}
	for name := range p.ints {
		known[name] = true
	}
	for _, n := range p.nodes {
		if err := p.checkNode(n, known); err != nil {
			return nil, errors.WithMessagef(err, "load ONNX graph %s, node %s (%s)", p.name, n.GetName(), n.GetOpType())
		}
		for _, out := range n.GetOutput() {
			known[out] = true
		}
	}
	if !known[p.output] {
		return nil, errors.Errorf("load ONNX graph %s: no node computes the output %s", p.name, p.output)
	}
	return p, nil
}

// LoadFile reads the ONNX file at path into a Program.
func LoadFile(path string) (*Program, error) {
	m, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(m)
}

// NumClasses returns the size of the output's second axis (0 if not static).
func (p *Program) NumClasses() int { return p.classes }

// addInitializer decodes a float32 or int64 initializer.
func (p *Program) addInitializer(t *protos.TensorProto) error {
	dims := make([]int, len(t.GetDims()))
	n := 1
	for i, d := range t.GetDims() {
		dims[i] = int(d)
		n *= int(d)
	}
	raw := t.GetRawData()
	switch protos.TensorProto_DataType(t.GetDataType()) {
	case protos.TensorProto_FLOAT:
		data := t.GetFloatData()
		if len(raw) > 0 {
			if len(raw) != 4*n {
				return errors.Errorf("initializer %s: %d raw bytes for %d float32 values", t.GetName(), len(raw), n)
			}
			data = make([]float32, n)
			for i := range data {
				data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
		if len(data) != n {
			return errors.Errorf("initializer %s: %d values for shape %v", t.GetName(), len(data), dims)
		}
		p.consts[t.GetName()] = tensors.FromFlatDataAndDimensions(data, dims...)
	case protos.TensorProto_INT64:
		data := t.GetInt64Data()
		if len(raw) > 0 {
			if len(raw) != 8*n {
				return errors.Errorf("initializer %s: %d raw bytes for %d int64 values", t.GetName(), len(raw), n)
			}
			data = make([]int64, n)
			for i := range data {
				data[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
		}
		p.ints[t.GetName()] = data
	default:
		return errors.Errorf("initializer %s: data type %s not supported", t.GetName(), protos.TensorProto_DataType(t.GetDataType()))
	}
	return nil
}

// attrs returns a node's attributes by name.
func attrs(n *protos.NodeProto) map[string]*protos.AttributeProto {
	m := map[string]*protos.AttributeProto{}
	for _, a := range n.GetAttribute() {
		m[a.GetName()] = a
	}
	return m
}

// intsAttr returns an INTS attribute, or def when absent.
func intsAttr(a map[string]*protos.AttributeProto, name string, def ...int64) []int64 {
	if v, ok := a[name]; ok {
		return v.GetInts()
	}
	return def
}

// intAttr returns an INT attribute, or def when absent.
func intAttr(a map[string]*protos.AttributeProto, name string, def int64) int64 {
	if v, ok := a[name]; ok {
		return v.GetI()
	}
	return def
}

// square2 checks that v has two equal values and returns it.
func square2(name string, v []int64) (int, error) {
	if len(v) != 2 || v[0] != v[1] || v[0] < 1 {
		return 0, errors.Errorf("%s %v: only equal values ≥ 1 on both spatial axes are supported", name, v)
	}
	return int(v[0]), nil
}

// symmetricPads checks ONNX 2D pads [top,left,bottom,right] are all equal and returns the value.
func symmetricPads(v []int64) (int, error) {
	if len(v) == 0 {
		return 0, nil
	}
	if len(v) != 4 || v[0] != v[1] || v[0] != v[2] || v[0] != v[3] || v[0] < 0 {
		return 0, errors.Errorf("pads %v: only equal padding on all sides is supported", v)
	}
	return int(v[0]), nil
}

// checkNode verifies that n is an operator with attributes Program can run and that its inputs
// exist.
func (p *Program) checkNode(n *protos.NodeProto, known map[string]bool) error {
	for _, in := range n.GetInput() {
		if !known[in] {
			return errors.Errorf("input %q is not computed before", in)
		}
	}
	if len(n.GetOutput()) != 1 {
		return errors.Errorf("%d outputs, want 1", len(n.GetOutput()))
	}
	a := attrs(n)
	nIn := len(n.GetInput())
	switch n.GetOpType() {
	case "Sub", "Div", "Add", "Mul":
		if nIn != 2 {
			return errors.Errorf("%d inputs, want 2", nIn)
		}
	case "Relu", "LeakyRelu", "Flatten", "AveragePool", "MaxPool", "Erf", "GlobalAveragePool", "GlobalMaxPool":
		if nIn != 1 {
			return errors.Errorf("%d inputs, want 1", nIn)
		}
		switch n.GetOpType() {
		case "Flatten":
			if intAttr(a, "axis", 1) != 1 {
				return errors.Errorf("axis %d: only 1 is supported", intAttr(a, "axis", 1))
			}
		case "AveragePool", "MaxPool":
			if _, err := square2("kernel_shape", intsAttr(a, "kernel_shape")); err != nil {
				return err
			}
			if _, err := square2("strides", intsAttr(a, "strides", 1, 1)); err != nil {
				return err
			}
			if pad, err := symmetricPads(intsAttr(a, "pads")); err != nil || pad != 0 {
				return errors.Errorf("pads %v: only no padding is supported", intsAttr(a, "pads"))
			}
			if intAttr(a, "ceil_mode", 0) != 0 {
				return errors.New("ceil_mode 1 is not supported")
			}
			if d := intsAttr(a, "dilations", 1, 1); len(d) != 2 || d[0] != 1 || d[1] != 1 {
				return errors.Errorf("dilations %v: only 1 is supported", d)
			}
		}
	case "BatchNormalization":
		if nIn != 5 {
			return errors.Errorf("%d inputs, want 5 (x, scale, bias, mean, var)", nIn)
		}
		if intAttr(a, "training_mode", 0) != 0 {
			return errors.New("training_mode 1 is not supported")
		}
	case "Conv":
		if nIn != 2 && nIn != 3 {
			return errors.Errorf("%d inputs, want 2 or 3 (x, weight, optional bias)", nIn)
		}
		if _, ok := p.consts[n.GetInput()[1]]; !ok {
			return errors.Errorf("weight %s is not an initializer", n.GetInput()[1])
		}
		if _, err := square2("strides", intsAttr(a, "strides", 1, 1)); err != nil {
			return err
		}
		if _, err := symmetricPads(intsAttr(a, "pads")); err != nil {
			return err
		}
		if d := intsAttr(a, "dilations", 1, 1); len(d) != 2 || d[0] != 1 || d[1] != 1 {
			return errors.Errorf("dilations %v: only 1 is supported", d)
		}
		if ap, ok := a["auto_pad"]; ok && string(ap.GetS()) != "NOTSET" {
			return errors.Errorf("auto_pad %q is not supported", ap.GetS())
		}
	case "Pad":
		if nIn != 2 {
			return errors.Errorf("%d inputs, want 2 (data, pads)", nIn)
		}
		if mode := string(a["mode"].GetS()); mode != "edge" {
			return errors.Errorf("mode %q: only edge is supported", mode)
		}
		pads, ok := p.ints[n.GetInput()[1]]
		if !ok || len(pads) != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 ||
			pads[2] != pads[3] || pads[2] != pads[6] || pads[2] != pads[7] {
			return errors.Errorf("pads %v: only equal spatial padding of an NCHW tensor is supported", pads)
		}
	case "Gemm":
		if nIn != 3 {
			return errors.Errorf("%d inputs, want 3 (with bias)", nIn)
		}
		if intAttr(a, "transA", 0) != 0 {
			return errors.New("transA 1 is not supported")
		}
		for _, name := range []string{"alpha", "beta"} {
			if v, ok := a[name]; ok && v.GetF() != 1 {
				return errors.Errorf("%s %g: only 1 is supported", name, v.GetF())
			}
		}
	default:
		return errors.Errorf("operator %s is not supported", n.GetOpType())
	}
	return nil
}

// Forward builds the GoMLX graph of the program applied to images ([batch,3,H,W] float32) and
// returns its output. It is a graph-building function: it panics on errors, as GoMLX operations
// do (Load has checked the nodes).
func (p *Program) Forward(images *graph.Node) *graph.Node {
	g := images.Graph()
	values := map[string]*graph.Node{p.input: images}
	get := func(name string) *graph.Node {
		if v, ok := values[name]; ok {
			return v
		}
		if t, ok := p.consts[name]; ok {
			v := graph.ConstTensor(g, t)
			values[name] = v
			return v
		}
		exceptions.Panicf("ONNX graph %s: value %q unknown", p.name, name)
		return nil
	}
	for _, n := range p.nodes {
		in := n.GetInput()
		a := attrs(n)
		var y *graph.Node
		switch n.GetOpType() {
		case "Sub":
			y = graph.Sub(get(in[0]), get(in[1]))
		case "Div":
			y = graph.Div(get(in[0]), get(in[1]))
		case "Add":
			y = graph.Add(get(in[0]), get(in[1]))
		case "Mul":
			y = graph.Mul(get(in[0]), get(in[1]))
		case "Erf":
			y = graph.Erf(get(in[0]))
		case "GlobalAveragePool":
			y = graph.ReduceAndKeep(get(in[0]), graph.ReduceMean, 2, 3)
		case "GlobalMaxPool":
			y = graph.ReduceAndKeep(get(in[0]), graph.ReduceMax, 2, 3)
		case "BatchNormalization":
			eps := 1e-5
			if v, ok := a["epsilon"]; ok {
				eps = float64(v.GetF())
			}
			channels := func(v *graph.Node) *graph.Node { return graph.Reshape(v, 1, v.Shape().Dimensions[0], 1, 1) }
			x := get(in[0])
			norm := graph.Div(graph.Sub(x, channels(get(in[3]))), graph.Sqrt(graph.AddScalar(channels(get(in[4])), eps)))
			y = graph.Add(graph.Mul(norm, channels(get(in[1]))), channels(get(in[2])))
		case "Relu":
			x := get(in[0])
			y = graph.Max(x, graph.ZerosLike(x))
		case "LeakyRelu":
			x := get(in[0])
			alpha := 0.01 // ONNX's default
			if v, ok := a["alpha"]; ok {
				alpha = float64(v.GetF())
			}
			zero := graph.ZerosLike(x)
			y = graph.Add(graph.Max(x, zero), graph.MulScalar(graph.Min(x, zero), alpha))
		case "Flatten":
			x := get(in[0])
			y = graph.Reshape(x, x.Shape().Dimensions[0], -1)
		case "AveragePool", "MaxPool":
			k, _ := square2("kernel_shape", intsAttr(a, "kernel_shape"))
			s, _ := square2("strides", intsAttr(a, "strides", 1, 1))
			if n.GetOpType() == "AveragePool" {
				y = graph.MeanPool(get(in[0])).ChannelsAxis(timage.ChannelsFirst).Window(k).Strides(s).NoPadding().Done()
			} else {
				y = graph.MaxPool(get(in[0])).ChannelsAxis(timage.ChannelsFirst).Window(k).Strides(s).NoPadding().Done()
			}
		case "Pad":
			y = cnn.Pad2D(get(in[0]), int(p.ints[in[1]][2]), cnn.PadReplicate)
		case "Conv":
			s, _ := square2("strides", intsAttr(a, "strides", 1, 1))
			pad, _ := symmetricPads(intsAttr(a, "pads"))
			w := get(in[1])
			y = graph.Convolve(get(in[0]), w).ChannelsAxis(timage.ChannelsFirst).Strides(s).
				ChannelGroupCount(int(intAttr(a, "group", 1))).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
			if len(in) == 3 {
				bias := get(in[2])
				y = graph.Add(y, graph.Reshape(bias, 1, bias.Shape().Dimensions[0], 1, 1))
			}
		case "Gemm":
			eq := "bi,io->bo"
			if intAttr(a, "transB", 0) == 1 {
				eq = "bi,oi->bo"
			}
			y = graph.Add(graph.Einsum(eq, get(in[0]), get(in[1])), graph.InsertAxes(get(in[2]), 0))
		default:
			exceptions.Panicf("ONNX graph %s: operator %s not supported", p.name, n.GetOpType())
		}
		values[n.GetOutput()[0]] = y
	}
	return get(p.output)
}

// Logits runs the program on backend b for images ([n,3,H,W] float32 in [0,1]) and returns the
// outputs [n,classes] as row-major float32 values.
func (p *Program) Logits(b compute.Backend, images *tensors.Tensor) ([]float32, error) {
	exec, err := graph.NewExec(b, p.Forward)
	if err != nil {
		return nil, errors.WithMessagef(err, "compiling ONNX graph %s in GoMLX", p.name)
	}
	defer exec.Finalize()
	out, err := exec.Exec(images)
	if err != nil {
		return nil, errors.WithMessagef(err, "running ONNX graph %s on %s", p.name, b.Name())
	}
	defer func() {
		for _, t := range out {
			t.FinalizeAll()
		}
	}()
	if len(out) != 1 {
		return nil, errors.Errorf("running ONNX graph %s: %d outputs, want 1", p.name, len(out))
	}
	data, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		return nil, errors.WithMessagef(err, "reading the output of ONNX graph %s", p.name)
	}
	return data, nil
}

// String names the program and its operators.
func (p *Program) String() string {
	ops := make([]string, len(p.nodes))
	for i, n := range p.nodes {
		ops[i] = n.GetOpType()
	}
	return fmt.Sprintf("ONNX graph %s in GoMLX: %v", p.name, ops)
}
