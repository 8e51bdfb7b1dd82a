package metrics_test

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/lecture"
	"github.com/cnnlab/cnnlab/metrics"
)

// The expected texts below are scikit-learn 1.9.1's
// classification_report(y_true, y_pred, labels=range(n), target_names=names, digits=4) for the
// same inputs (checked once with Python; the test does not need it).

// fromMatrix expands a confusion matrix (rows true classes, columns predictions) into labels.
func fromMatrix(m [][]int) (yTrue, yPred []int32) {
	for i, row := range m {
		for j, count := range row {
			for range count {
				yTrue = append(yTrue, int32(i))
				yPred = append(yPred, int32(j))
			}
		}
	}
	return yTrue, yPred
}

func TestClassificationReportText(t *testing.T) {
	tests := []struct {
		name       string
		yTrue      []int32
		yPred      []int32
		classNames []string
		want       string
	}{
		{
			name:       "three classes",
			yTrue:      []int32{0, 0, 0, 1, 1, 1, 1, 2, 2, 2},
			yPred:      []int32{0, 1, 0, 1, 1, 2, 1, 2, 0, 2},
			classNames: []string{"cat", "dog", "bird"},
			want: "              precision    recall  f1-score   support\n\n" +
				"         cat     0.6667    0.6667    0.6667         3\n" +
				"         dog     0.7500    0.7500    0.7500         4\n" +
				"        bird     0.6667    0.6667    0.6667         3\n\n" +
				"    accuracy                         0.7000        10\n" +
				"   macro avg     0.6944    0.6944    0.6944        10\n" +
				"weighted avg     0.7000    0.7000    0.7000        10\n",
		},
		{
			// A name longer than "weighted avg" widens the first column; class 3 is never
			// predicted (precision 0/0 → 0).
			name:       "long name and a class never predicted",
			yTrue:      []int32{0, 0, 1, 1, 1, 2, 2, 3, 0, 1},
			yPred:      []int32{0, 2, 1, 1, 0, 2, 0, 2, 0, 1},
			classNames: []string{"a", "b", "a_very_long_class_name", "never_true"},
			want: "                        precision    recall  f1-score   support\n\n" +
				"                     a     0.5000    0.6667    0.5714         3\n" +
				"                     b     1.0000    0.7500    0.8571         4\n" +
				"a_very_long_class_name     0.3333    0.5000    0.4000         2\n" +
				"            never_true     0.0000    0.0000    0.0000         1\n\n" +
				"              accuracy                         0.6000        10\n" +
				"             macro avg     0.4583    0.4792    0.4571        10\n" +
				"          weighted avg     0.6167    0.6000    0.5943        10\n",
		},
		{
			// A class without samples nor predictions scores 0 and counts in the macro average.
			name:       "absent class",
			yTrue:      []int32{0, 1, 0, 1},
			yPred:      []int32{0, 1, 1, 1},
			classNames: []string{"x", "y", "absent"},
			want: "              precision    recall  f1-score   support\n\n" +
				"           x     1.0000    0.5000    0.6667         2\n" +
				"           y     0.6667    1.0000    0.8000         2\n" +
				"      absent     0.0000    0.0000    0.0000         0\n\n" +
				"    accuracy                         0.7500         4\n" +
				"   macro avg     0.5556    0.5000    0.4889         4\n" +
				"weighted avg     0.8333    0.7500    0.7333         4\n",
		},
	}
	for _, tc := range tests {
		r, err := metrics.ClassificationReport(tc.yTrue, tc.yPred, tc.classNames)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := r.String(); got != tc.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tc.name, got, tc.want)
		}
		if acc := metrics.Accuracy(tc.yTrue, tc.yPred); acc != r.Accuracy {
			t.Errorf("%s: Accuracy = %v, report accuracy %v", tc.name, acc, r.Accuracy)
		}
	}
}

func TestClassificationReportValues(t *testing.T) {
	// The "three classes" example by hand: cat TP=2 of 3 predicted, 3 samples; dog TP=3 of 4, 4;
	// bird TP=2 of 3, 3.
	r, err := metrics.ClassificationReport([]int32{0, 0, 0, 1, 1, 1, 1, 2, 2, 2}, []int32{0, 1, 0, 1, 1, 2, 1, 2, 0, 2},
		[]string{"cat", "dog", "bird"})
	if err != nil {
		t.Fatal(err)
	}
	want := &metrics.Report{
		Classes: []metrics.ClassScores{
			{"cat", 2.0 / 3, 2.0 / 3, 4.0 / 6, 3},
			{"dog", 3.0 / 4, 3.0 / 4, 6.0 / 8, 4},
			{"bird", 2.0 / 3, 2.0 / 3, 4.0 / 6, 3},
		},
		Accuracy:    7.0 / 10,
		MacroAvg:    metrics.ClassScores{"macro avg", (2.0/3 + 3.0/4 + 2.0/3) / 3, (2.0/3 + 3.0/4 + 2.0/3) / 3, (2.0/3 + 3.0/4 + 2.0/3) / 3, 10},
		WeightedAvg: metrics.ClassScores{"weighted avg", 0.7, 0.7, 0.7, 10},
	}
	// float64 arithmetic in a different order: a few ulps (1e-15) of difference at most.
	const tolerance = 1e-12
	close := func(a, b metrics.ClassScores) bool {
		return a.Name == b.Name && a.Support == b.Support && math.Abs(a.Precision-b.Precision) < tolerance &&
			math.Abs(a.Recall-b.Recall) < tolerance && math.Abs(a.F1-b.F1) < tolerance
	}
	for i := range want.Classes {
		if !close(r.Classes[i], want.Classes[i]) {
			t.Errorf("class %d: got %+v, want %+v", i, r.Classes[i], want.Classes[i])
		}
	}
	if !close(r.MacroAvg, want.MacroAvg) || !close(r.WeightedAvg, want.WeightedAvg) ||
		math.Abs(r.Accuracy-want.Accuracy) > tolerance {
		t.Errorf("averages: got %+v / %+v / %v, want %+v / %+v / %v", r.MacroAvg, r.WeightedAvg, r.Accuracy,
			want.MacroAvg, want.WeightedAvg, want.Accuracy)
	}
}

func TestClassificationReportErrors(t *testing.T) {
	tests := []struct {
		name         string
		yTrue, yPred []int32
		classNames   []string
	}{
		{"no class names", []int32{0}, []int32{0}, nil},
		{"no samples", nil, nil, []string{"a"}},
		{"length mismatch", []int32{0, 1}, []int32{0}, []string{"a", "b"}},
		{"label out of range", []int32{0, 2}, []int32{0, 1}, []string{"a", "b"}},
		{"negative prediction", []int32{0, 1}, []int32{0, -1}, []string{"a", "b"}},
	}
	for _, tc := range tests {
		if _, err := metrics.ClassificationReport(tc.yTrue, tc.yPred, tc.classNames); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestAccuracy(t *testing.T) {
	tests := []struct {
		yTrue, yPred []int32
		want         float64
	}{
		{[]int32{0, 1, 2, 3}, []int32{0, 1, 2, 3}, 1},
		{[]int32{0, 1, 2, 3}, []int32{0, 1, 0, 0}, 0.5},
		{[]int32{5}, []int32{4}, 0},
	}
	for _, tc := range tests {
		if got := metrics.Accuracy(tc.yTrue, tc.yPred); got != tc.want {
			t.Errorf("Accuracy(%v, %v) = %v, want %v", tc.yTrue, tc.yPred, got, tc.want)
		}
	}
	if got := metrics.Accuracy(nil, nil); !math.IsNaN(got) {
		t.Errorf("Accuracy of no samples = %v, want NaN", got)
	}
	if got := metrics.Accuracy([]int32{1, 2}, []int32{1}); !math.IsNaN(got) {
		t.Errorf("Accuracy of mismatched lengths = %v, want NaN", got)
	}
}

func TestConfusionMatrix(t *testing.T) {
	m, err := metrics.ConfusionMatrix([]int32{0, 0, 0, 1, 1, 1, 1, 2, 2, 2}, []int32{0, 1, 0, 1, 1, 2, 1, 2, 0, 2}, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{2, 1, 0}, {0, 3, 1}, {1, 0, 2}} // scikit-learn's confusion_matrix.
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %v, want %v", m, want)
	}
	text := metrics.FormatConfusionMatrix(m, []string{"cat", "dog", "pickup_truck"})
	wantText := "" +
		"true \\ pred   cat  dog  pickup_truck\n" +
		"cat             2    1             0\n" +
		"dog             0    3             1\n" +
		"pickup_truck    1    0             2\n"
	if text != wantText {
		t.Errorf("FormatConfusionMatrix: got\n%s\nwant\n%s", text, wantText)
	}
	for _, bad := range []struct {
		yTrue, yPred []int32
		n            int
	}{
		{[]int32{0}, []int32{0, 1}, 2},
		{[]int32{0}, []int32{3}, 2},
		{[]int32{0}, []int32{0}, 0},
	} {
		if _, err := metrics.ConfusionMatrix(bad.yTrue, bad.yPred, bad.n); err == nil {
			t.Errorf("ConfusionMatrix(%v, %v, %d): no error", bad.yTrue, bad.yPred, bad.n)
		}
	}
}

func TestLectureReports(t *testing.T) {
	train, test := lecture.Reports()
	// The slides' numbers, as printed with 4 digits.
	type row struct {
		p, r, f1 string
		support  int
	}
	wantTest := []row{{"0.9238", "0.9700", "0.9463", 100}, {"0.8515", "0.8600", "0.8557", 100},
		{"0.9043", "0.8500", "0.8763", 100}}
	for i, c := range test.Classes {
		got := row{fmt.Sprintf("%.4f", c.Precision), fmt.Sprintf("%.4f", c.Recall), fmt.Sprintf("%.4f", c.F1), c.Support}
		if got != wantTest[i] {
			t.Errorf("test class %s: got %+v, want %+v (slide)", c.Name, got, wantTest[i])
		}
	}
	if got := fmt.Sprintf("%.4f", test.Accuracy); got != "0.8933" {
		t.Errorf("test accuracy %s, want 0.8933 (slide)", got)
	}
	// A confusion matrix with those counts (one of several) gives the same report through
	// ClassificationReport; its text is scikit-learn's for that matrix.
	yTrue, yPred := fromMatrix([][]int{{97, 3, 0}, {5, 86, 9}, {3, 12, 85}})
	computed, err := metrics.ClassificationReport(yTrue, yPred, lecture.ClassNames())
	if err != nil {
		t.Fatal(err)
	}
	wantText := "              precision    recall  f1-score   support\n\n" +
		"       apple     0.9238    0.9700    0.9463       100\n" +
		"       otter     0.8515    0.8600    0.8557       100\n" +
		"pickup_truck     0.9043    0.8500    0.8763       100\n\n" +
		"    accuracy                         0.8933       300\n" +
		"   macro avg     0.8932    0.8933    0.8928       300\n" +
		"weighted avg     0.8932    0.8933    0.8928       300\n"
	if test.String() != wantText || computed.String() != wantText {
		t.Errorf("lecture test report:\n%s\ncomputed from a matrix:\n%s\nwant:\n%s", test, computed, wantText)
	}
	wantTrain := "              precision    recall  f1-score   support\n\n" +
		"       apple     1.0000    1.0000    1.0000       500\n" +
		"       otter     1.0000    1.0000    1.0000       500\n" +
		"pickup_truck     1.0000    1.0000    1.0000       500\n\n" +
		"    accuracy                         1.0000      1500\n" +
		"   macro avg     1.0000    1.0000    1.0000      1500\n" +
		"weighted avg     1.0000    1.0000    1.0000      1500\n"
	if train.String() != wantTrain {
		t.Errorf("lecture train report:\n%s\nwant:\n%s", train, wantTrain)
	}
}

func TestSideBySide(t *testing.T) {
	train, test := lecture.Reports()
	text := metrics.SideBySide(test, train, "test", "train")
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	testLines := strings.Split(strings.TrimSuffix(test.String(), "\n"), "\n")
	trainLines := strings.Split(strings.TrimSuffix(train.String(), "\n"), "\n")
	if len(lines) != len(testLines)+2 {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(testLines)+2, text)
	}
	if !strings.HasPrefix(lines[0], "test") || !strings.HasSuffix(lines[0], "train") {
		t.Errorf("title line %q", lines[0])
	}
	for i := range testLines {
		line := lines[i+2]
		if !strings.HasPrefix(line, testLines[i]) || !strings.HasSuffix(line, strings.TrimRight(trainLines[i], " ")) {
			t.Errorf("line %d %q does not join %q and %q", i, line, testLines[i], trainLines[i])
		}
	}
	if got := metrics.SideBySide(nil, train); !strings.Contains(got, "(no report)") || !strings.HasPrefix(got, "ours") {
		t.Errorf("nil report:\n%s", got)
	}
}

func TestReportJSON(t *testing.T) {
	_, test := lecture.Reports()
	data, err := json.Marshal(test)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"classes", "accuracy", "macro avg", "weighted avg"} {
		if _, ok := fields[key]; !ok {
			t.Errorf("JSON has no %q: %s", key, data)
		}
	}
	var back metrics.Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, test) {
		t.Errorf("JSON round trip: got %+v, want %+v", back, *test)
	}
}
