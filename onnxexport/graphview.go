package onnxexport

import (
	"fmt"
	"strings"

	"github.com/cnnlab/cnnlab/plot"
	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/pkg/errors"
)

// GraphBoxes describes m's graph as plot.Flow boxes, what Netron shows for a sequential model: the
// graph input, then every node (its operator; its initializer inputs with their shapes, e.g. "W [32×3×5×5]"; its
// attributes), then the graph output. It fails unless the graph is a chain, every node consuming the
// previous node's output (the graph input for the first), so that the drawing shows every edge.
func GraphBoxes(m *protos.ModelProto) ([]plot.Box, error) {
	g := m.GetGraph()
	if g == nil || len(g.GetInput()) != 1 || len(g.GetOutput()) != 1 || len(g.GetNode()) == 0 {
		return nil, errors.New("graph boxes: need a graph with one input, one output and nodes")
	}
	shapes := map[string]string{}
	for _, t := range g.GetInitializer() {
		dims := make([]string, len(t.GetDims()))
		for i, d := range t.GetDims() {
			dims[i] = fmt.Sprint(d)
		}
		shapes[t.GetName()] = "[" + strings.Join(dims, "×") + "]"
	}
	boxes := []plot.Box{{Title: "вход", Lines: []string{valueInfoString(g.GetInput()[0])}}}
	previous := g.GetInput()[0].GetName()
	for i, n := range g.GetNode() {
		box := plot.Box{Title: n.GetOpType()}
		fed := false
		for _, in := range n.GetInput() {
			if in == previous {
				fed = true
			} else if shape, ok := shapes[in]; ok {
				box.Lines = append(box.Lines, in+" "+shape)
			} else {
				return nil, errors.Errorf("graph boxes: node %d (%s) reads %q, neither the previous output nor an initializer", i, n.GetOpType(), in)
			}
		}
		if !fed || len(n.GetOutput()) != 1 {
			return nil, errors.Errorf("graph boxes: node %d (%s) does not continue the chain from %q", i, n.GetOpType(), previous)
		}
		for _, a := range n.GetAttribute() {
			box.Lines = append(box.Lines, attributeString(a))
		}
		boxes = append(boxes, box)
		previous = n.GetOutput()[0]
	}
	if out := g.GetOutput()[0]; out.GetName() != previous {
		return nil, errors.Errorf("graph boxes: the graph output %q is not the last node's output %q", out.GetName(), previous)
	}
	return append(boxes, plot.Box{Title: "выход", Lines: []string{valueInfoString(g.GetOutput()[0])}}), nil
}

// attributeString formats a node attribute as "name = value".
func attributeString(a *protos.AttributeProto) string {
	var value string
	switch a.GetType() {
	case protos.AttributeProto_INT:
		value = fmt.Sprint(a.GetI())
	case protos.AttributeProto_INTS:
		parts := make([]string, len(a.GetInts()))
		for i, v := range a.GetInts() {
			parts[i] = fmt.Sprint(v)
		}
		value = strings.Join(parts, ",")
	case protos.AttributeProto_FLOAT:
		value = fmt.Sprint(a.GetF())
	case protos.AttributeProto_STRING:
		value = string(a.GetS())
	default:
		value = strings.ToLower(a.GetType().String())
	}
	return a.GetName() + " = " + value
}
