// Package testkit holds what the tests of several packages share: the backends they run on, a
// small synthetic data set. It is for tests only.
package testkit

import (
	"errors"
	"sync"
	"testing"

	"github.com/cnnlab/cnnlab/backend"
	"github.com/cnnlab/cnnlab/datasets"
	"github.com/cnnlab/cnnlab/internal/testenv"
	"github.com/gomlx/compute"
)

// BackendNames are the backends every backend-parametrised test runs on: XLA's CPU plugin and
// GoMLX's pure-Go backend.
func BackendNames() []string { return []string{"xla:cpu", "go"} }

// cache shares one backend per configuration among the tests of a test binary; backends are
// expensive to create and safe to share.
var cache sync.Map

// Backend returns the shared backend for config, skipping the test (failing in CI, see
// testenv.SkipOrFail) when it cannot be created, e.g. without the XLA plugin.
func Backend(t testing.TB, config string) compute.Backend {
	t.Helper()
	if b, ok := cache.Load(config); ok {
		return b.(compute.Backend)
	}
	b, err := backend.New(config)
	if err != nil {
		testenv.SkipOrFail(t, "backend %q not available: %v", config, err)
	}
	actual, loaded := cache.LoadOrStore(config, b)
	if loaded {
		b.Finalize()
	}
	return actual.(compute.Backend)
}

// ForEachBackend runs test as a sub-test on every backend of BackendNames.
func ForEachBackend(t *testing.T, test func(t *testing.T, b compute.Backend)) {
	for _, config := range BackendNames() {
		t.Run(config, func(t *testing.T) { test(t, Backend(t, config)) })
	}
}

// Backends returns the backends of BackendNames by name, each created for this test and finalised
// when it ends. XLA CPU is required in this project: its absence fails the test with the way out.
func Backends(t *testing.T) map[string]compute.Backend {
	t.Helper()
	result := map[string]compute.Backend{}
	for _, name := range BackendNames() {
		b, err := backend.New(name)
		if errors.Is(err, backend.ErrXLAPluginMissing) {
			t.Fatalf("XLA CPU is required here (run scripts/setup.sh): %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Finalize)
		result[name] = b
	}
	return result
}

// SyntheticSet returns n images of 3 classes (named as the lecture's) whose colour depends on the
// class, plus noise from a linear congruential generator seeded with seed, so that a few steps of
// training change the predictions.
func SyntheticSet(n int, seed uint32) *datasets.Set {
	s := &datasets.Set{Name: "synthetic", ClassIDs: []int{0, 55, 58}, ClassNames: []string{"apple", "otter", "pickup_truck"}}
	state := seed
	for i := range n {
		label := int32(i % 3)
		s.Labels = append(s.Labels, label)
		s.Coarse = append(s.Coarse, 0)
		for c := range 3 {
			for range 1024 {
				state = state*1664525 + 1013904223
				v := int(state>>24) / 2
				if int32(c) == label {
					v += 120
				}
				s.Pixels = append(s.Pixels, uint8(v))
			}
		}
	}
	return s
}
