// Command webgen writes the test data of the web page's browser test (web/test): an exported
// model, real CIFAR-100 test images as PNG files of several sizes, and GoMLX's predictions for
// them (after decoding and resizing each PNG with datasets.LoadImageFile, as the page must).
//
// Usage: go run ./onnxexport/internal/webgen --out DIR [--n 20] [--epochs 8] [--model SAVED_DIR] [--model100 SAVED_DIR]
//
// DIR receives model.onnx, images/*.png, not-onnx.onnx and not-an-image.png (for the error
// cases), expected.json, and for the page's other checks: saved/ (the model for `cnnlab predict`),
// parity/ (an EXIF-rotated JPEG and a PNG with alpha, run through both the page and predict),
// big.jpg (a 3000×3000 photo, for the stale-result race) and model100.onnx (the lecture CNN with
// 100 outputs and untrained random weights: it checks the 100-class page path, not accuracy; with
// --model100, a trained 100-class model instead, e.g. the cifar100-1h preset's).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"

	"github.com/cnnlab/cnnlab/backend"
	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/onnxexport"
	"github.com/cnnlab/cnnlab/onnxexport/internal/fixture"
	"github.com/cnnlab/cnnlab/training"
	"github.com/gomlx/compute"
	"github.com/pkg/errors"
	"golang.org/x/image/draw"
)

// expectedImage is what the page must show for one image.
type expectedImage struct {
	File          string    `json:"file"`
	Width         int       `json:"width"`
	Height        int       `json:"height"`
	TrueID        int       `json:"true_id"`
	Index         int       `json:"index"`
	ClassID       int       `json:"class_id"`
	Name          string    `json:"name"`
	Logits        []float32 `json:"logits"`
	Probabilities []float64 `json:"probabilities"`
	Pixels        []int     `json:"pixels"`
}

// expected is expected.json.
type expected struct {
	Model      string           `json:"model"`
	ClassIDs   []int            `json:"class_ids"`
	ClassNames []string         `json:"class_names"`
	Steps      int              `json:"training_steps"`
	Info       *onnxexport.Info `json:"onnx"`
	Images     []expectedImage  `json:"images"`
	// Model100 holds GoMLX's logits of model100.onnx for the first images (all of them when trained).
	Model100 []expectedImage `json:"model100"`
	// Model100Trained is true when model100.onnx is a trained model (--model100), not random weights.
	Model100Trained bool `json:"model100_trained"`
}

// sizes are the sizes the test images are written at (cycled): the original 32×32 and larger ones,
// so the page's resize runs with reduction factors above 1 and non-square sources.
var sizes = [][2]int{{32, 32}, {96, 96}, {57, 41}, {200, 150}}

func main() {
	out := flag.String("out", "", "output directory (required)")
	n := flag.Int("n", 20, "number of test images")
	epochs := flag.Int("epochs", 8, "epochs of training of the lecture CNN on the 3 lecture classes")
	modelDir := flag.String("model", "", "saved model directory to export instead of training one")
	model100Dir := flag.String("model100", "", "saved 100-class model directory (e.g. of cnnlab train --preset cifar100-1h) to export as model100.onnx instead of an untrained one")
	flag.Parse()
	if err := run(*out, *n, *epochs, *modelDir, *model100Dir); err != nil {
		fmt.Fprintln(os.Stderr, "webgen:", err)
		os.Exit(1)
	}
}

func run(out string, n, epochs int, modelDir, model100Dir string) error {
	if out == "" {
		return errors.New("--out is required")
	}
	if err := os.MkdirAll(filepath.Join(out, "images"), 0o755); err != nil {
		return errors.Wrap(err, "creating the output directory")
	}
	b, err := backend.New("")
	if err != nil {
		return err
	}
	data, err := fixture.LoadData("")
	if err != nil {
		return err
	}
	var t *cnn.Trained
	steps := 0
	if modelDir != "" {
		var state *training.CheckpointState
		if t, state, err = training.LoadModel(modelDir); err != nil {
			return err
		}
		steps = state.GlobalStep
	} else if t, steps, err = fixture.Train(b, data, cnn.LectureCNN(3), epochs, 1); err != nil {
		return err
	}
	info, err := onnxexport.ExportFile(t, filepath.Join(out, "model.onnx"), onnxexport.Options{})
	if err != nil {
		return err
	}
	exp := expected{Model: t.Model.Name, ClassIDs: t.Model.ClassIDs, ClassNames: t.Model.ClassNames, Steps: steps, Info: info}
	set := data.Test
	if n > set.Len() {
		return errors.Errorf("--n %d: the test subset has %d images", n, set.Len())
	}
	var records [][]uint8
	for i := range n {
		// Spread the picks over the subset (it is sorted by file order, classes mixed).
		idx := i * set.Len() / n
		size := sizes[i%len(sizes)]
		src := set.Image(idx)
		img := image.Image(src)
		if size != [2]int{32, 32} {
			big := image.NewRGBA(image.Rect(0, 0, size[0], size[1]))
			draw.BiLinear.Scale(big, big.Bounds(), src, src.Bounds(), draw.Src, nil)
			img = big
		}
		name := fmt.Sprintf("%02d_%s_%dx%d.png", i, set.ClassName(idx), size[0], size[1])
		path := filepath.Join(out, "images", name)
		if err := writePNG(path, img); err != nil {
			return err
		}
		record, err := datasets.LoadImageFile(path)
		if err != nil {
			return err
		}
		records = append(records, record)
		pixels := make([]int, len(record))
		for j, p := range record {
			pixels[j] = int(p)
		}
		exp.Images = append(exp.Images, expectedImage{File: name, Width: size[0], Height: size[1],
			TrueID: set.ClassIDs[set.Labels[idx]], Pixels: pixels})
	}
	images, err := cnn.RecordsTensor(records)
	if err != nil {
		return err
	}
	logits, err := cnn.NewEvaluator(b, t).Logits(images)
	if err != nil {
		return err
	}
	classes := t.Model.NumClasses()
	for i := range exp.Images {
		row := logits[i*classes : (i+1)*classes]
		e := &exp.Images[i]
		e.Logits = row
		e.Probabilities = cnn.Softmax(row)
		e.Index = onnxexport.Argmax(row)
		e.ClassID = t.Model.ClassIDs[e.Index]
		e.Name = t.Model.ClassName(e.Index)
	}
	if err := training.SaveModel(filepath.Join(out, "saved"), t, &training.CheckpointState{GlobalStep: steps}); err != nil {
		return err
	}
	if err := writeExtras(out, set); err != nil {
		return err
	}
	exp.Model100Trained = model100Dir != ""
	if !exp.Model100Trained {
		records = records[:2]
	}
	if exp.Model100, err = writeModel100(b, out, model100Dir, data.All.FineNames, records, exp.Images[:len(records)]); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "not-onnx.onnx"), []byte("this is a text file, not an ONNX model\n"), 0o644); err != nil {
		return errors.Wrap(err, "writing not-onnx.onnx")
	}
	if err := os.WriteFile(filepath.Join(out, "not-an-image.png"), []byte("this is a text file, not a PNG image\n"), 0o644); err != nil {
		return errors.Wrap(err, "writing not-an-image.png")
	}
	js, err := json.MarshalIndent(&exp, "", " ")
	if err != nil {
		return errors.Wrap(err, "encoding expected.json")
	}
	if err := os.WriteFile(filepath.Join(out, "expected.json"), js, 0o644); err != nil {
		return errors.Wrap(err, "writing expected.json")
	}
	fmt.Printf("webgen: %s; %d images in %s\n", info.String(), n, out)
	return nil
}

// writePNG writes img as a PNG file at path.
func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return errors.Wrap(err, "creating PNG")
	}
	if err := png.Encode(f, img); err != nil {
		_ = f.Close()
		return errors.Wrapf(err, "encoding %s", path)
	}
	return errors.Wrapf(f.Close(), "closing %s", path)
}

// scaled returns src scaled to w×h with a bilinear filter, as an NRGBA image.
func scaled(src image.Image, w, h int) *image.NRGBA {
	big := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(big, big.Bounds(), src, src.Bounds(), draw.Src, nil)
	return big
}

// writeExtras writes parity/rotated6.jpg (a 240×180 picture stored turned 90° counter-clockwise,
// EXIF orientation 6, as phones write), parity/alpha.png (a 160×160 picture whose alpha falls from
// 255 to 40 left to right) and big.jpg (3000×3000), from test images of set.
func writeExtras(out string, set *datasets.Set) error {
	if err := os.MkdirAll(filepath.Join(out, "parity"), 0o755); err != nil {
		return errors.Wrap(err, "creating parity/")
	}
	upright := scaled(set.Image(1), 240, 180)
	stored := image.NewNRGBA(image.Rect(0, 0, 180, 240))
	for y := range 180 {
		for x := range 240 {
			stored.SetNRGBA(y, 239-x, upright.NRGBAAt(x, y))
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, stored, &jpeg.Options{Quality: 95}); err != nil {
		return errors.Wrap(err, "encoding rotated6.jpg")
	}
	rotated, err := datasets.WithJPEGOrientation(buf.Bytes(), 6)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "parity", "rotated6.jpg"), rotated, 0o644); err != nil {
		return errors.Wrap(err, "writing rotated6.jpg")
	}
	alpha := scaled(set.Image(2), 160, 160)
	for y := range 160 {
		for x := range 160 {
			c := alpha.NRGBAAt(x, y)
			c.A = uint8(255 - 215*x/159)
			alpha.SetNRGBA(x, y, c)
		}
	}
	if err := writePNG(filepath.Join(out, "parity", "alpha.png"), alpha); err != nil {
		return err
	}
	buf.Reset()
	if err := jpeg.Encode(&buf, scaled(set.Image(3), 3000, 3000), &jpeg.Options{Quality: 90}); err != nil {
		return errors.Wrap(err, "encoding big.jpg")
	}
	return errors.Wrap(os.WriteFile(filepath.Join(out, "big.jpg"), buf.Bytes(), 0o644), "writing big.jpg")
}

// writeModel100 exports a 100-class model as model100.onnx — the saved model in dir, or without dir
// the lecture CNN with 100 outputs (all CIFAR-100 classes, named by names) and untrained weights —
// and returns GoMLX's logits for records (described by imgs).
func writeModel100(b compute.Backend, out, dir string, names []string, records [][]uint8, imgs []expectedImage) ([]expectedImage, error) {
	var t *cnn.Trained
	if dir != "" {
		saved, _, err := training.LoadModel(dir)
		if err != nil {
			return nil, errors.WithMessage(err, "--model100")
		}
		if saved.Model.NumClasses() != 100 {
			return nil, errors.Errorf("--model100 %s: model %s has %d classes, want 100", dir, saved.Model.Name, saved.Model.NumClasses())
		}
		t = saved
	} else {
		m := cnn.LectureCNN(100)
		m.ClassNames = append([]string(nil), names...)
		for i := range 100 {
			m.ClassIDs = append(m.ClassIDs, i)
		}
		var err error
		if t, err = cnn.NewTrained(m, 100); err != nil {
			return nil, err
		}
	}
	if _, err := onnxexport.ExportFile(t, filepath.Join(out, "model100.onnx"), onnxexport.Options{AllowUntrained: dir == ""}); err != nil {
		return nil, err
	}
	images, err := cnn.RecordsTensor(records)
	if err != nil {
		return nil, err
	}
	logits, err := cnn.NewEvaluator(b, t).Logits(images)
	if err != nil {
		return nil, err
	}
	res := make([]expectedImage, len(records))
	for i := range records {
		row := logits[i*100 : (i+1)*100]
		res[i] = expectedImage{File: imgs[i].File, TrueID: imgs[i].TrueID, Logits: row, Probabilities: cnn.Softmax(row), Index: onnxexport.Argmax(row)}
		res[i].ClassID, res[i].Name = res[i].Index, names[res[i].Index]
	}
	return res, nil
}
