package datasets

import (
	"image"
	"image/color"

	"github.com/pkg/errors"
)

// ChannelPlanes returns the red, green and blue planes of a CHW record (3072 bytes) as three
// 32×32 gray images: what reshape(3, 32, 32) gives, one plane per channel.
func ChannelPlanes(record []uint8) ([3]*image.Gray, error) {
	var planes [3]*image.Gray
	if len(record) != RecordPixels {
		return planes, errors.Errorf("channel planes: record has %d bytes, want %d (3×32×32)", len(record), RecordPixels)
	}
	const plane = ImageSize * ImageSize
	for c := range planes {
		planes[c] = image.NewGray(image.Rect(0, 0, ImageSize, ImageSize))
		copy(planes[c].Pix, record[c*plane:(c+1)*plane])
	}
	return planes, nil
}

// ChannelImage returns one plane of a CHW record as a 32×32 image in that channel's colour (the
// other two components zero): channel 0 red, 1 green, 2 blue.
func ChannelImage(record []uint8, channel int) (*image.RGBA, error) {
	if len(record) != RecordPixels {
		return nil, errors.Errorf("channel image: record has %d bytes, want %d (3×32×32)", len(record), RecordPixels)
	}
	if channel < 0 || channel > 2 {
		return nil, errors.Errorf("channel image: channel %d, want 0 (R), 1 (G) or 2 (B)", channel)
	}
	const plane = ImageSize * ImageSize
	img := image.NewRGBA(image.Rect(0, 0, ImageSize, ImageSize))
	for p := range plane {
		var rgb [3]uint8
		rgb[channel] = record[channel*plane+p]
		img.SetRGBA(p%ImageSize, p/ImageSize, color.RGBA{rgb[0], rgb[1], rgb[2], 255})
	}
	return img, nil
}

// ReshapedHWC returns the image you get by reshaping a CHW record straight to (32, 32, 3), without
// the transpose: consecutive bytes of the record are read as the R, G, B of one pixel. Pixel (x, y)
// takes bytes 3·(32y+x) … 3·(32y+x)+2, neighbours in one channel's plane, so the picture is scrambled:
// each third of its height is one plane (R, then G, then B), shown as three copies side by side,
// each a third of the size and nearly gray.
func ReshapedHWC(record []uint8) (*image.RGBA, error) {
	if len(record) != RecordPixels {
		return nil, errors.Errorf("reshaped HWC: record has %d bytes, want %d (3×32×32)", len(record), RecordPixels)
	}
	img := image.NewRGBA(image.Rect(0, 0, ImageSize, ImageSize))
	for p := range ImageSize * ImageSize {
		img.SetRGBA(p%ImageSize, p/ImageSize, color.RGBA{record[3*p], record[3*p+1], record[3*p+2], 255})
	}
	return img, nil
}
