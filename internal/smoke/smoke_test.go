package smoke

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cnnlab/cnnlab/backend"
)

// tolerance for float32 results of two backends: both accumulate a few hundred products in a
// different order, so they may differ in the last bits, far below 1e-5.
const tolerance = 1e-5

func TestXLAAndGoAgree(t *testing.T) {
	goBackend, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	xlaBackend, err := backend.New("xla:cpu")
	if errors.Is(err, backend.ErrXLAPluginMissing) {
		t.Fatalf("XLA CPU is required here (run scripts/setup.sh): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	goResult, err := Run(goBackend)
	if err != nil {
		t.Fatal(err)
	}
	xlaResult, err := Run(xlaBackend)
	if err != nil {
		t.Fatal(err)
	}
	if len(goResult.Gradients) != 8*27+16*72+2560 {
		t.Fatalf("got %d gradient values, want %d", len(goResult.Gradients), 8*27+16*72+2560)
	}
	if goResult.Loss <= 0 {
		t.Fatalf("loss %g, want > 0", goResult.Loss)
	}
	diff := MaxAbsDiff(goResult, xlaResult)
	t.Logf("%s: loss %.7f; %s: loss %.7f; max |diff| over loss and %d gradients = %.3g",
		backend.Describe(xlaBackend), xlaResult.Loss, backend.Describe(goBackend), goResult.Loss,
		len(goResult.Gradients), diff)
	if diff > tolerance {
		t.Errorf("xla:cpu and go differ by %g > %g", diff, tolerance)
	}
}

func TestShardedAgrees(t *testing.T) {
	b, err := backend.New("xla:cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	one, err := Run(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, devices := range []int{2, 4} {
		sharded, err := RunSharded(b, devices)
		if err != nil {
			t.Fatalf("%d devices: %v", devices, err)
		}
		diff := MaxAbsDiff(one, sharded)
		t.Logf("%d devices: loss %.7f (one device %.7f), max |diff| %.3g", devices, sharded.Loss, one.Loss, diff)
		if diff > tolerance {
			t.Errorf("%d devices differ from one by %g > %g", devices, diff, tolerance)
		}
	}
	for _, tc := range []struct {
		devices int
		want    string
	}{
		{3, "devices 3: the smoke network's batch of 4 images is not divisible by 3"},
		{b.NumDevices() + 1, fmt.Sprintf("devices %d: backend xla has %d device(s)", b.NumDevices()+1, b.NumDevices())},
	} {
		if _, err := RunSharded(b, tc.devices); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("RunSharded(%d) = %v, want an error containing %q", tc.devices, err, tc.want)
		}
	}
}
