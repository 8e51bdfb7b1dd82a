package metrics

// Figures for many classes: accuracy per group of classes (CIFAR-100's 20 superclasses) and the
// class pairs a model confuses most.

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/pkg/errors"
)

// GroupScores are the figures of one group of classes (a superclass).
type GroupScores struct {
	// Name is the group's name.
	Name string `json:"name"`
	// Support is the number of samples whose true class is in the group.
	Support int `json:"support"`
	// Accuracy is the fraction of them predicted as exactly their class.
	Accuracy float64 `json:"accuracy"`
	// GroupAccuracy is the fraction predicted as any class of the group (the superclass is right).
	GroupAccuracy float64 `json:"group_accuracy"`
}

// GroupReport returns the scores of each group: groupOf[c] is the group of class c, in
// [0, len(groupNames)). Groups without samples have Support 0 and NaN-free zero accuracies.
func GroupReport(yTrue, yPred []int32, groupOf []int, groupNames []string) ([]GroupScores, error) {
	if len(yTrue) != len(yPred) {
		return nil, errors.Errorf("group report: %d true labels but %d predictions", len(yTrue), len(yPred))
	}
	for c, g := range groupOf {
		if g < 0 || g >= len(groupNames) {
			return nil, errors.Errorf("group report: class %d is in group %d, outside [0, %d)", c, g, len(groupNames))
		}
	}
	scores := make([]GroupScores, len(groupNames))
	exact, inGroup := make([]int, len(groupNames)), make([]int, len(groupNames))
	for i, y := range yTrue {
		p := yPred[i]
		if y < 0 || int(y) >= len(groupOf) || p < 0 || int(p) >= len(groupOf) {
			return nil, errors.Errorf("group report: sample %d has label %d and prediction %d, outside [0, %d)",
				i, y, p, len(groupOf))
		}
		g := groupOf[y]
		scores[g].Support++
		if p == y {
			exact[g]++
		}
		if groupOf[p] == g {
			inGroup[g]++
		}
	}
	for g := range scores {
		scores[g].Name = groupNames[g]
		if n := scores[g].Support; n > 0 {
			scores[g].Accuracy = float64(exact[g]) / float64(n)
			scores[g].GroupAccuracy = float64(inGroup[g]) / float64(n)
		}
	}
	return scores, nil
}

// FormatGroupReport returns scores as a text table, one group per line.
func FormatGroupReport(scores []GroupScores) string {
	width := len("superclass")
	for _, s := range scores {
		width = max(width, len([]rune(s.Name)))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%*s %9s %9s %9s\n", width, "superclass", "accuracy", "in-group", "support")
	for _, s := range scores {
		fmt.Fprintf(&sb, "%*s %9.4f %9.4f %9d\n", width, s.Name, s.Accuracy, s.GroupAccuracy, s.Support)
	}
	return sb.String()
}

// ConfusedPair is one off-diagonal cell of a confusion matrix: samples of class True predicted as
// class Predicted.
type ConfusedPair struct {
	True      string `json:"true"`
	Predicted string `json:"predicted"`
	Count     int    `json:"count"`
	// Fraction is Count over the number of samples of class True.
	Fraction float64 `json:"fraction"`
}

// MostConfused returns the k largest off-diagonal cells of the confusion matrix m (rows: true
// classes), largest first; ties keep row-major order. Cells with no sample are never listed.
func MostConfused(m [][]int, classNames []string, k int) []ConfusedPair {
	var pairs []ConfusedPair
	for i, row := range m {
		total := 0
		for _, n := range row {
			total += n
		}
		for j, n := range row {
			if i == j || n == 0 {
				continue
			}
			pairs = append(pairs, ConfusedPair{True: className(classNames, i), Predicted: className(classNames, j),
				Count: n, Fraction: float64(n) / float64(total)})
		}
	}
	slices.SortStableFunc(pairs, func(a, b ConfusedPair) int { return cmp.Compare(b.Count, a.Count) })
	return pairs[:min(k, len(pairs))]
}

// className is classNames[i], or i as text when there is no such name.
func className(classNames []string, i int) string {
	if i < len(classNames) {
		return classNames[i]
	}
	return fmt.Sprint(i)
}
