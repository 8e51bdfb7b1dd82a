package plot

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/pkg/errors"
	xdraw "golang.org/x/image/draw"
	gonumplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Tile is one captioned picture of a TileGrid.
type Tile struct {
	// Image is drawn enlarged by the grid's scale (nearest neighbour, so pixels stay sharp).
	Image image.Image
	// Caption is written under the image; "\n" starts a second line. Cyrillic is fine.
	Caption string
}

// Figure layout, in pixels (the canvases are drawn at 72 dpi, so one point is one pixel).
const (
	figureMargin     = 8
	figureGap        = 10
	captionFontSize  = 11
	titleFontSize    = 14
	captionLineSpace = 3
)

// textStyle returns the figures' text style (the charts' Liberation font) at size points.
func textStyle(size float64, align text.XAlignment) draw.TextStyle {
	return draw.TextStyle{Color: color.Black, Font: font.From(gonumplot.DefaultFont, vg.Length(size)),
		XAlign: align, YAlign: draw.YTop, Handler: gonumplot.DefaultTextHandler}
}

// lineCount returns the number of lines of s.
func lineCount(s string) int {
	n := 1
	for _, r := range s {
		if r == '\n' {
			n++
		}
	}
	return n
}

// TileGrid draws captioned tiles in a grid of cols columns under an optional title, every image
// enlarged scale times, and returns the figure as a PNG. Each cell is as wide as the widest image or
// caption; captions that need two lines use "\n".
func TileGrid(title string, tiles []Tile, cols, scale int) ([]byte, error) {
	if len(tiles) == 0 || cols <= 0 || scale <= 0 {
		return nil, errors.Errorf("tile grid %q: need tiles, columns and scale, got %d tiles, %d columns, scale %d",
			title, len(tiles), cols, scale)
	}
	caption := textStyle(captionFontSize, draw.XCenter)
	cols = min(cols, len(tiles))
	cellW, imageH, lines := 0, 0, 0
	for i, t := range tiles {
		if t.Image == nil {
			return nil, errors.Errorf("tile grid %q: tile %d has no image", title, i)
		}
		b := t.Image.Bounds()
		cellW = max(cellW, b.Dx()*scale, int(math.Ceil(float64(caption.Width(t.Caption)))))
		imageH = max(imageH, b.Dy()*scale)
		if t.Caption != "" {
			lines = max(lines, lineCount(t.Caption))
		}
	}
	lineH := captionFontSize + captionLineSpace
	cellH := imageH + lines*lineH
	rows := (len(tiles) + cols - 1) / cols
	titleH := 0
	if title != "" {
		titleH = titleFontSize + figureGap
	}
	heading := textStyle(titleFontSize, draw.XCenter)
	gridW := cols*cellW + (cols-1)*figureGap
	width := 2*figureMargin + max(gridW, int(math.Ceil(float64(heading.Width(title)))))
	height := 2*figureMargin + titleH + rows*cellH + (rows-1)*figureGap
	c, dc := newCanvas(width, height)
	if title != "" {
		dc.FillText(heading, pixel(height, float64(width)/2, figureMargin), title)
	}
	offset := (width - 2*figureMargin - gridW) / 2
	for i, t := range tiles {
		x0 := figureMargin + offset + (i%cols)*(cellW+figureGap)
		y0 := figureMargin + titleH + (i/cols)*(cellH+figureGap)
		b := t.Image.Bounds()
		w, h := b.Dx()*scale, b.Dy()*scale
		scaled := image.NewRGBA(image.Rect(0, 0, w, h))
		xdraw.NearestNeighbor.Scale(scaled, scaled.Bounds(), t.Image, b, xdraw.Src, nil)
		left := x0 + (cellW-w)/2
		c.DrawImage(vg.Rectangle{Min: pixel(height, float64(left), float64(y0+h)), Max: pixel(height, float64(left+w), float64(y0))}, scaled)
		if t.Caption != "" {
			dc.FillText(caption, pixel(height, float64(x0)+float64(cellW)/2, float64(y0+imageH+captionLineSpace)), t.Caption)
		}
	}
	return encodePNG(c, title)
}

// Heatmap draws a matrix of counts (a confusion matrix: rows the true classes, columns the predicted
// ones) as a labelled heat map: each cell shaded by its count relative to the largest one and
// showing the count, row names on the left, column names below, and the axis labels.
func Heatmap(title string, counts [][]int, rowNames, colNames []string, xLabel, yLabel string) ([]byte, error) {
	if len(counts) == 0 || len(counts) != len(rowNames) {
		return nil, errors.Errorf("heat map %q: %d rows and %d row names", title, len(counts), len(rowNames))
	}
	largest := 0
	for i, row := range counts {
		if len(row) != len(colNames) {
			return nil, errors.Errorf("heat map %q: row %d has %d values and there are %d column names", title, i, len(row), len(colNames))
		}
		for _, v := range row {
			if v < 0 {
				return nil, errors.Errorf("heat map %q: negative count %d in row %d", title, v, i)
			}
			largest = max(largest, v)
		}
	}
	label := textStyle(captionFontSize+1, draw.XRight)
	centred := textStyle(captionFontSize+1, draw.XCenter)
	cell := 64
	for _, name := range colNames {
		cell = max(cell, int(math.Ceil(float64(centred.Width(name))))+8)
	}
	labelW := 0
	for _, name := range rowNames {
		labelW = max(labelW, int(math.Ceil(float64(label.Width(name)))))
	}
	lineH := captionFontSize + 1 + captionLineSpace
	left := figureMargin + lineH + figureGap + labelW + figureGap // y label, row names
	top := figureMargin + titleFontSize + figureGap
	gridW, gridH := cell*len(colNames), cell*len(counts)
	width := max(left+gridW+figureMargin, int(math.Ceil(float64(textStyle(titleFontSize, draw.XCenter).Width(title))))+2*figureMargin)
	height := top + gridH + figureGap + 2*lineH + figureMargin
	c, dc := newCanvas(width, height)
	dc.FillText(textStyle(titleFontSize, draw.XCenter), pixel(height, float64(width)/2, figureMargin), title)
	for i, row := range counts {
		for j, v := range row {
			shade := 0.0
			if largest > 0 {
				shade = float64(v) / float64(largest)
			}
			fill := HeatColor(shade)
			x0, y0 := left+j*cell, top+i*cell
			rect := vg.Rectangle{Min: pixel(height, float64(x0), float64(y0+cell)), Max: pixel(height, float64(x0+cell), float64(y0))}
			dc.SetColor(fill)
			dc.Fill(rect.Path())
			dc.SetColor(color.Gray{Y: 200})
			dc.SetLineWidth(1)
			dc.Stroke(rect.Path())
			number := centred
			if shade > 0.5 {
				number.Color = color.White
			}
			dc.FillText(number, pixel(height, float64(x0)+float64(cell)/2, float64(y0+cell/2-(captionFontSize+1)/2)), fmt.Sprint(v))
		}
		dc.FillText(label, pixel(height, float64(left-figureGap), float64(top+i*cell+cell/2-(captionFontSize+1)/2)), rowNames[i])
	}
	for j, name := range colNames {
		dc.FillText(centred, pixel(height, float64(left+j*cell)+float64(cell)/2, float64(top+gridH+captionLineSpace)), name)
	}
	dc.FillText(centred, pixel(height, float64(left)+float64(gridW)/2, float64(top+gridH+lineH+captionLineSpace)), xLabel)
	rotated := centred
	rotated.Rotation = math.Pi / 2
	rotated.YAlign = draw.YCenter
	dc.FillText(rotated, pixel(height, float64(figureMargin+lineH/2), float64(top)+float64(gridH)/2), yLabel)
	return encodePNG(c, title)
}

// HeatColor returns the colour of a heat-map cell for shade in [0, 1]: white at 0, deep blue at 1
// (values outside the range are clamped).
func HeatColor(shade float64) color.RGBA {
	shade = math.Max(0, math.Min(1, shade))
	lerp := func(a, b float64) uint8 { return uint8(math.Round(a + (b-a)*shade)) }
	return color.RGBA{lerp(255, 8), lerp(255, 48), lerp(255, 107), 255}
}

// newCanvas returns a white width×height pixel canvas (72 dpi) and a draw.Canvas on it.
func newCanvas(width, height int) (*vgimg.Canvas, draw.Canvas) {
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(width), vg.Length(height)), vgimg.UseDPI(72), vgimg.UseBackgroundColor(color.White))
	return c, draw.New(c)
}

// pixel converts a pixel position (x right, y down from the top) to the canvas' point (y up).
func pixel(height int, x, y float64) vg.Point {
	return vg.Point{X: vg.Length(x), Y: vg.Length(float64(height) - y)}
}

// encodePNG encodes a canvas as a PNG.
func encodePNG(c *vgimg.Canvas, title string) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, errors.Wrapf(err, "encoding figure %q as PNG", title)
	}
	return buf.Bytes(), nil
}
