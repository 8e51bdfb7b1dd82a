package cnn

import (
	"testing"

	"github.com/cnnlab/cnnlab/internal/testkit"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// TestBatchSplitWhere checks the per-backend defaults and where the batch is split: only batches
// large enough (TestBatchSplitEqual would pass trivially if nothing were ever split), and never the
// forward pass of a model with batch statistics.
func TestBatchSplitWhere(t *testing.T) {
	t.Parallel()
	backends := testkit.Backends(t)
	for _, c := range []struct {
		backend string
		batch   int
		want    int
	}{{"xla:cpu", 128, 2}, {"xla:cpu", 32, 2}, {"xla:cpu", 16, 1}, {"go", 128, 1}} {
		g := graph.NewGraph(backends[c.backend], "split")
		x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, c.batch, 8, 8, 32))
		if got := convBatchChunks(DefaultGraphOptions(backends[c.backend]), x); got != c.want {
			t.Errorf("%s, batch %d: convolution in %d chunks, want %d", c.backend, c.batch, got, c.want)
		}
		g.Finalize()
	}
	if DefaultGraphOptions(backends["xla:cpu"]).ForwardChunk != 64 || DefaultGraphOptions(backends["go"]).ForwardChunk != 0 {
		t.Error("ForwardChunk defaults: want 64 on xla:cpu, 0 on go")
	}
	if LectureCNN(3).couplesBatch() || !ResNetMini(3).couplesBatch() {
		t.Error("couplesBatch: want false for the lecture CNN, true for ResNetMini")
	}
}
