package training

import (
	"strings"
	"testing"
	"time"
)

func TestProgressPlainLines(t *testing.T) {
	tests := []struct {
		epochs     int
		wantEpochs []string
	}{
		{60, []string{"epoch 1/60:", "epoch 6/60:", "epoch 12/60:", "epoch 54/60:", "epoch 60/60:"}},
		{3, []string{"epoch 1/3:", "epoch 2/3:", "epoch 3/3:"}},
	}
	for _, tc := range tests {
		var out strings.Builder
		p := NewProgress(&out, tc.epochs, 23, 64)
		p.LineInterval = time.Hour // no timed step lines in this test
		for epoch := range tc.epochs {
			p.Step(epoch, 1, 1.0, 0.5, 0, 0)
			p.Epoch(EpochStats{Epoch: epoch + 1, TrainLoss: 0.5})
		}
		text := out.String()
		if strings.Contains(text, "\033") {
			t.Errorf("%d epochs: ANSI sequences in plain output", tc.epochs)
		}
		if got := strings.Count(text, "(compiling)"); got != 1 {
			t.Errorf("%d epochs: %d compiling lines, want 1 (only the first step compiles)", tc.epochs, got)
		}
		wantLines := 1 + min(tc.epochs, 11) // the compiling line and the shown epochs
		if got := strings.Count(text, "\n"); got != wantLines {
			t.Errorf("%d epochs: %d lines, want %d:\n%s", tc.epochs, got, wantLines, text)
		}
		for _, want := range tc.wantEpochs {
			if !strings.Contains(text, want) {
				t.Errorf("%d epochs: no line %q in:\n%s", tc.epochs, want, text)
			}
		}
	}
}

func TestProgressNilIsSilent(t *testing.T) {
	var p *Progress
	p.Step(0, 1, 1, 1, 1, time.Second)
	p.Epoch(EpochStats{Epoch: 1})
	p.Printf("x")
	NewProgress(nil, 1, 1, 1).Epoch(EpochStats{Epoch: 1})
}
