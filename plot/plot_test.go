package plot

import (
	"bytes"
	"image"
	"image/color"
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

// TestChartLegendLeft checks that LegendLeft moves the legend: the top-left quarter of the plot
// area, where the rising lines are low, holds more dark pixels (the legend's text) with it.
func TestChartLegendLeft(t *testing.T) {
	dark := func(left bool) int {
		chart := Chart{Title: "accuracy", XLabel: "epoch", YLabel: "accuracy", LegendLeft: left, Series: []Series{
			{Name: "a long series name", X: Range(1, 4), Y: []float64{0.1, 0.2, 0.3, 0.4}},
			{Name: "another series", X: Range(1, 4), Y: []float64{0.1, 0.15, 0.25, 0.35}, Dashed: true},
		}}
		data, err := chart.PNG()
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		n := 0
		for y := b.Min.Y + b.Dy()/10; y < b.Min.Y+b.Dy()/3; y++ {
			for x := b.Min.X + b.Dx()/8; x < b.Min.X+b.Dx()/2; x++ {
				if r, g, bl, _ := img.At(x, y).RGBA(); r+g+bl < 3*0x8000 {
					n++
				}
			}
		}
		return n
	}
	if right, left := dark(false), dark(true); left <= right+50 {
		t.Errorf("dark pixels at the top left: %d with LegendLeft, %d without", left, right)
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

func TestTileGridPixels(t *testing.T) {
	red := image.NewRGBA(image.Rect(0, 0, 2, 2))
	for i := range 4 {
		red.SetRGBA(i%2, i/2, color.RGBA{255, 0, 0, 255})
	}
	red.SetRGBA(1, 1, color.RGBA{0, 0, 255, 255})
	data, err := TileGrid("", []Tile{{Image: red}}, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// No title, no caption: 8-pixel margins around the 6×6 enlarged image.
	if b := img.Bounds(); b.Dx() != 22 || b.Dy() != 22 {
		t.Fatalf("figure %v, want 22×22", b)
	}
	tests := []struct {
		x, y    int
		r, g, b uint32
	}{{9, 9, 255, 0, 0}, {12, 9, 255, 0, 0}, {12, 12, 0, 0, 255}, {2, 2, 255, 255, 255}}
	for _, tc := range tests {
		r, g, b, _ := img.At(tc.x, tc.y).RGBA()
		if r>>8 != tc.r || g>>8 != tc.g || b>>8 != tc.b {
			t.Errorf("pixel (%d, %d) = (%d, %d, %d), want (%d, %d, %d)", tc.x, tc.y, r>>8, g>>8, b>>8, tc.r, tc.g, tc.b)
		}
	}
	captioned, err := TileGrid("Заголовок", []Tile{{Image: red, Caption: "apple → otter (0.93)"}, {Image: red, Caption: "два\nряда"}}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	img, err = png.Decode(bytes.NewReader(captioned))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dy() != 8+14+10+6+2*14+8 {
		t.Errorf("captioned figure height %d, want %d (margins, title, image, two caption lines)", b.Dy(), 8+14+10+6+2*14+8)
	}
	for _, bad := range []struct {
		tiles       []Tile
		cols, scale int
	}{{nil, 1, 1}, {[]Tile{{Image: red}}, 0, 1}, {[]Tile{{Image: red}}, 1, 0}, {[]Tile{{}}, 1, 1}} {
		if _, err := TileGrid("bad", bad.tiles, bad.cols, bad.scale); err == nil {
			t.Errorf("TileGrid(%d tiles, %d columns, scale %d) gave no error", len(bad.tiles), bad.cols, bad.scale)
		}
	}
}

func TestHeatColor(t *testing.T) {
	tests := []struct {
		shade float64
		want  color.RGBA
	}{
		{0, color.RGBA{255, 255, 255, 255}},
		{1, color.RGBA{8, 48, 107, 255}},
		{0.5, color.RGBA{132, 152, 181, 255}},
		{-1, color.RGBA{255, 255, 255, 255}},
		{2, color.RGBA{8, 48, 107, 255}},
	}
	for _, tc := range tests {
		if got := HeatColor(tc.shade); got != tc.want {
			t.Errorf("HeatColor(%g) = %v, want %v", tc.shade, got, tc.want)
		}
	}
}

func TestHeatmap(t *testing.T) {
	names := []string{"apple", "otter", "pickup_truck"}
	counts := [][]int{{98, 1, 1}, {3, 85, 12}, {3, 13, 84}}
	data, err := Heatmap("Матрица ошибок", counts, names, names, "предсказанный класс", "истинный класс")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// The largest count (98, top-left) is the darkest cell; find it by its colour on the diagonal's
	// first row: some pixel of the figure is HeatColor(1), and one is HeatColor(1/98).
	found := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			found[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}] = true
		}
	}
	for _, shade := range []float64{1, 1.0 / 98, 85.0 / 98, 12.0 / 98} {
		if !found[HeatColor(shade)] {
			t.Errorf("no cell of colour HeatColor(%.4f) = %v", shade, HeatColor(shade))
		}
	}
	if _, err := Heatmap("bad", [][]int{{1, 2}}, names[:1], names, "", ""); err == nil {
		t.Error("a row shorter than the column names gave no error")
	}
	if _, err := Heatmap("bad", [][]int{{-1}}, names[:1], names[:1], "", ""); err == nil {
		t.Error("a negative count gave no error")
	}
}

func TestChartLogYAndMarks(t *testing.T) {
	c := Chart{Title: "t", LogY: true, Marks: []Mark{{X: 2, Label: "τ"}},
		Series: []Series{{Name: "a", X: []float64{1, 2, 3}, Y: []float64{1, 10, 100}, Points: true}, {Name: "c", X: []float64{1, 3}, Y: []float64{2, 3}, Gray: true, NoLegend: true}}}
	if _, err := c.PNG(); err != nil {
		t.Fatal(err)
	}
	c.Series[0].Y[0] = 0
	if _, err := c.PNG(); err == nil {
		t.Error("y = 0 on a logarithmic axis gave no error")
	}
}

func TestFlow(t *testing.T) {
	data, err := Flow("граф", []Box{{Title: "вход"}, {Title: "Conv", Lines: []string{"W ⟨32×3×5×5⟩"}}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// Margins 2·8, title 14 + gap 10, arrow 22, boxes 2·6 + 13 + 3 (+ 14 per line): 28 and 42.
	if got, want := img.Bounds().Dy(), 16+24+22+28+42; got != want {
		t.Errorf("height %d, want %d", got, want)
	}
	if _, err := Flow("empty", nil); err == nil {
		t.Error("no boxes gave no error")
	}
	if _, err := Flow("untitled", []Box{{}}); err == nil {
		t.Error("a box without a title gave no error")
	}
}
