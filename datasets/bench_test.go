package datasets

import (
	"os"
	"runtime"
	"testing"
)

// BenchmarkLoadCIFAR100 loads (and verifies) the real CIFAR-100 from $CNNLAB_DATA_DIR; it reports
// the heap in use after loading (heap-MB) and the bytes allocated per load (B/op).
func BenchmarkLoadCIFAR100(b *testing.B) {
	dir := os.Getenv(DataDirEnv)
	if dir == "" {
		b.Skipf("$%s is not set", DataDirEnv)
	}
	b.ReportAllocs()
	var d *CIFAR100
	for b.Loop() {
		var err error
		if d, err = LoadCIFAR100(dir); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapInuse)/(1<<20), "heap-MB")
	runtime.KeepAlive(d)
}

// BenchmarkBatches measures one epoch of the lecture's training batches (batch size 64, shuffled,
// augmented, NCHW) over 50,000 synthetic images, reporting batches/s.
func BenchmarkBatches(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts BatchOptions
	}{
		{"augment", BatchOptions{BatchSize: 64, Shuffle: true, Seed: 1, Augment: true}},
		{"plain", BatchOptions{BatchSize: 64, Shuffle: true, Seed: 1}},
		{"augment-1worker", BatchOptions{BatchSize: 64, Shuffle: true, Seed: 1, Augment: true, Workers: 1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := smallSet(b, 50000)
			batches, err := NewBatches(s, tc.opts)
			if err != nil {
				b.Fatal(err)
			}
			count := 0
			for b.Loop() {
				for batch, err := range batches.Iter() {
					if err != nil {
						b.Fatal(err)
					}
					_ = batch.Finalize()
					count++
				}
			}
			b.ReportMetric(float64(count)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}
