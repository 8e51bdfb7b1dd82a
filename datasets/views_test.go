package datasets

import "testing"

// viewsRecord returns a record whose red plane is 10, green 20, blue 30, except pixel (x=1, y=0)
// with R=1, G=2, B=3.
func viewsRecord() []uint8 {
	r := make([]uint8, RecordPixels)
	for i := range r {
		r[i] = uint8(10 * (1 + i/1024))
	}
	r[1], r[1025], r[2049] = 1, 2, 3
	return r
}

func TestChannelPlanesAndImage(t *testing.T) {
	rec := viewsRecord()
	planes, err := ChannelPlanes(rec)
	if err != nil {
		t.Fatal(err)
	}
	for c, want := range [][2]uint8{{10, 1}, {20, 2}, {30, 3}} {
		if got := [2]uint8{planes[c].GrayAt(0, 0).Y, planes[c].GrayAt(1, 0).Y}; got != want {
			t.Errorf("plane %d at (0,0), (1,0) = %v, want %v", c, got, want)
		}
	}
	tests := []struct {
		channel int
		want    [3]uint8
	}{{0, [3]uint8{1, 0, 0}}, {1, [3]uint8{0, 2, 0}}, {2, [3]uint8{0, 0, 3}}}
	for _, tc := range tests {
		img, err := ChannelImage(rec, tc.channel)
		if err != nil {
			t.Fatal(err)
		}
		c := img.RGBAAt(1, 0)
		if got := [3]uint8{c.R, c.G, c.B}; got != tc.want {
			t.Errorf("channel %d image at (1,0) = %v, want %v", tc.channel, got, tc.want)
		}
	}
	if _, err := ChannelImage(rec, 3); err == nil {
		t.Error("channel 3 gave no error")
	}
	if _, err := ChannelPlanes(rec[:100]); err == nil {
		t.Error("a short record gave no error")
	}
}

func TestReshapedHWC(t *testing.T) {
	img, err := ReshapedHWC(viewsRecord())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		x, y int
		want [3]uint8
	}{
		{0, 0, [3]uint8{10, 1, 10}},    // bytes 0, 1, 2 (byte 1 is the R of pixel (1,0))
		{1, 0, [3]uint8{10, 10, 10}},   // bytes 3, 4, 5: red plane
		{21, 10, [3]uint8{10, 20, 2}},  // pixel 341: bytes 1023–1025, the last red byte, then green
		{10, 21, [3]uint8{20, 20, 30}}, // pixel 682: bytes 2046–2048, the last green bytes, then blue
		{31, 31, [3]uint8{30, 30, 30}}, // pixel 1023: bytes 3069–3071, blue
	} {
		c := img.RGBAAt(tc.x, tc.y)
		if got := [3]uint8{c.R, c.G, c.B}; got != tc.want {
			t.Errorf("pixel (%d, %d) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}
