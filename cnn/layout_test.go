package cnn

import (
	"context"
	"math"
	"testing"
)

// TestChannelsLastEqual checks that running the convolutions in NHWC (convChannelsLast), with the
// backend's convolution or with im2col (convMethod), gives the NCHW results within 1e-5: logits,
// activations of a prefix, and the weights after training steps, on every backend, for both
// lecture CNNs.
func TestChannelsLastEqual(t *testing.T) {
	savedLayout, savedMethod := convChannelsLast, convMethod
	defer func() { convChannelsLast, convMethod = savedLayout, savedMethod }()
	set := syntheticSet(48, 3)
	for name, b := range newBackends(t) {
		for _, m := range []*Model{LectureCNN(3), LectureCNNMaxPool(3)} {
			t.Run(name+"/"+m.Name, func(t *testing.T) {
				run := func(channelsLast bool, method string) (logits, acts, weights []float32) {
					convChannelsLast, convMethod = channelsLast, method
					tr, err := NewTrained(m, 3)
					if err != nil {
						t.Fatal(err)
					}
					cfg := quickConfig(1)
					if _, err := Train(context.Background(), b, tr, set, nil, cfg); err != nil {
						t.Fatal(err)
					}
					images := ImagesTensor(set, 0, 8, 8)
					if logits, err = NewEvaluator(b, tr).Logits(images); err != nil {
						t.Fatal(err)
					}
					if acts, _, err = Activations(b, tr, 4, images); err != nil {
						t.Fatal(err)
					}
					return logits, acts, allWeights(t, tr)
				}
				l0, a0, w0 := run(false, convNative)
				for _, method := range []string{convNative, convIm2col, convAuto} {
					l1, a1, w1 := run(true, method)
					for what, pair := range map[string][2][]float32{"logits": {l0, l1}, "activations": {a0, a1}, "weights": {w0, w1}} {
						if len(pair[0]) != len(pair[1]) {
							t.Fatalf("%s: %d vs %d values", what, len(pair[0]), len(pair[1]))
						}
						worst := 0.0
						for i := range pair[0] {
							worst = math.Max(worst, math.Abs(float64(pair[0][i]-pair[1][i])))
						}
						if worst > 1e-5 {
							t.Errorf("%s: NCHW and NHWC with %s differ by %g > 1e-5", what, method, worst)
						}
					}
				}
			})
		}
	}
}

// TestPoolReshapeEqual checks that average pooling as a reshape and a mean (poolReshape) gives the
// reduce-window pooling's results within 1e-5: logits, activations up to the pooling and the
// weights after training steps (its gradient differs), on every backend.
func TestPoolReshapeEqual(t *testing.T) {
	saved := poolReshape
	defer func() { poolReshape = saved }()
	set := syntheticSet(48, 3)
	for name, b := range newBackends(t) {
		t.Run(name, func(t *testing.T) {
			run := func(reshape bool) (logits, acts, weights []float32) {
				poolReshape = reshape
				tr, err := NewTrained(LectureCNN(3), 3)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := Train(context.Background(), b, tr, set, nil, quickConfig(2)); err != nil {
					t.Fatal(err)
				}
				images := ImagesTensor(set, 0, 8, 8)
				if logits, err = NewEvaluator(b, tr).Logits(images); err != nil {
					t.Fatal(err)
				}
				if acts, _, err = Activations(b, tr, 6, images); err != nil {
					t.Fatal(err)
				}
				return logits, acts, allWeights(t, tr)
			}
			l0, a0, w0 := run(false)
			l1, a1, w1 := run(true)
			for what, pair := range map[string][2][]float32{"logits": {l0, l1}, "activations": {a0, a1}, "weights": {w0, w1}} {
				if len(pair[0]) != len(pair[1]) {
					t.Fatalf("%s: %d vs %d values", what, len(pair[0]), len(pair[1]))
				}
				worst := 0.0
				for i := range pair[0] {
					worst = math.Max(worst, math.Abs(float64(pair[0][i]-pair[1][i])))
				}
				if worst > 1e-5 {
					t.Errorf("%s: reduce-window and reshape pooling differ by %g > 1e-5", what, worst)
				}
			}
		})
	}
}
