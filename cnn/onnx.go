package cnn

// ONNXEmitter is what a layer's ONNX method writes to (implemented by package onnxexport). The
// graph is NCHW, opset 17; value names are strings.
type ONNXEmitter interface {
	// Node adds a node of operator op on inputs and returns the name of its (single) output.
	Node(op string, inputs []string, attrs ...ONNXAttr) string
	// Const adds a float32 initializer holding data with dims and returns its name.
	Const(name string, data []float32, dims ...int) string
	// Int64s adds a 1-D int64 initializer and returns its name.
	Int64s(name string, data []int64) string
	// Param adds the layer's trained parameter or buffer name as an initializer and returns its name.
	Param(name string) (string, error)
	// In returns the emitter of a child scope (e.g. "body/00_Conv2d").
	In(scope string) ONNXEmitter
}

// ONNXAttr is one attribute of an ONNX node: exactly one of its values is used, by Kind.
type ONNXAttr struct {
	Name   string
	Kind   string // "int", "ints", "float" or "string".
	Int    int64
	Ints   []int64
	Float  float32
	String string
}

// AttrInt returns an integer attribute.
func AttrInt(name string, v int64) ONNXAttr { return ONNXAttr{Name: name, Kind: "int", Int: v} }

// AttrInts returns an integer-list attribute.
func AttrInts(name string, v ...int64) ONNXAttr { return ONNXAttr{Name: name, Kind: "ints", Ints: v} }

// AttrFloat returns a float attribute.
func AttrFloat(name string, v float32) ONNXAttr {
	return ONNXAttr{Name: name, Kind: "float", Float: v}
}

// AttrString returns a string attribute.
func AttrString(name, v string) ONNXAttr { return ONNXAttr{Name: name, Kind: "string", String: v} }
