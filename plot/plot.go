// Package plot draws the figures of cnnlab's notebooks: line charts (training curves, learning-rate
// schedules) as PNG, and tiles of feature maps or filters as images.
package plot

import (
	"bytes"
	"image"
	"image/color"
	"math"

	"github.com/pkg/errors"
	gonumplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named line of a chart.
type Series struct {
	// Name is shown in the legend.
	Name string
	// X and Y are the coordinates; they must have the same length.
	X, Y []float64
	// Dashed draws the line dashed (e.g. test curves beside solid train curves).
	Dashed bool
	// Points marks every point with a dot (e.g. the steps of an optimiser's trajectory).
	Points bool
	// NoLegend leaves the series out of the legend (e.g. the contour lines behind trajectories).
	NoLegend bool
	// Gray draws the series in light gray instead of the next colour of the palette.
	Gray bool
}

// Mark is a labelled vertical line of a chart (e.g. the step τ where a schedule ends).
type Mark struct {
	// X is where the line is drawn; Label is written beside its top.
	X     float64
	Label string
}

// Chart describes a line chart.
type Chart struct {
	Title, XLabel, YLabel string
	// Width and Height in centimetres; 0 means 14×8.
	Width, Height float64
	Series        []Series
	// LogY draws the y axis on a logarithmic scale (every y value must then be positive).
	LogY bool
	// Marks are vertical lines drawn across the chart.
	Marks []Mark
	// LegendLeft puts the legend at the top left instead of the top right (for lines that rise to
	// the right).
	LegendLeft bool
}

// PNG renders the chart as a PNG image.
func (c Chart) PNG() ([]byte, error) {
	if len(c.Series) == 0 {
		return nil, errors.Errorf("chart %q has no series", c.Title)
	}
	p := gonumplot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = c.YLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = c.LegendLeft
	if c.LogY {
		p.Y.Scale = gonumplot.LogScale{}
		p.Y.Tick.Marker = gonumplot.LogTicks{Prec: -1}
	}
	colour := 0
	for _, s := range c.Series {
		if len(s.X) != len(s.Y) || len(s.X) == 0 {
			return nil, errors.Errorf("chart %q: series %q has %d x and %d y values", c.Title, s.Name, len(s.X), len(s.Y))
		}
		points := make(plotter.XYs, len(s.X))
		for j := range s.X {
			if math.IsNaN(s.Y[j]) || math.IsInf(s.Y[j], 0) || math.IsNaN(s.X[j]) || math.IsInf(s.X[j], 0) {
				return nil, errors.Errorf("chart %q: series %q has a non-finite value at %d", c.Title, s.Name, j)
			}
			if c.LogY && s.Y[j] <= 0 {
				return nil, errors.Errorf("chart %q: series %q has y = %g ≤ 0 at %d on a logarithmic axis", c.Title, s.Name, s.Y[j], j)
			}
			points[j].X, points[j].Y = s.X[j], s.Y[j]
		}
		line, err := plotter.NewLine(points)
		if err != nil {
			return nil, errors.Wrapf(err, "chart %q: series %q", c.Title, s.Name)
		}
		line.Width = vg.Points(1.5)
		if s.Gray {
			line.Color = color.Gray{Y: 190}
			line.Width = vg.Points(0.8)
		} else {
			line.Color = plotutil.Color(colour)
			colour++
		}
		if s.Dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(line)
		thumbs := []gonumplot.Thumbnailer{line}
		if s.Points {
			dots, err := plotter.NewScatter(points)
			if err != nil {
				return nil, errors.Wrapf(err, "chart %q: series %q", c.Title, s.Name)
			}
			dots.Color = line.Color
			dots.Radius = vg.Points(2)
			dots.Shape = draw.CircleGlyph{}
			p.Add(dots)
			thumbs = append(thumbs, dots)
		}
		if !s.NoLegend {
			p.Legend.Add(s.Name, thumbs...)
		}
	}
	for _, m := range c.Marks {
		if math.IsNaN(m.X) || math.IsInf(m.X, 0) {
			return nil, errors.Errorf("chart %q: mark %q at a non-finite x", c.Title, m.Label)
		}
		p.Add(markLine{mark: m})
	}
	width, height := c.Width, c.Height
	if width == 0 || height == 0 {
		width, height = 14, 8
	}
	writer, err := p.WriterTo(vg.Length(width)*vg.Centimeter, vg.Length(height)*vg.Centimeter, "png")
	if err != nil {
		return nil, errors.Wrapf(err, "rendering chart %q", c.Title)
	}
	var buf bytes.Buffer
	if _, err := writer.WriteTo(&buf); err != nil {
		return nil, errors.Wrapf(err, "encoding chart %q as PNG", c.Title)
	}
	return buf.Bytes(), nil
}

// Range returns the float64 values from, from+1, …, from+n-1: the x axis of a per-epoch curve.
func Range(from, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(from + i)
	}
	return x
}

// Tiles draws maps (each h×w values, row-major) as grayscale tiles in a grid of cols columns, each pixel
// scaled by scale, with a 1-pixel white border. Each tile is normalised to its own min..max (black..white);
// a constant tile is drawn mid-gray.
func Tiles(maps [][]float32, h, w, cols, scale int) (*image.RGBA, error) {
	if len(maps) == 0 || h <= 0 || w <= 0 || cols <= 0 || scale <= 0 {
		return nil, errors.Errorf("tiles: need maps and positive sizes, got %d maps of %d×%d, %d columns, scale %d",
			len(maps), h, w, cols, scale)
	}
	rows := (len(maps) + cols - 1) / cols
	tileW, tileH := w*scale+1, h*scale+1
	img := image.NewRGBA(image.Rect(0, 0, cols*tileW+1, rows*tileH+1))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for t, m := range maps {
		if len(m) != h*w {
			return nil, errors.Errorf("tiles: map %d has %d values, want %d×%d", t, len(m), h, w)
		}
		lo, hi := minMax(m)
		x0, y0 := (t%cols)*tileW+1, (t/cols)*tileH+1
		for y := range h {
			for x := range w {
				v := uint8(128)
				if hi > lo {
					v = uint8(math.Round(float64((m[y*w+x] - lo) / (hi - lo) * 255)))
				}
				fill(img, x0+x*scale, y0+y*scale, scale, color.RGBA{v, v, v, 255})
			}
		}
	}
	return img, nil
}

// RGBTiles draws 3-channel maps (each 3×h×w values, CHW) as colour tiles, every tile normalised to its
// own min..max over all three channels: how the lecture shows the first convolution's filters.
func RGBTiles(maps [][]float32, h, w, cols, scale int) (*image.RGBA, error) {
	if len(maps) == 0 || h <= 0 || w <= 0 || cols <= 0 || scale <= 0 {
		return nil, errors.Errorf("rgb tiles: need maps and positive sizes, got %d maps", len(maps))
	}
	rows := (len(maps) + cols - 1) / cols
	tileW, tileH := w*scale+1, h*scale+1
	img := image.NewRGBA(image.Rect(0, 0, cols*tileW+1, rows*tileH+1))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for t, m := range maps {
		if len(m) != 3*h*w {
			return nil, errors.Errorf("rgb tiles: map %d has %d values, want 3×%d×%d", t, len(m), h, w)
		}
		lo, hi := minMax(m)
		scaleValue := func(v float32) uint8 {
			if hi <= lo {
				return 128
			}
			return uint8(math.Round(float64((v - lo) / (hi - lo) * 255)))
		}
		x0, y0 := (t%cols)*tileW+1, (t/cols)*tileH+1
		for y := range h {
			for x := range w {
				i := y*w + x
				c := color.RGBA{scaleValue(m[i]), scaleValue(m[h*w+i]), scaleValue(m[2*h*w+i]), 255}
				fill(img, x0+x*scale, y0+y*scale, scale, c)
			}
		}
	}
	return img, nil
}

func minMax(m []float32) (lo, hi float32) {
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range m {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

func fill(img *image.RGBA, x0, y0, size int, c color.RGBA) {
	for y := y0; y < y0+size; y++ {
		for x := x0; x < x0+size; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// markLine draws a Mark: a dashed vertical line over the whole data area and its label.
type markLine struct{ mark Mark }

// Plot implements gonum's plot.Plotter.
func (m markLine) Plot(c draw.Canvas, p *gonumplot.Plot) {
	x := p.X.Norm(m.mark.X)*float64(c.Max.X-c.Min.X) + float64(c.Min.X)
	c.SetColor(color.Gray{Y: 90})
	c.SetLineWidth(vg.Points(1))
	c.SetLineDash([]vg.Length{vg.Points(3), vg.Points(3)}, 0)
	var path vg.Path
	path.Move(vg.Point{X: vg.Length(x), Y: c.Min.Y})
	path.Line(vg.Point{X: vg.Length(x), Y: c.Max.Y})
	c.Stroke(path)
	if m.mark.Label != "" {
		style := p.X.Label.TextStyle
		style.XAlign, style.YAlign = draw.XRight, draw.YTop
		c.FillText(style, vg.Point{X: vg.Length(x) - vg.Points(3), Y: c.Max.Y - vg.Points(3)}, m.mark.Label)
	}
}
