package datasets

import (
	"bytes"
	"image"
	"image/png"
	"testing"
)

// FuzzReadRecords checks that the record parser never panics, and that whatever it accepts is
// consistent: as many records as the size says, labels in range, pixels as in the input.
func FuzzReadRecords(f *testing.F) {
	f.Add(makeRecords(cifar100Format, 2), false)
	f.Add(makeRecords(cifar10Format, 1), true)
	f.Add([]byte{1, 2, 3}, false)
	f.Fuzz(func(t *testing.T, data []byte, cifar10 bool) {
		format := cifar100Format
		if cifar10 {
			format = cifar10Format
		}
		recs, err := readRecords(bytes.NewReader(data), "fuzz.bin", int64(len(data)), format, 0)
		if err != nil {
			return
		}
		n := len(data) / format.recordSize()
		if recs.len() != n || len(recs.pixels) != n*RecordPixels || len(data)%format.recordSize() != 0 {
			t.Fatalf("accepted %d bytes as %d records with %d pixel bytes", len(data), recs.len(), len(recs.pixels))
		}
		for i := range n {
			rec := data[i*format.recordSize():]
			if recs.labels[i] < 0 || int(recs.labels[i]) >= format.numFine || recs.labels[i] != int32(rec[format.labelBytes-1]) {
				t.Fatalf("record %d: label %d", i, recs.labels[i])
			}
			if !bytes.Equal(recs.pixels[i*RecordPixels:(i+1)*RecordPixels], rec[format.labelBytes:format.recordSize()]) {
				t.Fatalf("record %d: pixels differ from the input", i)
			}
		}
	})
}

// FuzzDecodeImage checks that the image loader never panics and returns a full record or an error.
func FuzzDecodeImage(f *testing.F) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 3, 5))); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := DecodeImage(bytes.NewReader(data))
		if err == nil && len(rec) != RecordPixels {
			t.Fatalf("decoded a record of %d bytes", len(rec))
		}
	})
}
