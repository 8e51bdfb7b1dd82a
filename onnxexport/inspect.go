package onnxexport

import (
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/pkg/errors"
	"google.golang.org/protobuf/proto"
)

// Info describes an ONNX file: what a person checks in Netron, in a form a notebook can print.
type Info struct {
	// Path is the file (empty when written to a stream).
	Path string `json:"path,omitempty"`
	// Bytes is the size of the file.
	Bytes int64 `json:"bytes"`
	// Graph is the graph's name (the cnnlab model name).
	Graph string `json:"graph"`
	// Ops lists the operator of every node, in graph order, e.g. [Sub Div Conv Relu ...].
	Ops []string `json:"ops"`
	// Opset is the version of the default ONNX operator set; IRVersion the file's IR version.
	Opset     int64 `json:"opset"`
	IRVersion int64 `json:"ir_version"`
	// Inputs and Outputs are "name [dims] type" of the graph's inputs and outputs.
	Inputs  []string `json:"inputs"`
	Outputs []string `json:"outputs"`
	// Initializers is the number of initializer tensors; Params the number of values of the
	// weights and biases among them (the model's parameter count, without normalisation constants).
	Initializers int `json:"initializers"`
	Params       int `json:"params"`
	// Metadata holds the metadata_props.
	Metadata map[string]string `json:"metadata"`
}

// String summarises the file on a few lines.
func (i *Info) String() string {
	var sb strings.Builder
	name := i.Path
	if name == "" {
		name = i.Graph
	}
	fmt.Fprintf(&sb, "%s: %s, %d bytes (%.1f KiB), ONNX IR %d, opset %d\n", name, i.Graph, i.Bytes, float64(i.Bytes)/1024, i.IRVersion, i.Opset)
	fmt.Fprintf(&sb, "  ops (%d): %s\n", len(i.Ops), strings.Join(i.Ops, " → "))
	fmt.Fprintf(&sb, "  inputs: %s; outputs: %s\n", strings.Join(i.Inputs, ", "), strings.Join(i.Outputs, ", "))
	fmt.Fprintf(&sb, "  %d initializers, %d parameters", i.Initializers, i.Params)
	for _, k := range []string{MetaClassIDs, MetaClassNames, MetaMean, MetaStd} {
		if v, ok := i.Metadata[k]; ok {
			fmt.Fprintf(&sb, "\n  %s = %s", k, v)
		}
	}
	return sb.String()
}

// ReadFile parses the ONNX file at path.
func ReadFile(path string) (*protos.ModelProto, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrap(err, "reading ONNX file")
	}
	m := &protos.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, errors.Wrapf(err, "parsing ONNX file %s", path)
	}
	if m.GetGraph() == nil {
		return nil, errors.Errorf("ONNX file %s has no graph", path)
	}
	return m, nil
}

// Inspect reads the ONNX file at path and describes it.
func Inspect(path string) (*Info, error) {
	m, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, errors.Wrap(err, "inspecting ONNX file")
	}
	info := describe(m, st.Size())
	info.Path = path
	return info, nil
}

// describe returns the Info of m, serialised in size bytes.
func describe(m *protos.ModelProto, size int64) *Info {
	g := m.GetGraph()
	info := &Info{Bytes: size, Graph: g.GetName(), IRVersion: m.GetIrVersion(), Metadata: map[string]string{}}
	for _, op := range m.GetOpsetImport() {
		if op.GetDomain() == "" || op.GetDomain() == "ai.onnx" {
			info.Opset = op.GetVersion()
		}
	}
	info.Ops = Ops(m)
	for _, v := range g.GetInput() {
		info.Inputs = append(info.Inputs, valueInfoString(v))
	}
	for _, v := range g.GetOutput() {
		info.Outputs = append(info.Outputs, valueInfoString(v))
	}
	info.Initializers = len(g.GetInitializer())
	for _, t := range g.GetInitializer() {
		if name := t.GetName(); strings.HasSuffix(name, ".weight") || strings.HasSuffix(name, ".bias") {
			n := 1
			for _, d := range t.GetDims() {
				n *= int(d)
			}
			info.Params += n
		}
	}
	for _, p := range m.GetMetadataProps() {
		info.Metadata[p.GetKey()] = p.GetValue()
	}
	return info
}

// Ops returns the operator type of every node of m's graph, in order.
func Ops(m *protos.ModelProto) []string {
	var ops []string
	for _, n := range m.GetGraph().GetNode() {
		ops = append(ops, n.GetOpType())
	}
	return ops
}

// valueInfoString formats a graph input or output as "name [N,3,32,32] float32".
func valueInfoString(v *protos.ValueInfoProto) string {
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return v.GetName()
	}
	dims := make([]string, 0, len(tt.GetShape().GetDim()))
	for _, d := range tt.GetShape().GetDim() {
		if p := d.GetDimParam(); p != "" {
			dims = append(dims, p)
		} else {
			dims = append(dims, fmt.Sprint(d.GetDimValue()))
		}
	}
	elem := strings.ToLower(protos.TensorProto_DataType(tt.GetElemType()).String())
	return fmt.Sprintf("%s [%s] %s", v.GetName(), strings.Join(dims, ","), elem)
}
