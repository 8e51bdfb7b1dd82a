package notebook

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cnnlab/cnnlab/training"
)

func TestPlural(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{1, "1 значение"}, {3072, "3072 значения"}, {2048, "2048 значений"}, {11, "11 значений"},
		{12, "12 значений"}, {21, "21 значение"}, {22, "22 значения"}, {0, "0 значений"}, {111, "111 значений"},
		{2432, "2432 значения"}, {1024, "1024 значения"}, {25, "25 значений"}, {101, "101 значение"},
	}
	for _, tc := range tests {
		if got := Plural(tc.n, "значение", "значения", "значений"); got != tc.want {
			t.Errorf("Plural(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestRussianProgressText(t *testing.T) {
	var out strings.Builder
	p := training.NewProgress(&out, 10, 23, 64).WithText(RussianProgressText())
	p.LineInterval = 0
	p.Step(0, 1, 4.6, 0.01, 0, 0)
	p.Step(0, 3, 4.5, 0.02, 2, 2*time.Second)
	p.Epoch(training.EpochStats{Epoch: 1, TrainLoss: 1.25, TrainAccuracy: 0.5, TestLoss: 1.5, TestAccuracy: 0.4375, Seconds: 12.5, ImagesPerSecond: 117.76})
	want := "эпоха 1/10, шаг 1/23: loss 4.6000, точность 0.0100 (компиляция графа)\n" +
		"эпоха 1/10, шаг 3/23: loss 4.5000, точность 0.0200, 64 изобр./с, осталось 3m47s\n" +
		"эпоха 1/10: train loss 1.2500, точность 0.5000 | test loss 1.5000, точность 0.4375 | 12.5 с, 118 изобр./с\n"
	if got := out.String(); got != want {
		t.Errorf("progress lines:\n%s\nwant:\n%s", got, want)
	}
	// Every format takes the arguments of the English one, in the same order and kinds.
	en, ru := training.EnglishProgressText(), RussianProgressText()
	pairs := [][2]string{{en.Compiling, ru.Compiling}, {en.Step, ru.Step}, {en.Epoch, ru.Epoch}, {en.EpochUntested, ru.EpochUntested}, {en.Finished, ru.Finished}, {en.Resuming, ru.Resuming}}
	verbs := regexp.MustCompile(`%[-+ #0-9.]*[a-zA-Z]`)
	for _, pair := range pairs {
		if e, r := verbs.FindAllString(pair[0], -1), verbs.FindAllString(pair[1], -1); !slices.Equal(e, r) {
			t.Errorf("%q has verbs %v, the English %q has %v", pair[1], r, pair[0], e)
		}
	}
}
