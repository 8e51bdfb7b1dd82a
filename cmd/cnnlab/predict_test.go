package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/cnnlab/cnnlab/datasets"
)

// TestPredictJSONOrientation runs "cnnlab predict --json" on an upright PNG and on the same
// picture stored rotated in a JPEG with EXIF orientation 6: both must give the same input.
func TestPredictJSONOrientation(t *testing.T) {
	modelDir := savedModel(t, 10)
	dir := t.TempDir()
	upright := image.NewRGBA(image.Rect(0, 0, 120, 80))
	stored := image.NewRGBA(image.Rect(0, 0, 80, 120)) // Upright turned 90° counter-clockwise.
	for y := range 80 {
		for x := range 120 {
			c := color.RGBA{uint8(2 * x), uint8(3 * y), uint8(255 - 2*x), 255}
			upright.SetRGBA(x, y, c)
			stored.SetRGBA(y, 119-x, c)
		}
	}
	var pngBuf, jpegBuf bytes.Buffer
	if err := png.Encode(&pngBuf, upright); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jpegBuf, stored, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	rotated, err := datasets.WithJPEGOrientation(jpegBuf.Bytes(), 6)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"upright.png": pngBuf.Bytes(), "rotated.jpg": rotated}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout bytes.Buffer
	if err := runPredict([]string{"--model-dir", modelDir, "--json", "--top", "2", filepath.Join(dir, "upright.png"), filepath.Join(dir, "rotated.jpg")}, &stdout); err != nil {
		t.Fatal(err)
	}
	var results []predictResult
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	if len(results) != 2 || len(results[0].Top) != 2 || len(results[0].Probabilities) != 3 || len(results[0].Pixels) != 3072 {
		t.Fatalf("unexpected result shape: %+v", results)
	}
	worst := 0
	for i, p := range results[0].Pixels {
		worst = max(worst, p-results[1].Pixels[i], results[1].Pixels[i]-p)
	}
	if worst > 6 {
		t.Errorf("the EXIF-rotated JPEG's input differs from the upright PNG's by up to %d levels", worst)
	}
	if results[0].Top[0].Class != results[1].Top[0].Class {
		t.Errorf("top-1 differs: %+v vs %+v", results[0].Top[0], results[1].Top[0])
	}
}
