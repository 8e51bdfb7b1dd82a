package datasets

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/webp"
)

// labelled returns a 3×2 image whose pixel (x, y) has red 10·x+y+1 (so every pixel is distinct).
func labelled() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for y := range 2 {
		for x := range 3 {
			img.Set(x, y, color.RGBA{uint8(10*x + y + 1), 0, 0, 255})
		}
	}
	return img
}

func TestOrient(t *testing.T) {
	// Stored pixels, by red value:   1 11 21
	//                                2 12 22
	tests := []struct {
		orientation int
		want        [][]uint8 // Rows of the upright image, by red value.
	}{
		{1, [][]uint8{{1, 11, 21}, {2, 12, 22}}},
		{2, [][]uint8{{21, 11, 1}, {22, 12, 2}}},
		{3, [][]uint8{{22, 12, 2}, {21, 11, 1}}},
		{4, [][]uint8{{2, 12, 22}, {1, 11, 21}}},
		{5, [][]uint8{{1, 2}, {11, 12}, {21, 22}}},
		{6, [][]uint8{{2, 1}, {12, 11}, {22, 21}}},
		{7, [][]uint8{{22, 21}, {12, 11}, {2, 1}}},
		{8, [][]uint8{{21, 22}, {11, 12}, {1, 2}}},
		{0, [][]uint8{{1, 11, 21}, {2, 12, 22}}}, // Invalid: unchanged.
		{9, [][]uint8{{1, 11, 21}, {2, 12, 22}}},
	}
	for _, tc := range tests {
		got := Orient(labelled(), tc.orientation)
		b := got.Bounds()
		if b.Dy() != len(tc.want) || b.Dx() != len(tc.want[0]) {
			t.Errorf("orientation %d: %d×%d, want %d×%d", tc.orientation, b.Dx(), b.Dy(), len(tc.want[0]), len(tc.want))
			continue
		}
		for y, row := range tc.want {
			for x, r := range row {
				if c := color.RGBAModel.Convert(got.At(b.Min.X+x, b.Min.Y+y)).(color.RGBA); c.R != r {
					t.Errorf("orientation %d: pixel (%d,%d) red %d, want %d", tc.orientation, x, y, c.R, r)
				}
			}
		}
	}
}

func TestJPEGOrientation(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, labelled(), nil); err != nil {
		t.Fatal(err)
	}
	plain := buf.Bytes()
	if got := JPEGOrientation(plain); got != 1 {
		t.Errorf("JPEG without EXIF: orientation %d, want 1", got)
	}
	for o := 1; o <= 8; o++ {
		data, err := WithJPEGOrientation(plain, o)
		if err != nil {
			t.Fatal(err)
		}
		if got := JPEGOrientation(data); got != o {
			t.Errorf("orientation %d read back as %d", o, got)
		}
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			t.Errorf("orientation %d: the JPEG no longer decodes: %v", o, err)
		}
	}
	for _, bad := range [][]byte{nil, []byte("GIF89a"), plain[:3], {0xFF, 0xD8, 0xFF, 0xE1, 0x00}} {
		if got := JPEGOrientation(bad); got != 1 {
			t.Errorf("JPEGOrientation(%q) = %d, want 1", bad, got)
		}
	}
	if _, err := WithJPEGOrientation(plain, 9); err == nil {
		t.Error("orientation 9 accepted")
	}
	if _, err := WithJPEGOrientation([]byte("png"), 6); err == nil {
		t.Error("non-JPEG accepted")
	}
}

// quadrants returns a w×h image with four coloured quadrants (red, green / blue, white).
func quadrants(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	colours := [4]color.RGBA{{220, 30, 30, 255}, {30, 200, 30, 255}, {30, 30, 220, 255}, {240, 240, 240, 255}}
	for y := range h {
		for x := range w {
			q := 0
			if x >= w/2 {
				q++
			}
			if y >= h/2 {
				q += 2
			}
			img.SetRGBA(x, y, colours[q])
		}
	}
	return img
}

// maxDiff is the largest difference between two records.
func maxDiff(a, b []uint8) int {
	m := 0
	for i := range a {
		m = max(m, int(a[i])-int(b[i]), int(b[i])-int(a[i]))
	}
	return m
}

// TestDecodeImageEXIFRotated checks that a camera-style JPEG (pixels stored rotated 90° counter-
// clockwise, orientation 6) is classified upright.
func TestDecodeImageEXIFRotated(t *testing.T) {
	upright := quadrants(96, 64)
	stored := image.NewRGBA(image.Rect(0, 0, 64, 96)) // Upright rotated 90° counter-clockwise.
	for y := range 96 {
		for x := range 64 {
			stored.SetRGBA(x, y, upright.RGBAAt(95-y, x))
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, stored, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	rotated, err := WithJPEGOrientation(buf.Bytes(), 6)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeImage(bytes.NewReader(rotated))
	if err != nil {
		t.Fatal(err)
	}
	want := FromImage(upright)
	if d := maxDiff(got, want); d > 8 {
		t.Errorf("orientation 6 JPEG differs from the upright image by up to %d levels", d)
	}
	ignored, err := DecodeImage(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(ignored, want); d < 100 {
		t.Errorf("test is blind: the stored image is within %d levels of the upright one", d)
	}
}

func TestDecodeImageFormats(t *testing.T) {
	img := quadrants(40, 30)
	want := FromImage(img)
	pal := image.NewPaletted(img.Bounds(), []color.Color{img.At(0, 0), img.At(39, 0), img.At(0, 29), img.At(39, 29)})
	for y := range 30 {
		for x := range 40 {
			pal.Set(x, y, img.At(x, y))
		}
	}
	encoders := map[string]func(*bytes.Buffer) error{
		"png": func(b *bytes.Buffer) error { return png.Encode(b, img) },
		"gif": func(b *bytes.Buffer) error { return gif.Encode(b, pal, nil) },
		"bmp": func(b *bytes.Buffer) error { return bmp.Encode(b, img) },
	}
	for name, enc := range encoders {
		var buf bytes.Buffer
		if err := enc(&buf); err != nil {
			t.Fatal(err)
		}
		got, err := DecodeImage(&buf)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := maxDiff(got, want); d != 0 {
			t.Errorf("%s: differs from the source by %d levels", name, d)
		}
	}
	// WebP (lossy) from x/image's test data: read by LoadImageFile as by the WebP decoder itself.
	path := filepath.Join("testdata", "blue-purple-pink.lossy.webp")
	got, err := LoadImageFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := webp.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(got, FromImage(direct)); d != 0 {
		t.Errorf("WebP: differs from x/image/webp's decoding by %d levels", d)
	}
	_, err = DecodeImage(bytes.NewReader([]byte("II*\x00 a TIFF header")))
	wantErr(t, err, "JPEG, PNG, WebP, GIF or BMP")
}
