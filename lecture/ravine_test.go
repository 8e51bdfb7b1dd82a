package lecture

import (
	"bytes"
	"image/png"
	"math"
	"testing"
)

func TestRavineMomentum(t *testing.T) {
	r := Ravine{A: 1, B: 10}
	tests := []struct {
		name        string
		rate, alpha float64
		want        []Point
	}{
		// SGD: θ ← θ − ε(x, 10y): (1,1) → (0.9, 0) → (0.81, 0).
		{"sgd", 0.1, 0, []Point{{1, 1}, {0.9, 0}, {0.81, 0}}},
		// Momentum 0.5: v₁ = (−0.1, −1), θ₁ = (0.9, 0); v₂ = 0.5·v₁ − 0.1·(0.9, 0) = (−0.14, −0.5), θ₂ = (0.76, −0.5).
		{"momentum", 0.1, 0.5, []Point{{1, 1}, {0.9, 0}, {0.76, -0.5}}},
		// Across the ravine ε·B = 2.5 > 2: plain SGD overshoots further every step (y: 1 → −1.5 → 2.25).
		{"sgd unstable across", 0.25, 0, []Point{{1, 1}, {0.75, -1.5}, {0.5625, 2.25}}},
	}
	for _, tc := range tests {
		got, err := r.Momentum(Point{1, 1}, tc.rate, tc.alpha, 2)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d points, want %d", tc.name, len(got), len(tc.want))
		}
		for i := range got {
			if math.Abs(got[i].X-tc.want[i].X) > 1e-12 || math.Abs(got[i].Y-tc.want[i].Y) > 1e-12 {
				t.Errorf("%s: point %d = %v, want %v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
	for _, bad := range []struct {
		r           Ravine
		rate, alpha float64
	}{{Ravine{0, 1}, 0.1, 0}, {r, 0, 0}, {r, 0.1, 1}, {r, 0.1, -0.1}} {
		if _, err := bad.r.Momentum(Point{1, 1}, bad.rate, bad.alpha, 3); err == nil {
			t.Errorf("Momentum(%v, rate %g, α %g) gave no error", bad.r, bad.rate, bad.alpha)
		}
	}
}

func TestRavineLossAndContour(t *testing.T) {
	r := Ravine{A: 2, B: 8}
	if got := r.Loss(Point{1, 0.5}); got != 2 { // (2·1 + 8·0.25)/2
		t.Errorf("Loss = %g, want 2", got)
	}
	xs, ys := r.Contour(4, 4) // semi-axes √(8/2) = 2 and √(8/8) = 1
	want := []Point{{2, 0}, {0, 1}, {-2, 0}, {0, -1}, {2, 0}}
	for i, p := range want {
		if math.Abs(xs[i]-p.X) > 1e-12 || math.Abs(ys[i]-p.Y) > 1e-12 {
			t.Errorf("contour point %d = (%g, %g), want %v", i, xs[i], ys[i], p)
		}
		if l := r.Loss(Point{xs[i], ys[i]}); math.Abs(l-4) > 1e-12 {
			t.Errorf("contour point %d has loss %g, want 4", i, l)
		}
	}
}

func TestConvWindows(t *testing.T) {
	tests := []struct {
		n, k, p, s int
		wantOut    int
		wantLast   Window
	}{
		{5, 3, 1, 2, 3, Window{4, 4, 3}}, // the slide: 5×5, padding 1, stride 2 → 3×3
		{5, 3, 1, 1, 5, Window{4, 4, 3}},
		{32, 5, 2, 4, 8, Window{28, 28, 5}}, // the lecture CNN's first convolution
		{4, 2, 0, 2, 2, Window{2, 2, 2}},    // pooling 2×2, stride 2
		{5, 2, 0, 3, 2, Window{3, 3, 2}},    // stride > kernel: row and column 2 never covered
	}
	for _, tc := range tests {
		out, windows, err := ConvWindows(tc.n, tc.k, tc.p, tc.s)
		if err != nil {
			t.Fatal(err)
		}
		if out != tc.wantOut || len(windows) != out*out || windows[len(windows)-1] != tc.wantLast {
			t.Errorf("ConvWindows(%d,%d,%d,%d) = %d, %d windows, last %v; want %d, last %v",
				tc.n, tc.k, tc.p, tc.s, out, len(windows), windows[len(windows)-1], tc.wantOut, tc.wantLast)
		}
	}
	if _, _, err := ConvWindows(3, 7, 1, 1); err == nil {
		t.Error("a kernel larger than the padded input gave no error")
	}
}

func TestDrawWindow(t *testing.T) {
	// The slide's example, output cell 1 (row 0, column 1): the window covers padded rows 0..2,
	// columns 2..4. Cells are 10 pixels; the centre of padded cell (y, x) is at (10x+5, 10y+5).
	img, err := DrawWindow(5, 3, 1, 2, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 71 || b.Dy() != 71 {
		t.Fatalf("image %v, want 71×71", b)
	}
	tests := []struct {
		y, x int
		want [3]uint8
	}{
		{0, 0, [3]uint8{225, 225, 225}}, // padding
		{0, 2, [3]uint8{240, 150, 40}},  // window over the padding
		{2, 4, [3]uint8{240, 150, 40}},  // window over the input
		{3, 3, [3]uint8{120, 160, 210}}, // input outside the window
	}
	for _, tc := range tests {
		c := img.RGBAAt(10*tc.x+5, 10*tc.y+5)
		if [3]uint8{c.R, c.G, c.B} != tc.want {
			t.Errorf("cell (%d, %d) = %v, want %v", tc.y, tc.x, c, tc.want)
		}
	}
	// Stride 3 with a 2×2 kernel on 5×5 never covers row 2: drawn faded (blended with white).
	img, err = DrawWindow(5, 2, 0, 3, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if c := img.RGBAAt(5, 25); c.R != 187 || c.G != 207 || c.B != 232 {
		t.Errorf("uncovered cell = %v, want {187 207 232}", c)
	}
	if _, err := DrawWindow(5, 3, 1, 2, 9, 10); err == nil {
		t.Error("output cell 9 of a 3×3 map gave no error")
	}
}

func TestWindowsFigure(t *testing.T) {
	tests := []struct {
		n, k, p, s, maxTiles int
		wantOut              int
	}{{5, 3, 1, 2, 16, 3}, {32, 5, 2, 4, 16, 8}, {7, 3, 0, 1, 4, 5}}
	for _, tc := range tests {
		data, out, err := WindowsFigure(tc.n, tc.k, tc.p, tc.s, tc.maxTiles)
		if err != nil {
			t.Fatal(err)
		}
		if out != tc.wantOut {
			t.Errorf("WindowsFigure(%d,%d,%d,%d) output %d, want %d", tc.n, tc.k, tc.p, tc.s, out, tc.wantOut)
		}
		if _, err := png.Decode(bytes.NewReader(data)); err != nil {
			t.Errorf("WindowsFigure(%d,%d,%d,%d): %v", tc.n, tc.k, tc.p, tc.s, err)
		}
	}
	if _, _, err := WindowsFigure(5, 3, 1, 2, 0); err == nil {
		t.Error("maxTiles 0 gave no error")
	}
}
