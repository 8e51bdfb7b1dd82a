package notebook

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/plot"
	"github.com/cnnlab/cnnlab/training"
)

func TestQuickAndEpochs(t *testing.T) {
	tests := []struct {
		env        string
		wantQuick  bool
		wantEpochs int
	}{{"", false, 60}, {"1", true, 5}, {"true", true, 5}, {"0", false, 60}, {"nonsense", false, 60}}
	for _, tc := range tests {
		t.Setenv(QuickEnv, tc.env)
		if got := Quick(); got != tc.wantQuick {
			t.Errorf("Quick() with %q = %v, want %v", tc.env, got, tc.wantQuick)
		}
		if got := Epochs(60, 5); got != tc.wantEpochs {
			t.Errorf("Epochs(60, 5) with %q = %d, want %d", tc.env, got, tc.wantEpochs)
		}
	}
}

func TestOutDir(t *testing.T) {
	root := t.TempDir()
	t.Setenv(RootEnv, root)
	dir, err := OutDir("03")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "out", "notebooks", "03"); dir != want {
		t.Errorf("OutDir = %q, want %q", dir, want)
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		t.Errorf("OutDir did not create %s: %v", dir, err)
	}
	scratch := t.TempDir()
	t.Setenv(OutEnv, scratch)
	if dir, err = OutDir("05"); err != nil || dir != filepath.Join(scratch, "05") {
		t.Errorf("with %s: OutDir = %q, %v; want %q", OutEnv, dir, err, filepath.Join(scratch, "05"))
	}
}

func TestMust(t *testing.T) {
	if got := Must(7, nil); got != 7 {
		t.Errorf("Must(7, nil) = %d", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("Must with an error did not panic")
		}
	}()
	Must(0, errors.New("boom"))
}

func TestDevices(t *testing.T) {
	tests := []struct {
		env     string
		want    int
		wantErr bool
	}{{"", 1, false}, {"1", 1, false}, {"4", 4, false}, {"0", 0, true}, {"-2", 0, true}, {"two", 0, true}}
	for _, tc := range tests {
		t.Setenv(DevicesEnv, tc.env)
		got, err := Devices()
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("Devices() with $%s=%q = %d, %v; want %d, error %v", DevicesEnv, tc.env, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestCurves(t *testing.T) {
	h := []training.EpochStats{
		{Epoch: 1, TrainLoss: 0.9, TrainAccuracy: 0.5, TestLoss: 0.8, TestAccuracy: 0.6},
		{Epoch: 2, TrainLoss: 0.4, TrainAccuracy: 0.8, TestLoss: 0.5, TestAccuracy: 0.7},
	}
	loss, accuracy := Curves("CNN", h)
	tests := []struct {
		chart  plot.Chart
		series int
		want   []float64
	}{{loss, 0, []float64{0.9, 0.4}}, {loss, 1, []float64{0.8, 0.5}}, {accuracy, 0, []float64{0.5, 0.8}}, {accuracy, 1, []float64{0.6, 0.7}}}
	for _, tc := range tests {
		s := tc.chart.Series[tc.series]
		if !slices.Equal(s.Y, tc.want) || !slices.Equal(s.X, []float64{1, 2}) || s.Dashed != (tc.series == 1) {
			t.Errorf("%s series %d = %+v, want y %v at x [1 2]", tc.chart.Title, tc.series, s, tc.want)
		}
	}
	if loss.Title != "CNN: потери (cross-entropy)" || accuracy.Title != "CNN: точность" {
		t.Errorf("titles %q, %q", loss.Title, accuracy.Title)
	}
	if html, err := curvesHTML("CNN", h); err != nil || !strings.HasPrefix(html, `<img src="data:image/png;base64,`) {
		t.Errorf("curvesHTML = %.40q…, %v", html, err)
	}
	// An epoch without a test evaluation has a train point only.
	h = append([]training.EpochStats{{Epoch: 1, TrainLoss: 1.2, TestSkipped: true}}, h...)
	h[1].Epoch, h[2].Epoch = 2, 3
	loss, _ = Curves("CNN", h)
	if train, test := loss.Series[0], loss.Series[1]; !slices.Equal(train.X, []float64{1, 2, 3}) || !slices.Equal(test.X, []float64{2, 3}) ||
		!slices.Equal(test.Y, []float64{0.8, 0.5}) {
		t.Errorf("with a skipped test: train %+v, test %+v", train, test)
	}
}
