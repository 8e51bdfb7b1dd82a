package cnn

import (
	"slices"
	"testing"

	"github.com/cnnlab/cnnlab/backend"
	"github.com/gomlx/gomlx/core/tensors"
)

// TestActivationsShiftEquivariance checks the slide's translation equivariance on the lecture CNN's
// first convolution (kernel 5, stride 4, padding 2): shifting the image right by 4 pixels shifts the
// 8×8 feature map right by one cell, exactly away from the borders.
func TestActivationsShiftEquivariance(t *testing.T) {
	b, err := backend.New("")
	if err != nil {
		t.Fatal(err)
	}
	trained, err := NewTrained(LectureCNN(3), 1)
	if err != nil {
		t.Fatal(err)
	}
	image := make([]float32, 3*32*32)
	for i := range image {
		image[i] = float32((i*7919)%251) / 251
	}
	shifted := make([]float32, len(image))
	for c := range 3 {
		for y := range 32 {
			for x := 4; x < 32; x++ {
				shifted[(c*32+y)*32+x] = image[(c*32+y)*32+x-4]
			}
		}
	}
	input := tensors.FromFlatDataAndDimensions(append(image, shifted...), 2, 3, 32, 32)
	values, shape, err := Activations(b, trained, 2, input)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shape, []int{2, 32, 8, 8}) {
		t.Fatalf("shape %v, want [2 32 8 8]", shape)
	}
	const tolerance = 1e-5 // same products, same order: only float32 rounding of the normalisation differs
	original, moved := values[:32*64], values[32*64:]
	for c := range 32 {
		for y := 1; y < 7; y++ {
			for x := 1; x < 7; x++ { // cells whose receptive field lies inside both images
				a, b := original[(c*8+y)*8+x], moved[(c*8+y)*8+x+1]
				if diff := a - b; diff > tolerance || diff < -tolerance {
					t.Fatalf("channel %d cell (%d,%d): %g, shifted map has %g", c, y, x, a, b)
				}
			}
		}
	}
	if _, _, err := Activations(b, trained, 0, input); err == nil {
		t.Error("Activations with 0 layers: want an error")
	}
}
