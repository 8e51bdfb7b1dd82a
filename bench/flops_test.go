package bench

import (
	"math"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
)

// TestLectureCNNFLOPs checks the count against a hand computation for the lecture's CNN:
// conv1 3→32, 5×5, stride 4, pad 2 on 32×32 gives 8×8 outputs: 8·8·32·3·25 = 153,600 MACs;
// conv2 32→64, 3×3, pad 1 on 8×8: 8·8·64·32·9 = 1,179,648 MACs; linear 256→C: 256·C MACs.
// Training: forward + weight gradient for every layer, + input gradient except for conv1.
func TestLectureCNNFLOPs(t *testing.T) {
	for _, c := range []int{3, 100} {
		got, err := TrainFLOPsPerImage(cnn.LectureCNN(c))
		if err != nil {
			t.Fatal(err)
		}
		want := int64(2 * (153600*2 + 1179648*3 + 256*c*3))
		if got != want {
			t.Errorf("C=%d: train FLOPs %d, want %d", c, got, want)
		}
		fwd, _ := ForwardFLOPsPerImage(cnn.LectureCNN(c))
		if want := int64(2 * (153600 + 1179648 + 256*c)); fwd != want {
			t.Errorf("C=%d: forward FLOPs %d, want %d", c, fwd, want)
		}
	}
	// MLP 3072→512→3: 3072·512 + 512·3 MACs forward.
	got, _ := TrainFLOPsPerImage(cnn.MLP(512, 3))
	if want := int64(2 * (3072*512*2 + 512*3*3)); got != want {
		t.Errorf("MLP: train FLOPs %d, want %d", got, want)
	}
}

func TestPeak(t *testing.T) {
	bits, fma := VectorWidth(map[string]bool{"avx512f": true, "avx2": true, "fma": true})
	if bits != 512 || !fma {
		t.Fatalf("VectorWidth = %d, %v", bits, fma)
	}
	// 2 cores × 2.3 GHz × 16 lanes × 2 × 2 units = 294.4 GFLOP/s.
	if p, _ := Peak(2, 2300, bits, fma, 2); math.Abs(p-294.4) > 1e-9 {
		t.Errorf("Peak = %g, want 294.4", p)
	}
	if m := Median([]float64{5, 1, 3, 2, 4}); m != 3 {
		t.Errorf("Median = %g", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("Median = %g", m)
	}
}

// TestFMAUnitsFor checks the FMA pipes assumed per CPU: Zen 4's AVX-512 is double-pumped (one
// 512-bit FMA per cycle: this project's 2-core EPYC peaks at 2 × 2.596 GHz × 16 × 2 × 1 = 166.1
// GFLOP/s), Zen 3 (AVX2) and Intel AVX-512 cores have two full-width pipes.
func TestFMAUnitsFor(t *testing.T) {
	for _, tc := range []struct {
		vendor       string
		family, bits int
		want         int
	}{
		{"AuthenticAMD", 25, 512, 1},
		{"AuthenticAMD", 25, 256, 2},
		{"AuthenticAMD", 23, 256, 2},
		{"GenuineIntel", 6, 512, 2},
		{"", 0, 512, 2},
	} {
		if got := FMAUnitsFor(tc.vendor, tc.family, tc.bits); got != tc.want {
			t.Errorf("FMAUnitsFor(%q, %d, %d) = %d, want %d", tc.vendor, tc.family, tc.bits, got, tc.want)
		}
	}
	if p, _ := Peak(2, 2596, 512, true, FMAUnitsFor("AuthenticAMD", 25, 512)); math.Abs(p-166.144) > 1e-9 {
		t.Errorf("Zen 4 peak = %g GFLOP/s, want 166.144", p)
	}
}
