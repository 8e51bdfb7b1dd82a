package cnn

import (
	"math"
	"testing"
)

func TestMistakes(t *testing.T) {
	logits := []float32{
		2, 0, 0, // image 0: label 0, right
		0, 0, 3, // image 1: label 1, predicted 2
		1, 0, 0, // image 2: label 2, predicted 0
		0, 5, 0, // image 3: label 1, right
	}
	got, err := Mistakes(logits, []int32{0, 1, 2, 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	e3 := math.Exp(3)
	e1 := math.E
	want := []Mistake{
		// −log(1/(2+e³)) = log(2+e³) ≈ 3.0949 > log(2+e) ≈ 1.5514.
		{Index: 1, Label: 1, Predicted: 2, Probability: e3 / (2 + e3), LabelProbability: 1 / (2 + e3), Loss: math.Log(2 + e3)},
		{Index: 2, Label: 2, Predicted: 0, Probability: e1 / (2 + e1), LabelProbability: 1 / (2 + e1), Loss: math.Log(2 + e1)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d mistakes, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Index != w.Index || g.Label != w.Label || g.Predicted != w.Predicted ||
			math.Abs(g.Probability-w.Probability) > 1e-9 || math.Abs(g.LabelProbability-w.LabelProbability) > 1e-9 ||
			math.Abs(g.Loss-w.Loss) > 1e-9 {
			t.Errorf("mistake %d = %+v, want %+v", i, g, w)
		}
	}
	for _, bad := range []struct {
		logits []float32
		labels []int32
	}{{logits[:5], []int32{0, 1}}, {logits[:3], []int32{3}}, {logits[:3], []int32{-1}}} {
		if _, err := Mistakes(bad.logits, bad.labels, 3); err == nil {
			t.Errorf("Mistakes(%v, %v) gave no error", bad.logits, bad.labels)
		}
	}
}
