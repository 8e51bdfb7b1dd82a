package cnn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/internal/testkit"
	"github.com/gomlx/gomlx/core/tensors"
)

// TestSymmetricEigen checks the Jacobi eigensolver: a 2×2 case by hand (eigenvalues 3 and 1 of
// [[2,1],[1,2]], eigenvectors (1,1)/√2 and (1,−1)/√2) and, on random symmetric 12×12 matrices,
// A·v = λ·v, orthonormal eigenvectors and decreasing eigenvalues.
func TestSymmetricEigen(t *testing.T) {
	values, vectors := symmetricEigen([]float64{2, 1, 1, 2}, 2)
	if math.Abs(values[0]-3) > 1e-12 || math.Abs(values[1]-1) > 1e-12 {
		t.Fatalf("eigenvalues of [[2,1],[1,2]] = %v, want [3 1]", values)
	}
	s := 1 / math.Sqrt(2)
	if math.Abs(math.Abs(vectors[0])-s) > 1e-12 || math.Abs(vectors[0]-vectors[2]) > 1e-12 ||
		math.Abs(vectors[1]+vectors[3]) > 1e-12 {
		t.Fatalf("eigenvectors of [[2,1],[1,2]] (columns) = %v, want ±(1,1)/√2 and ±(1,−1)/√2", vectors)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 5 {
		const d = 12
		a := make([]float64, d*d)
		for i := range d {
			for j := i; j < d; j++ {
				a[i*d+j] = rng.NormFloat64()
				a[j*d+i] = a[i*d+j]
			}
		}
		values, vectors := symmetricEigen(a, d)
		for i := range d {
			if i > 0 && values[i] > values[i-1] {
				t.Fatalf("trial %d: eigenvalues not decreasing: %v", trial, values)
			}
			for r := range d {
				av := 0.0
				for c := range d {
					av += a[r*d+c] * vectors[c*d+i]
				}
				if math.Abs(av-values[i]*vectors[r*d+i]) > 1e-10 {
					t.Fatalf("trial %d: (A·v)_%d = %g for eigenvalue %d = %g, want λ·v = %g", trial, r, av, i, values[i], values[i]*vectors[r*d+i])
				}
			}
			for j := range d {
				dot := 0.0
				for r := range d {
					dot += vectors[r*d+i] * vectors[r*d+j]
				}
				want := 0.0
				if i == j {
					want = 1
				}
				if math.Abs(dot-want) > 1e-10 {
					t.Fatalf("trial %d: v_%d·v_%d = %g, want %g", trial, i, j, dot, want)
				}
			}
		}
	}
}

// correlatedImages returns n×c×h×w values whose neighbouring pixels and channels are correlated
// (a smoothed random field plus a shared channel term), as in natural images.
func correlatedImages(n, c, h, w int) []float32 {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]float32, n*c*h*w)
	for b := range n {
		for y := range h {
			for x := range w {
				shared := rng.NormFloat64()
				for ch := range c {
					v := 0.7*shared + 0.3*rng.NormFloat64()
					i := ((b*c+ch)*h+y)*w + x
					if x > 0 {
						v += 0.8 * float64(data[i-1])
					}
					data[i] = float32(v + 0.1*float64(ch))
				}
			}
		}
	}
	return data
}

// TestWhiteningFilters checks the whitening property on the patches themselves: the outputs of the
// first d filters have covariance diag(λ_i/(λ_i+ε)), the second d filters are their negatives, and
// the filters are ordered by decreasing eigenvalue (decreasing filter norm 1/√(λ+ε) reversed).
func TestWhiteningFilters(t *testing.T) {
	const n, c, h, w, k, eps = 20, 3, 9, 9, 2, 5e-4
	images := correlatedImages(n, c, h, w)
	filters, err := WhiteningFilters(images, []int{n, c, h, w}, k, eps)
	if err != nil {
		t.Fatal(err)
	}
	d := c * k * k
	if len(filters) != 2*d*d {
		t.Fatalf("%d filter values, want %d", len(filters), 2*d*d)
	}
	for i := range d * d {
		if filters[d*d+i] != -filters[i] {
			t.Fatalf("filter value %d of the second half = %g, want the negative of %g", i, filters[d*d+i], filters[i])
		}
	}
	cov := patchCovariance(images, n, c, h, w, k)
	values, _ := symmetricEigen(cov, d)
	for i := range d {
		for j := range d {
			got := 0.0 // f_i·Σ·f_j
			for r := range d {
				for s := range d {
					got += float64(filters[i*d+r]) * cov[r*d+s] * float64(filters[j*d+s])
				}
			}
			want := 0.0
			if i == j {
				want = values[i] / (values[i] + eps)
			}
			if math.Abs(got-want) > 1e-4 {
				t.Fatalf("covariance of whitened outputs %d,%d = %g, want %g", i, j, got, want)
			}
		}
	}
	for _, bad := range []struct {
		dims []int
		k    int
		eps  float64
		want string
	}{
		{[]int{n, c, h}, k, eps, "want [N,C,H,W]"},
		{[]int{n, c, 1, 1}, k, eps, "no 2×2 patch"},
		{[]int{n, c, h, w + 1}, k, eps, "values for images"},
		{[]int{n, c, h, w}, k, 0, "ε = 0"},
	} {
		if _, err := WhiteningFilters(images, bad.dims, bad.k, bad.eps); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("WhiteningFilters(dims %v, k %d, eps %g) error = %v, want one with %q", bad.dims, bad.k, bad.eps, err, bad.want)
		}
	}
}

// TestInitWhitening checks WhitenStem and Trained.InitWhitening on ConvNet7BN: the stem's weight
// becomes a buffer (trainable parameters drop by its 288 values), is set to WhiteningFilters of the
// normalised images on every backend, and a convolution of the wrong width is refused.
func TestInitWhitening(t *testing.T) {
	m := ConvNet7BN(10)
	trainable, _ := m.ParamCounts()
	if err := WhitenStem(m); err != nil {
		t.Fatal(err)
	}
	stem := m.Layers[1].(Conv2d)
	if !stem.Whiten || !strings.Contains(stem.String(), "whiten=True") {
		t.Fatalf("stem after WhitenStem = %s, want a whitening convolution", stem)
	}
	if got, _ := m.ParamCounts(); got != trainable-24*3*2*2 {
		t.Fatalf("trainable parameters with the whitened stem = %d, want %d − 288", got, trainable)
	}
	data := correlatedImages(8, 3, 32, 32) // Well-separated eigenvalues: eigenvectors stable to rounding.
	normalised := make([]float32, len(data))
	for i, v := range data {
		ch := i / 1024 % 3
		normalised[i] = (v - datasets.LectureMean[ch]) / datasets.LectureStd[ch]
	}
	want, err := WhiteningFilters(normalised, []int{8, 3, 32, 32}, 2, WhiteningEps)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range testkit.BackendNames() {
		tr, err := NewTrained(m, 1)
		if err != nil {
			t.Fatal(err)
		}
		x := tensors.FromFlatDataAndDimensions(append([]float32(nil), data...), 8, 3, 32, 32)
		n, err := tr.InitWhitening(testkit.Backends(t)[name], x)
		if err != nil || n != 1 {
			t.Fatalf("%s: InitWhitening = %d, %v; want 1 convolution set", name, n, err)
		}
		params, err := tr.Weights(1)
		if err != nil {
			t.Fatal(err)
		}
		got := params["weight"].Data
		for f := range 24 { // Each filter equal to the reference's, up to the eigenvector's sign.
			sign := float32(1)
			if got[f*12]*want[f*12] < 0 {
				sign = -1
			}
			for j := range 12 {
				i := f*12 + j
				if math.Abs(float64(sign*got[i]-want[i])) > 1e-3*math.Abs(float64(want[i]))+1e-3 {
					t.Fatalf("%s: stem weight value %d = %g, want ±%g", name, i, got[i], want[i])
				}
			}
		}
	}
	wide := &Model{Name: "wide", InputShape: cifarInput, Layers: []Layer{Conv2d{In: 3, Out: 32, Kernel: 2, Stride: 1}}}
	if err := WhitenStem(wide); err == nil || !strings.Contains(err.Error(), "24 = 2·3·2²") {
		t.Errorf("WhitenStem of a 32-channel 2×2 convolution: error %v, want one naming 24 = 2·3·2²", err)
	}
}
