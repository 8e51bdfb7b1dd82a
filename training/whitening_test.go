package training

import (
	"context"
	"slices"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/internal/testkit"
)

// TestWhitenedStemTraining runs an Experiment of ConvNet7BN with a whitened stem (and decoupled
// weight decay, which must leave buffers alone): the stem's weight after training is exactly the
// whitening of the training images (InitWhitening on fresh weights), while its bias and the next
// convolution trained.
func TestWhitenedStemTraining(t *testing.T) {
	set := testkit.SyntheticSet(64, 2)
	b := testkit.Backends(t)["xla:cpu"]
	m := cnn.ConvNet7BN(3)
	if err := cnn.WhitenStem(m); err != nil {
		t.Fatal(err)
	}
	cfg := quickConfig(1)
	cfg.DecoupledWeightDecay, cfg.LearningRate = 0.05, 0.1
	e := &Experiment{Model: m, Train: set, Config: cfg}
	r, err := e.Run(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := cnn.NewTrained(m, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]map[string]*cnn.Param{}
	for _, path := range []string{"01_Conv2d", "03_Sequential/00_Conv2d"} {
		if before[path], err = fresh.LayerParams(path); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := InitWhitening(b, fresh, set); err != nil || n != 1 {
		t.Fatalf("InitWhitening = %d, %v; want 1 convolution", n, err)
	}
	whitened, err := fresh.LayerParams("01_Conv2d")
	if err != nil {
		t.Fatal(err)
	}
	stem, err := r.Trained.LayerParams("01_Conv2d")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stem["weight"].Data, whitened["weight"].Data) {
		t.Errorf("the whitened stem's weight changed in training (or was not whitened)")
	}
	if slices.Equal(whitened["weight"].Data, before["01_Conv2d"]["weight"].Data) {
		t.Errorf("InitWhitening left the stem's initial weight")
	}
	if slices.Equal(stem["bias"].Data, before["01_Conv2d"]["bias"].Data) {
		t.Errorf("the stem's bias did not train")
	}
	conv, err := r.Trained.LayerParams("03_Sequential/00_Conv2d")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(conv["weight"].Data, before["03_Sequential/00_Conv2d"]["weight"].Data) {
		t.Errorf("the first group's convolution did not train")
	}
}
