package datasets

import (
	"bytes"
	"encoding/binary"
	"image"
	stddraw "image/draw"

	"github.com/pkg/errors"
)

// exifOrientationTag is the TIFF tag of the orientation in a JPEG's EXIF block (APP1).
const exifOrientationTag = 0x0112

// JPEGOrientation returns the EXIF orientation (1 to 8) of a JPEG file's bytes, 1 (upright) when
// there is no EXIF block, no orientation tag or an invalid value, as browsers treat it.
// Orientation values are those of the EXIF/TIFF specification: 1 upright, 2 mirrored, 3 rotated
// 180°, 4 flipped, 5 transposed, 6 to be rotated 90° clockwise, 7 transversed, 8 to be rotated
// 90° counter-clockwise.
func JPEGOrientation(data []byte) int {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return 1
	}
	pos := 2
	for pos+4 <= len(data) && data[pos] == 0xFF {
		marker := data[pos+1]
		if marker == 0xD9 || marker == 0xDA { // End of image, start of scan: no more metadata.
			return 1
		}
		size := int(binary.BigEndian.Uint16(data[pos+2:]))
		if size < 2 || pos+2+size > len(data) {
			return 1
		}
		segment := data[pos+4 : pos+2+size]
		if marker == 0xE1 && bytes.HasPrefix(segment, []byte("Exif\x00\x00")) {
			if o := tiffOrientation(segment[6:]); o != 0 {
				return o
			}
		}
		pos += 2 + size
	}
	return 1
}

// tiffOrientation reads the orientation tag of IFD0 of a TIFF block; 0 when absent or invalid.
func tiffOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 0
	}
	var order binary.ByteOrder
	switch string(tiff[:4]) {
	case "II*\x00":
		order = binary.LittleEndian
	case "MM\x00*":
		order = binary.BigEndian
	default:
		return 0
	}
	ifd := int(order.Uint32(tiff[4:]))
	if ifd < 8 || ifd+2 > len(tiff) {
		return 0
	}
	n := int(order.Uint16(tiff[ifd:]))
	for i := range n {
		e := ifd + 2 + 12*i
		if e+12 > len(tiff) {
			return 0
		}
		if order.Uint16(tiff[e:]) != exifOrientationTag {
			continue
		}
		const typeShort = 3
		if order.Uint16(tiff[e+2:]) != typeShort || order.Uint32(tiff[e+4:]) != 1 {
			return 0
		}
		if o := int(order.Uint16(tiff[e+8:])); o >= 1 && o <= 8 {
			return o
		}
		return 0
	}
	return 0
}

// WithJPEGOrientation returns a copy of a JPEG file's bytes with an EXIF block (APP1) that holds
// only the given orientation (1 to 8), inserted after the start-of-image marker. Camera photos
// carry such a block; it is used to write test images.
func WithJPEGOrientation(data []byte, orientation int) ([]byte, error) {
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil, errors.New("adding an EXIF orientation: not a JPEG file")
	}
	if orientation < 1 || orientation > 8 {
		return nil, errors.Errorf("EXIF orientation %d: want 1 to 8", orientation)
	}
	tiff := []byte{'M', 'M', 0, '*', 0, 0, 0, 8, // Big-endian header, IFD0 at offset 8.
		0, 1, // One entry:
		0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(orientation), 0, 0, // orientation, SHORT, count 1.
		0, 0, 0, 0} // No next IFD.
	payload := append([]byte("Exif\x00\x00"), tiff...)
	app1 := append([]byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
	out := append([]byte{0xFF, 0xD8}, app1...)
	return append(out, data[2:]...), nil
}

// Orient returns img turned upright according to an EXIF orientation (see JPEGOrientation):
// img itself for 1 (or an invalid value), else a new *image.RGBA (width and height swapped for
// orientations 5 to 8).
func Orient(img image.Image, orientation int) image.Image {
	if orientation < 2 || orientation > 8 {
		return img
	}
	b := img.Bounds()
	src := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	stddraw.Draw(src, src.Bounds(), img, b.Min, stddraw.Src)
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if orientation >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			sx, sy := orientedSource(orientation, x, y, w, h)
			copy(dst.Pix[dst.PixOffset(x, y):][:4], src.Pix[src.PixOffset(sx, sy):][:4])
		}
	}
	return dst
}

// orientedSource maps the upright pixel (x, y) to its pixel in a stored w×h image of the given
// EXIF orientation.
func orientedSource(orientation, x, y, w, h int) (sx, sy int) {
	switch orientation {
	case 2: // Mirrored horizontally.
		return w - 1 - x, y
	case 3: // Rotated 180°.
		return w - 1 - x, h - 1 - y
	case 4: // Mirrored vertically.
		return x, h - 1 - y
	case 5: // Transposed (mirrored along the main diagonal).
		return y, x
	case 6: // Stored rotated 90° counter-clockwise: rotate 90° clockwise.
		return y, h - 1 - x
	case 7: // Transversed (mirrored along the anti-diagonal).
		return w - 1 - y, h - 1 - x
	case 8: // Stored rotated 90° clockwise: rotate 90° counter-clockwise.
		return w - 1 - y, x
	}
	return x, y
}
