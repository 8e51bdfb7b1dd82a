package metrics_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/metrics"
)

func TestGroupReport(t *testing.T) {
	// Classes 0, 1 in group "a"; 2, 3 in group "b"; group "c" has no class.
	groupOf := []int{0, 0, 1, 1}
	names := []string{"a", "b", "c"}
	m := [][]int{
		{3, 1, 0, 0}, // class 0: 3 right, 1 as its group-mate 1.
		{0, 2, 2, 0}, // class 1: 2 right, 2 as class 2 of group b.
		{0, 0, 4, 0},
		{1, 0, 1, 2}, // class 3: 2 right, 1 in group, 1 in group a.
	}
	yTrue, yPred := fromMatrix(m)
	got, err := metrics.GroupReport(yTrue, yPred, groupOf, names)
	if err != nil {
		t.Fatal(err)
	}
	want := []metrics.GroupScores{
		{Name: "a", Support: 8, Accuracy: 5.0 / 8, GroupAccuracy: 6.0 / 8},
		{Name: "b", Support: 8, Accuracy: 6.0 / 8, GroupAccuracy: 7.0 / 8},
		{Name: "c"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GroupReport = %+v, want %+v", got, want)
	}
	text := metrics.FormatGroupReport(got)
	if !strings.Contains(text, "         a    0.6250    0.7500         8") {
		t.Errorf("FormatGroupReport:\n%s", text)
	}
}

func TestGroupReportErrors(t *testing.T) {
	tests := []struct {
		name         string
		yTrue, yPred []int32
		groupOf      []int
		want         string
	}{
		{"lengths", []int32{0}, nil, []int{0}, "1 true labels but 0 predictions"},
		{"group", []int32{0}, []int32{0}, []int{1}, "class 0 is in group 1"},
		{"label", []int32{2}, []int32{0}, []int{0, 0}, "sample 0 has label 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := metrics.GroupReport(tc.yTrue, tc.yPred, tc.groupOf, []string{"a"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestMostConfused(t *testing.T) {
	m := [][]int{
		{5, 2, 3},
		{0, 9, 1},
		{3, 0, 7},
	}
	got := metrics.MostConfused(m, []string{"cat", "dog"}, 3)
	want := []metrics.ConfusedPair{
		{True: "cat", Predicted: "2", Count: 3, Fraction: 0.3},
		{True: "2", Predicted: "cat", Count: 3, Fraction: 0.3},
		{True: "cat", Predicted: "dog", Count: 2, Fraction: 0.2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MostConfused = %+v, want %+v", got, want)
	}
	if n := len(metrics.MostConfused(m, nil, 100)); n != 4 {
		t.Errorf("MostConfused(k=100) has %d pairs, want the 4 non-zero off-diagonal cells", n)
	}
}
