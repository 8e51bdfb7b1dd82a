package notebook

import (
	"fmt"
	"html"
	"strings"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/plot"
	"github.com/gomlx/compute"
	"github.com/pkg/errors"
)

// ClassifyHTML returns, as HTML for an interactive or display cell, what trained sees of one
// image — the 32×32 record (3072 bytes, CHW, as datasets.DecodeImage gives it) enlarged 5×, with
// caption under it — and the model's five most probable classes (id — name, probability), computed
// on b with test-time augmentation tta.
func ClassifyHTML(b compute.Backend, trained *cnn.Trained, record []uint8, caption string, tta cnn.TTA) (string, error) {
	if len(record) != datasets.RecordPixels {
		return "", errors.Errorf("classifying %q: %d bytes, want a 32×32 RGB record of %d", caption, len(record), datasets.RecordPixels)
	}
	images, err := cnn.RecordsTensor([][]uint8{record})
	if err != nil {
		return "", err
	}
	logits, err := cnn.NewEvaluator(b, trained).WithTTA(tta).Logits(images)
	if err != nil {
		return "", errors.WithMessagef(err, "classifying %q", caption)
	}
	set := &datasets.Set{Name: "image", Pixels: record, Labels: []int32{0}, ClassIDs: []int{0}, ClassNames: []string{""}}
	png, err := plot.TileGrid("", []plot.Tile{{Image: set.Image(0), Caption: caption}}, 1, 5)
	if err != nil {
		return "", err
	}
	var rows []string
	for _, p := range trained.Model.TopK(logits, 5) {
		rows = append(rows, fmt.Sprintf("<tr><td>%d — %s</td><td>%.3f</td></tr>", p.ClassID, html.EscapeString(p.Name), p.Probability))
	}
	return PNGHTML(png) + "<table><tr><th>класс</th><th>вероятность</th></tr>" + strings.Join(rows, "") + "</table>", nil
}
