package training

import (
	"bytes"
	"encoding/gob"
	"testing"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/gomlx/gomlx/ml/model"
)

// TestCheckpointFormatsRoundTrip checks that the raw-bytes layout (format 2) and the older
// gob-values layout (format 1) both restore the exact variables.
func TestCheckpointFormatsRoundTrip(t *testing.T) {
	m := cnn.LectureCNN(3)
	src, err := cnn.NewTrained(m, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Format 1, as written before: header, then Tensor.GobSerialize.
	var old bytes.Buffer
	enc := gob.NewEncoder(&old)
	for v := range src.Store().IterVariables() {
		value, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(savedVariable{Path: v.Path(), Trainable: v.Trainable}); err != nil {
			t.Fatal(err)
		}
		if err := value.GobSerialize(enc); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := encodeVariables(src.Store(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		data   []byte
		format int
	}{{"format 2", raw, checkpointFormat}, {"format 1", old.Bytes(), checkpointFormatGobValues}} {
		dst, err := cnn.NewTrained(m, 8)
		if err != nil {
			t.Fatal(err)
		}
		if err := decodeVariables(tc.data, dst.Store(), tc.format); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for i := range m.Layers {
			want, _ := src.Weights(i)
			got, _ := dst.Weights(i)
			for name, p := range want {
				for j, x := range p.Data {
					if got[name].Data[j] != x {
						t.Fatalf("%s: layer %d %s[%d] = %g, want %g", tc.name, i, name, j, got[name].Data[j], x)
					}
				}
			}
		}
	}
	if err := decodeVariables(raw[:len(raw)-10], model.NewStore(), checkpointFormat); err == nil {
		t.Errorf("truncated format-2 data decoded without error")
	}
}
