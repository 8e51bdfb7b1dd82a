package datasets

import (
	"bytes"
	"image"
	"image/color"
	stddraw "image/draw"
	_ "image/gif"  // Registers the GIF decoder for LoadImageFile (first frame).
	_ "image/jpeg" // Registers the JPEG decoder for LoadImageFile.
	"image/png"
	"io"
	"os"

	"github.com/cnnlab/cnnlab/internal/atomicfile"
	"github.com/pkg/errors"
	_ "golang.org/x/image/bmp" // Registers the BMP decoder for LoadImageFile.
	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
	_ "golang.org/x/image/webp" // Registers the WebP decoder for LoadImageFile.
)

// ToImage converts a CHW record (3072 bytes, as in Set.Record) to an image.
func ToImage(record []uint8) (*image.RGBA, error) {
	if err := checkRecordLen(len(record)); err != nil {
		return nil, err
	}
	const planeSize = ImageSize * ImageSize
	img := image.NewRGBA(image.Rect(0, 0, ImageSize, ImageSize))
	for p := range planeSize {
		img.Pix[4*p] = record[p]
		img.Pix[4*p+1] = record[planeSize+p]
		img.Pix[4*p+2] = record[2*planeSize+p]
		img.Pix[4*p+3] = 0xff
	}
	return img, nil
}

// Image returns image i of the set.
func (s *Set) Image(i int) *image.RGBA {
	img, _ := ToImage(s.Record(i)) // A record always has the right length.
	return img
}

// FromImage converts any image to a 32×32 CHW record (3072 bytes), resizing it with the filter
// described in LoadImageFile.
func FromImage(img image.Image) []uint8 {
	small := image.NewRGBA(image.Rect(0, 0, ImageSize, ImageSize))
	draw.CatmullRom.Scale(small, small.Bounds(), img, img.Bounds(), draw.Src, nil)
	const planeSize = ImageSize * ImageSize
	record := make([]uint8, RecordPixels)
	for p := range planeSize {
		record[p] = small.Pix[4*p]
		record[planeSize+p] = small.Pix[4*p+1]
		record[2*planeSize+p] = small.Pix[4*p+2]
	}
	return record
}

// MaxImagePixels bounds the width×height of an image file that LoadImageFile accepts (64
// megapixels), so a corrupt or hostile header cannot make it allocate gigabytes.
const MaxImagePixels = 64 << 20

// maxImageFileSize bounds the bytes read from an image file (256 MiB).
const maxImageFileSize = 256 << 20

// ImageFormats names the image file formats LoadImageFile and the web page read.
const ImageFormats = "JPEG, PNG, WebP, GIF or BMP"

// LoadImageFile reads an image file (JPEG, PNG, WebP, GIF (first frame) or BMP) and returns it as
// a 32×32 CHW record (3072 bytes: the R, G and B planes, row-major), ready to be classified like a
// CIFAR image.
//
// This is cnnlab's one preprocessing definition, shared by `cnnlab predict` and the web page
// (web/src/resize.js mirrors it step by step; docs/preprocessing.md describes both):
//
//  1. Decode the file (colour values as stored: no colour-profile conversion).
//  2. Turn it upright by the EXIF orientation of a JPEG file (JPEGOrientation, Orient), as
//     browsers do.
//  3. Alpha: transparent pixels are premultiplied, i.e. composed over black.
//  4. Resize the whole image to 32×32 (the aspect ratio is not kept, as torchvision's
//     Resize((32, 32))) with golang.org/x/image/draw's Catmull-Rom bicubic filter, whose support
//     is widened by the reduction factor so every source pixel contributes (antialiased, like
//     PIL's BICUBIC), on 16-bit premultiplied values, rounded to 8 bits.
//  5. The model then divides by 255 and normalizes with its own mean and deviation (inside the
//     exported ONNX graph).
func LoadImageFile(path string) ([]uint8, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "opening image file")
	}
	defer func() { _ = file.Close() }()
	record, err := DecodeImage(file)
	if err != nil {
		return nil, errors.WithMessagef(err, "image file %s", path)
	}
	return record, nil
}

// DecodeImage decodes an image (ImageFormats; at most 256 MiB, MaxImagePixels pixels) from r and
// returns it upright as a 32×32 CHW record, as LoadImageFile does.
func DecodeImage(r io.Reader) ([]uint8, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxImageFileSize+1))
	if err != nil {
		return nil, errors.Wrap(err, "reading image")
	}
	if len(data) > maxImageFileSize {
		return nil, errors.Errorf("image larger than %d bytes", maxImageFileSize)
	}
	config, kind, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, errors.Wrap(err, "reading image header ("+ImageFormats+")")
	}
	if err := checkImageSize(kind, config.Width, config.Height); err != nil {
		return nil, err
	}
	img, kind, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, errors.Wrapf(err, "decoding %s image", kind)
	}
	if err := checkImageSize(kind, img.Bounds().Dx(), img.Bounds().Dy()); err != nil {
		return nil, err
	}
	if kind == "jpeg" {
		img = Orient(img, JPEGOrientation(data))
	}
	return FromImage(img), nil
}

// checkImageSize fails unless the image has between 1 and MaxImagePixels pixels.
func checkImageSize(kind string, width, height int) error {
	if width <= 0 || height <= 0 || int64(width)*int64(height) > MaxImagePixels {
		return errors.Errorf("%s image of %d×%d pixels: want 1 to %d pixels", kind, width, height, MaxImagePixels)
	}
	return nil
}

// GridOptions configures WriteGridPNG.
type GridOptions struct {
	// Columns is the number of images per row; 0 means 10.
	Columns int
	// Scale enlarges each image by this integer factor (nearest neighbour); 0 means 3 (96×96).
	Scale int
	// NoLabels omits the class name written under each image.
	NoLabels bool
}

// Grid layout constants, in pixels.
const (
	gridMargin      = 4
	gridLabelHeight = 15 // basicfont.Face7x13 is 13 pixels high.
)

// Grid returns the images of s at the given indices in a grid, each with its class name below it
// (unless opts.NoLabels), on a white background.
func Grid(s *Set, indices []int, opts GridOptions) (*image.RGBA, error) {
	if len(indices) == 0 {
		return nil, errors.Errorf("grid of %s: no image given", s.Name)
	}
	for _, i := range indices {
		if i < 0 || i >= s.Len() {
			return nil, errors.Errorf("grid of %s: image index %d out of range 0..%d", s.Name, i, s.Len()-1)
		}
	}
	cols, scale := opts.Columns, opts.Scale
	if cols <= 0 {
		cols = 10
	}
	if scale <= 0 {
		scale = 3
	}
	cols = min(cols, len(indices))
	rows := (len(indices) + cols - 1) / cols
	cellW, cellH := ImageSize*scale+gridMargin, ImageSize*scale+gridMargin
	if !opts.NoLabels {
		cellH += gridLabelHeight
	}
	grid := image.NewRGBA(image.Rect(0, 0, cols*cellW+gridMargin, rows*cellH+gridMargin))
	stddraw.Draw(grid, grid.Bounds(), image.White, image.Point{}, stddraw.Src)
	for k, i := range indices {
		x0, y0 := gridMargin+(k%cols)*cellW, gridMargin+(k/cols)*cellH
		cell := image.Rect(x0, y0, x0+ImageSize*scale, y0+ImageSize*scale)
		draw.NearestNeighbor.Scale(grid, cell, s.Image(i), image.Rect(0, 0, ImageSize, ImageSize), draw.Src, nil)
		if !opts.NoLabels {
			drawLabel(grid, s.ClassName(i), x0, y0+ImageSize*scale+gridLabelHeight-3, ImageSize*scale)
		}
	}
	return grid, nil
}

// drawLabel writes text at baseline (x, y), cut to fit in width pixels.
func drawLabel(dst *image.RGBA, text string, x, y, width int) {
	face := basicfont.Face7x13
	maxChars := width / face.Advance
	if len(text) > maxChars {
		text = text[:max(0, maxChars-1)] + "."
	}
	d := font.Drawer{Dst: dst, Src: image.NewUniform(color.Black), Face: face,
		Dot: fixed.P(x, y)}
	d.DrawString(text)
}

// WriteGridPNG writes Grid(s, indices, opts) to w as a PNG.
func WriteGridPNG(w io.Writer, s *Set, indices []int, opts GridOptions) error {
	grid, err := Grid(s, indices, opts)
	if err != nil {
		return err
	}
	return errors.Wrapf(png.Encode(w, grid), "encoding grid of %s as PNG", s.Name)
}

// SaveGridPNG writes Grid(s, indices, opts) as a PNG file at path, through a temporary file
// renamed into place, so that path is never left half-written.
func SaveGridPNG(path string, s *Set, indices []int, opts GridOptions) error {
	return writeFileAtomic(path, func(w io.Writer) error { return WriteGridPNG(w, s, indices, opts) })
}

// writeFileAtomic writes what write produces to path through a synced temporary file (see atomicfile).
func writeFileAtomic(path string, write func(w io.Writer) error) error {
	return atomicfile.Write(path, write)
}
