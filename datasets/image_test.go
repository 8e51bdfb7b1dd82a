package datasets

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// writeImage encodes img as PNG or JPEG (by extension) into dir/name and returns the path.
func writeImage(t *testing.T, dir, name string, img image.Image) string {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if filepath.Ext(name) == ".png" {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100})
	}
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// uniform returns a w×h image of colour c.
func uniform(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for p := 0; p < len(img.Pix); p += 4 {
		img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func TestLoadImageFile(t *testing.T) {
	dir := t.TempDir()
	s := smallSet(t, 3)
	// A 32×32 PNG comes back unchanged (Catmull-Rom weights at integer offsets are 1, 0, 0...).
	path := writeImage(t, dir, "record.png", s.Image(2))
	rec, err := LoadImageFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec, s.Record(2)) {
		t.Fatal("32×32 PNG did not load back as its record")
	}
	// A uniform 300×200 image gives the same uniform colour (the filter weights sum to 1).
	tests := []struct {
		name string
		img  image.Image
		want [3]uint8
		tol  int // JPEG is lossy on colours: allowed difference per channel.
	}{
		{"uniform.png", uniform(300, 200, color.RGBA{200, 100, 50, 255}), [3]uint8{200, 100, 50}, 0},
		{"uniform.jpg", uniform(300, 200, color.RGBA{200, 100, 50, 255}), [3]uint8{200, 100, 50}, 3},
		{"tiny.png", uniform(5, 7, color.RGBA{10, 20, 30, 255}), [3]uint8{10, 20, 30}, 0},
	}
	for _, tc := range tests {
		rec, err := LoadImageFile(writeImage(t, dir, tc.name, tc.img))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []int{0, 500, 1023} {
			for c := range 3 {
				if d := int(rec[c*1024+p]) - int(tc.want[c]); d > tc.tol || d < -tc.tol {
					t.Errorf("%s: pixel %d channel %d = %d, want %d±%d", tc.name, p, c, rec[c*1024+p], tc.want[c], tc.tol)
				}
			}
		}
	}
	bad := filepath.Join(dir, "bad.png")
	if err := os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadImageFile(bad)
	wantErr(t, err, "bad.png")
	_, err = LoadImageFile(filepath.Join(dir, "missing.jpg"))
	wantErr(t, err, "missing.jpg")
}

func TestGridPNG(t *testing.T) {
	s := smallSet(t, 12)
	path := filepath.Join(t.TempDir(), "grid.png")
	if err := SaveGridPNG(path, s, []int{0, 1, 2, 3, 4, 11}, GridOptions{Columns: 4, Scale: 2}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// 4 columns of 64+4 pixels plus a 4 pixel margin; 2 rows of 64+4+15.
	if b := img.Bounds(); b.Dx() != 4*68+4 || b.Dy() != 2*83+4 {
		t.Fatalf("grid is %d×%d, want 276×170", b.Dx(), b.Dy())
	}
	// Top-left pixel of image 5 (record 11) at (4+1*68, 4+83), scaled ×2.
	r, _, _, _ := img.At(4+68, 4+83).RGBA()
	if uint8(r>>8) != s.Record(11)[0] {
		t.Fatalf("grid cell 5 top-left red = %d, want %d", r>>8, s.Record(11)[0])
	}
	err = SaveGridPNG(filepath.Join(t.TempDir(), "x.png"), s, []int{12}, GridOptions{})
	wantErr(t, err, "index 12 out of range 0..11")
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}
