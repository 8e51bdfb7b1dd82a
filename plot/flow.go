package plot

import (
	"math"

	"github.com/pkg/errors"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"image/color"
)

// Box is one node of a Flow diagram.
type Box struct {
	// Title is the box's first line (e.g. an operator, "Conv"); Lines are details under it
	// (e.g. "W [32,3,5,5]", "strides 4,4").
	Title string
	Lines []string
}

// Flow layout, in pixels.
const (
	flowPadding = 6
	flowArrow   = 22
)

// Flow draws boxes top to bottom, each joined to the next by an arrow (a chain, each box feeding the
// next, the way Netron shows a sequential ONNX graph), under a title, and returns the PNG.
func Flow(title string, boxes []Box) ([]byte, error) {
	if len(boxes) == 0 {
		return nil, errors.Errorf("flow %q: no boxes", title)
	}
	heading := textStyle(titleFontSize, draw.XCenter)
	// Liberation Sans: the serif face's kerning hides the dot of "r." (as in "07_Linear.weight").
	sans := font.Font{Typeface: "Liberation", Variant: "Sans"}
	bold := textStyle(captionFontSize+2, draw.XCenter)
	bold.Font = font.From(sans, vg.Length(captionFontSize+2))
	detail := textStyle(captionFontSize, draw.XCenter)
	detail.Font = font.From(sans, vg.Length(captionFontSize))
	lineH := captionFontSize + captionLineSpace
	boxW := 0
	heights := make([]int, len(boxes))
	for i, b := range boxes {
		if b.Title == "" {
			return nil, errors.Errorf("flow %q: box %d has no title", title, i)
		}
		boxW = max(boxW, int(math.Ceil(float64(bold.Width(b.Title)))))
		for _, l := range b.Lines {
			boxW = max(boxW, int(math.Ceil(float64(detail.Width(l)))))
		}
		heights[i] = 2*flowPadding + captionFontSize + 2 + captionLineSpace + len(b.Lines)*lineH
	}
	boxW += 2 * flowPadding
	width := max(boxW, int(math.Ceil(float64(heading.Width(title))))) + 2*figureMargin
	height := 2*figureMargin + titleFontSize + figureGap + (len(boxes)-1)*flowArrow
	for _, h := range heights {
		height += h
	}
	c, dc := newCanvas(width, height)
	dc.FillText(heading, pixel(height, float64(width)/2, figureMargin), title)
	y := figureMargin + titleFontSize + figureGap
	left := float64(width-boxW) / 2
	centre := float64(width) / 2
	for i, b := range boxes {
		rect := vg.Rectangle{Min: pixel(height, left, float64(y+heights[i])), Max: pixel(height, left+float64(boxW), float64(y))}
		dc.SetColor(color.RGBA{232, 240, 250, 255})
		dc.Fill(rect.Path())
		dc.SetColor(color.RGBA{60, 90, 140, 255})
		dc.SetLineWidth(1)
		dc.Stroke(rect.Path())
		dc.FillText(bold, pixel(height, centre, float64(y+flowPadding)), b.Title)
		for j, l := range b.Lines {
			dc.FillText(detail, pixel(height, centre, float64(y+flowPadding+captionFontSize+2+captionLineSpace+j*lineH)), l)
		}
		y += heights[i]
		if i < len(boxes)-1 {
			var shaft, head vg.Path
			shaft.Move(pixel(height, centre, float64(y)))
			shaft.Line(pixel(height, centre, float64(y+flowArrow-2)))
			dc.SetColor(color.Black)
			dc.Stroke(shaft)
			head.Move(pixel(height, centre-4, float64(y+flowArrow-8)))
			head.Line(pixel(height, centre, float64(y+flowArrow-1)))
			head.Line(pixel(height, centre+4, float64(y+flowArrow-8)))
			head.Close()
			dc.Fill(head)
			y += flowArrow
		}
	}
	return encodePNG(c, title)
}
