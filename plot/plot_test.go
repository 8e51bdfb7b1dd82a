package plot

import (
	"bytes"
	"image/png"
	"math"
	"testing"
)

func TestChartPNG(t *testing.T) {
	chart := Chart{Title: "loss", XLabel: "epoch", YLabel: "loss", Series: []Series{
		{Name: "train", X: Range(1, 3), Y: []float64{1, 0.5, 0.25}},
		{Name: "test", X: Range(1, 3), Y: []float64{1.1, 0.7, 0.6}, Dashed: true},
	}}
	data, err := chart.PNG()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 150 {
		t.Errorf("image %v too small", b)
	}
}

func TestChartErrors(t *testing.T) {
	tests := map[string]Chart{
		"no series":  {Title: "x"},
		"length":     {Series: []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1}}}},
		"empty":      {Series: []Series{{Name: "a"}}},
		"not finite": {Series: []Series{{Name: "a", X: []float64{1}, Y: []float64{math.NaN()}}}},
	}
	for name, chart := range tests {
		if _, err := chart.PNG(); err == nil {
			t.Errorf("%s: PNG() = nil error, want an error", name)
		}
	}
}

func TestTiles(t *testing.T) {
	img, err := Tiles([][]float32{{0, 1, 2, 3}, {5, 5, 5, 5}, {3, 2, 1, 0}}, 2, 2, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	// 2 columns of (2·3+1) pixels plus a border; 2 rows.
	if got := img.Bounds().Dx(); got != 15 {
		t.Errorf("width %d, want 15", got)
	}
	if got := img.Bounds().Dy(); got != 15 {
		t.Errorf("height %d, want 15", got)
	}
	// Tile 0: value 0 at (0,0) is black, value 3 at (1,1) is white; tile 1 is constant → gray.
	if c := img.RGBAAt(1, 1); c.R != 0 {
		t.Errorf("min pixel %v, want black", c)
	}
	if c := img.RGBAAt(1+3, 1+3); c.R != 255 {
		t.Errorf("max pixel %v, want white", c)
	}
	if c := img.RGBAAt(8, 1); c.R != 128 {
		t.Errorf("constant tile pixel %v, want gray 128", c)
	}
	if _, err := Tiles([][]float32{{1, 2, 3}}, 2, 2, 1, 1); err == nil {
		t.Error("Tiles with a wrong map size: want an error")
	}
}

func TestRGBTiles(t *testing.T) {
	m := []float32{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2} // R=0, G=1, B=2 over a 2×2 map
	img, err := RGBTiles([][]float32{m}, 2, 2, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c := img.RGBAAt(1, 1); c.R != 0 || c.G != 128 || c.B != 255 {
		t.Errorf("pixel %v, want (0,128,255)", c)
	}
}
