package onnxexport

import (
	"slices"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
)

func TestGraphBoxes(t *testing.T) {
	m, err := Build(trained(t, withClasses(cnn.LectureCNN(3))), Options{})
	if err != nil {
		t.Fatal(err)
	}
	boxes, err := GraphBoxes(m)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, b := range boxes {
		titles = append(titles, b.Title)
	}
	want := []string{"вход", "Sub", "Div", "Conv", "Relu", "Conv", "Relu", "AveragePool", "Flatten", "Gemm", "выход"}
	if !slices.Equal(titles, want) {
		t.Fatalf("titles %v, want %v", titles, want)
	}
	tests := []struct {
		box  int
		want string
	}{
		{0, "images [N,3,32,32] float"},
		{3, "[32×3×5×5]"}, {3, "[32]"}, {3, "strides = 4,4"},
		{5, "[64×32×3×3]"}, {9, "[3×256]"}, {10, "logits [N,3] float"},
	}
	for _, tc := range tests {
		if !slices.ContainsFunc(boxes[tc.box].Lines, func(l string) bool { return strings.Contains(l, tc.want) }) {
			t.Errorf("box %d (%s) lines %q lack %q", tc.box, boxes[tc.box].Title, boxes[tc.box].Lines, tc.want)
		}
	}
	m.GetGraph().GetNode()[4].Input[0] = "elsewhere"
	if _, err := GraphBoxes(m); err == nil {
		t.Error("a broken chain gave no error")
	}
}
