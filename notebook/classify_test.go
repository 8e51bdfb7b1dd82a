package notebook

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/internal/testkit"
)

// TestClassifyHTML checks the picture and the top-5 table of ClassifyHTML against the model's own
// ranking of the same image, with and without TTA, and the error for a record of the wrong size.
func TestClassifyHTML(t *testing.T) {
	b := testkit.Backend(t, "xla:cpu")
	m := cnn.LectureCNN(6)
	m.ClassIDs, m.ClassNames = []int{0, 55, 58, 1, 2, 3}, []string{"apple", "otter", "pickup_truck", "aquarium_fish", "baby", "bear"}
	trained, err := cnn.NewTrained(m, 7)
	if err != nil {
		t.Fatal(err)
	}
	set := testkit.SyntheticSet(1, 5)
	record := set.Record(0)
	for _, tta := range []cnn.TTA{cnn.TTANone, cnn.TTAFlip} {
		got, err := ClassifyHTML(b, trained, record, "test <0>", tta)
		if err != nil {
			t.Fatal(err)
		}
		images, err := cnn.RecordsTensor([][]uint8{record})
		if err != nil {
			t.Fatal(err)
		}
		logits, err := cnn.NewEvaluator(b, trained).WithTTA(tta).Logits(images)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got, `<img src="data:image/png;base64,`) {
			t.Errorf("%s: HTML does not start with the picture: %.60s", tta, got)
		}
		at := 0
		for _, p := range m.TopK(logits, 5) {
			row := fmt.Sprintf("<tr><td>%d — %s</td><td>%.3f</td></tr>", p.ClassID, p.Name, p.Probability)
			i := strings.Index(got[at:], row)
			if i < 0 {
				t.Fatalf("%s: row %q missing or out of order in %s", tta, row, got[strings.Index(got, "<table>"):])
			}
			at += i + len(row)
		}
		if n := strings.Count(got, "<tr><td>"); n != 5 {
			t.Errorf("%s: %d class rows, want 5", tta, n)
		}
	}
	if _, err := ClassifyHTML(b, trained, record[:100], "short.png", cnn.TTANone); err == nil || !strings.Contains(err.Error(), "short.png") {
		t.Errorf("short record: error %v, want one naming the image", err)
	}
}
