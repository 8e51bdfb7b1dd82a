package metrics

// Classification metrics as the lecture prints them: accuracy, scikit-learn's classification
// report and the confusion matrix; and the lecture's published reports to compare with.

import (
	"fmt"
	"math"
	"strings"

	"github.com/pkg/errors"
)

// reportDigits is the number of decimals of Report.String, scikit-learn's digits=4 of the lecture.
const reportDigits = 4

// Accuracy returns the fraction of positions where yPred equals yTrue. It returns NaN when the
// slices are empty or of different lengths (there is no accuracy to compute).
func Accuracy(yTrue, yPred []int32) float64 {
	if len(yTrue) == 0 || len(yTrue) != len(yPred) {
		return math.NaN()
	}
	correct := 0
	for i, y := range yTrue {
		if yPred[i] == y {
			correct++
		}
	}
	return float64(correct) / float64(len(yTrue))
}

// ConfusionMatrix counts the predictions per true class: m[i][j] is the number of samples of true
// class i predicted as class j (scikit-learn's convention: rows are true classes, columns
// predictions). Labels must be in [0, numClasses).
func ConfusionMatrix(yTrue, yPred []int32, numClasses int) ([][]int, error) {
	if len(yTrue) != len(yPred) {
		return nil, errors.Errorf("confusion matrix: %d true labels but %d predictions", len(yTrue), len(yPred))
	}
	if numClasses < 1 {
		return nil, errors.Errorf("confusion matrix: numClasses must be ≥ 1, got %d", numClasses)
	}
	m := make([][]int, numClasses)
	for i := range m {
		m[i] = make([]int, numClasses)
	}
	for i, y := range yTrue {
		p := yPred[i]
		if y < 0 || int(y) >= numClasses || p < 0 || int(p) >= numClasses {
			return nil, errors.Errorf("confusion matrix: sample %d has label %d and prediction %d, "+
				"outside [0, %d)", i, y, p, numClasses)
		}
		m[y][p]++
	}
	return m, nil
}

// FormatConfusionMatrix returns m as a text table with the class names as row (true class) and
// column (predicted class) headings. Classes without a name are shown by their index.
func FormatConfusionMatrix(m [][]int, classNames []string) string {
	name := func(i int) string { return className(classNames, i) }
	const corner = "true \\ pred"
	rowWidth := len([]rune(corner))
	colWidths := make([]int, len(m))
	for i := range m {
		rowWidth = max(rowWidth, len([]rune(name(i))))
		colWidths[i] = len([]rune(name(i)))
		for _, row := range m {
			if i < len(row) {
				colWidths[i] = max(colWidths[i], len(fmt.Sprint(row[i])))
			}
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-*s", rowWidth, corner)
	for j := range m {
		fmt.Fprintf(&sb, "  %*s", colWidths[j], name(j))
	}
	sb.WriteString("\n")
	for i, row := range m {
		fmt.Fprintf(&sb, "%-*s", rowWidth, name(i))
		for j := range m {
			value := ""
			if j < len(row) {
				value = fmt.Sprint(row[j])
			}
			fmt.Fprintf(&sb, "  %*s", colWidths[j], value)
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// ClassScores are the precision, recall, F1-score and support of one class, or their average
// (then Support is the total number of samples). JSON keys are those of scikit-learn's
// classification_report(output_dict=True).
type ClassScores struct {
	// Name is the class name, or "macro avg" / "weighted avg" for averages.
	Name string `json:"name"`
	// Precision is TP / (TP + FP): the fraction of the predictions of the class that are right.
	Precision float64 `json:"precision"`
	// Recall is TP / (TP + FN): the fraction of the samples of the class that are found.
	Recall float64 `json:"recall"`
	// F1 is the harmonic mean of precision and recall, 2·TP / (2·TP + FP + FN).
	F1 float64 `json:"f1-score"`
	// Support is the number of samples of the class (in yTrue).
	Support int `json:"support"`
}

// Report is scikit-learn's classification report: per class scores, accuracy, and the macro
// (unweighted mean over classes) and weighted (by support) averages. String prints it exactly as
// scikit-learn's classification_report(..., digits=4).
type Report struct {
	// Classes holds the scores of each class, in class order.
	Classes []ClassScores `json:"classes"`
	// Accuracy is the fraction of correct predictions.
	Accuracy float64 `json:"accuracy"`
	// MacroAvg is the unweighted mean of the per-class scores.
	MacroAvg ClassScores `json:"macro avg"`
	// WeightedAvg is the mean of the per-class scores weighted by their support.
	WeightedAvg ClassScores `json:"weighted avg"`
}

// ClassificationReport computes the report of predictions yPred against labels yTrue, for the
// classes 0..len(classNames)−1 named by classNames (labels must lie in that range). Like
// scikit-learn's default (zero_division="warn"), a score whose denominator is zero (a class never
// predicted, or without samples) is 0.
func ClassificationReport(yTrue, yPred []int32, classNames []string) (*Report, error) {
	if len(classNames) == 0 {
		return nil, errors.New("classification report: no class names")
	}
	if len(yTrue) == 0 {
		return nil, errors.New("classification report: no samples")
	}
	m, err := ConfusionMatrix(yTrue, yPred, len(classNames))
	if err != nil {
		return nil, errors.WithMessage(err, "classification report")
	}
	n := len(classNames)
	tp, predicted, support := make([]int, n), make([]int, n), make([]int, n)
	for i := range n {
		tp[i] = m[i][i]
		for j := range n {
			support[i] += m[i][j]
			predicted[j] += m[i][j]
		}
	}
	return ReportFromCounts(classNames, tp, predicted, support), nil
}

// ReportFromCounts builds a Report from the per-class true positives, number of predictions and
// support (number of samples).
func ReportFromCounts(names []string, tp, predicted, support []int) *Report {
	r := &Report{Classes: make([]ClassScores, len(names))}
	correct, total := 0, 0
	for i, name := range names {
		r.Classes[i] = ClassScores{
			Name:      name,
			Precision: ratio(tp[i], predicted[i]),
			Recall:    ratio(tp[i], support[i]),
			F1:        ratio(2*tp[i], predicted[i]+support[i]),
			Support:   support[i],
		}
		correct += tp[i]
		total += support[i]
	}
	r.Accuracy = ratio(correct, total)
	r.MacroAvg = average("macro avg", r.Classes, func(ClassScores) float64 { return 1 })
	r.WeightedAvg = average("weighted avg", r.Classes, func(c ClassScores) float64 { return float64(c.Support) })
	return r
}

// ratio returns a/b, or 0 when b is 0 (scikit-learn's zero_division default).
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// average returns the weighted mean of the scores of classes, with Support their total.
func average(name string, classes []ClassScores, weight func(ClassScores) float64) ClassScores {
	avg := ClassScores{Name: name}
	sum := 0.0
	for _, c := range classes {
		w := weight(c)
		avg.Precision += w * c.Precision
		avg.Recall += w * c.Recall
		avg.F1 += w * c.F1
		avg.Support += c.Support
		sum += w
	}
	if sum > 0 {
		avg.Precision, avg.Recall, avg.F1 = avg.Precision/sum, avg.Recall/sum, avg.F1/sum
	}
	return avg
}

// String formats the report exactly as scikit-learn's classification_report(..., digits=4):
// right-aligned names, 9-character columns, blank lines around the class rows, and an accuracy
// row with empty precision and recall columns.
func (r *Report) String() string {
	width := max(len([]rune("weighted avg")), reportDigits)
	for _, c := range r.Classes {
		width = max(width, len([]rune(c.Name)))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%*s ", width, "")
	for _, h := range []string{"precision", "recall", "f1-score", "support"} {
		fmt.Fprintf(&sb, " %9s", h)
	}
	sb.WriteString("\n\n")
	for _, c := range r.Classes {
		writeScoresRow(&sb, width, c)
	}
	sb.WriteString("\n")
	fmt.Fprintf(&sb, "%*s  %9s %9s %9.*f %9d\n", width, "accuracy", "", "", reportDigits, r.Accuracy,
		r.MacroAvg.Support)
	writeScoresRow(&sb, width, r.MacroAvg)
	writeScoresRow(&sb, width, r.WeightedAvg)
	return sb.String()
}

// writeScoresRow writes one row of the report: name, precision, recall, f1-score, support.
func writeScoresRow(sb *strings.Builder, width int, c ClassScores) {
	fmt.Fprintf(sb, "%*s  %9.*f %9.*f %9.*f %9d\n", width, c.Name, reportDigits, c.Precision,
		reportDigits, c.Recall, reportDigits, c.F1, c.Support)
}

// SideBySide prints two reports next to each other, e.g. ours and the lecture's, each under its
// title: titles[0] and titles[1], "ours" and "lecture" by default. A nil report prints as
// "(no report)".
func SideBySide(ours, lecture *Report, titles ...string) string {
	leftTitle, rightTitle := "ours", "lecture"
	if len(titles) > 0 {
		leftTitle = titles[0]
	}
	if len(titles) > 1 {
		rightTitle = titles[1]
	}
	left := append([]string{leftTitle, ""}, reportLines(ours)...)
	right := append([]string{rightTitle, ""}, reportLines(lecture)...)
	leftWidth := 0
	for _, line := range left {
		leftWidth = max(leftWidth, len([]rune(line)))
	}
	const gap = "    |    "
	var sb strings.Builder
	for i := range max(len(left), len(right)) {
		l, r := "", ""
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		sb.WriteString(strings.TrimRight(fmt.Sprintf("%-*s%s%s", leftWidth, l, gap, r), " "))
		sb.WriteString("\n")
	}
	return sb.String()
}

// reportLines returns the lines of r.String() without the final newline.
func reportLines(r *Report) []string {
	if r == nil {
		return []string{"(no report)"}
	}
	return strings.Split(strings.TrimSuffix(r.String(), "\n"), "\n")
}
