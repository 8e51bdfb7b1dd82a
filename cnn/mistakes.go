package cnn

import (
	"sort"

	"github.com/pkg/errors"
)

// Mistake is one misclassified image of an evaluation.
type Mistake struct {
	// Index is the image's position in the evaluated set.
	Index int `json:"index"`
	// Label is the true class and Predicted the model's top-1 class (output indices).
	Label     int `json:"label"`
	Predicted int `json:"predicted"`
	// Probability is the softmax probability of the predicted class; LabelProbability that of the
	// true one.
	Probability      float64 `json:"probability"`
	LabelProbability float64 `json:"label_probability"`
	// Loss is the image's cross-entropy, −log LabelProbability.
	Loss float64 `json:"loss"`
}

// Mistakes returns the misclassified images of a set from the model's logits (numClasses per image,
// in the set's order) and the true labels, the most confidently wrong first: sorted by loss,
// largest first (ties by index).
func Mistakes(logits []float32, labels []int32, numClasses int) ([]Mistake, error) {
	if numClasses <= 0 || len(logits) != len(labels)*numClasses {
		return nil, errors.Errorf("mistakes: %d logits for %d labels and %d classes", len(logits), len(labels), numClasses)
	}
	var mistakes []Mistake
	for i, label := range labels {
		if label < 0 || int(label) >= numClasses {
			return nil, errors.Errorf("mistakes: label %d of image %d out of range 0..%d", label, i, numClasses-1)
		}
		row := logits[i*numClasses : (i+1)*numClasses]
		pred := argmax(row)
		if pred == int(label) {
			continue
		}
		probs := Softmax(row)
		mistakes = append(mistakes, Mistake{Index: i, Label: int(label), Predicted: pred, Probability: probs[pred],
			LabelProbability: probs[label], Loss: crossEntropy(row, int(label))})
	}
	sort.SliceStable(mistakes, func(a, b int) bool { return mistakes[a].Loss > mistakes[b].Loss })
	return mistakes, nil
}
