package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/cnnlab/cnnlab/backend"
	"github.com/cnnlab/cnnlab/internal/smoke"
	"github.com/pkg/errors"
)

// runSmoke runs the smoke network on one backend, or on several to compare them.
func runSmoke(args []string, stdout io.Writer) error {
	fs := newFlagSet("smoke", "[--backend B] [--compare B2] [--devices N]")
	backendFlag := fs.String("backend", "", backendUsage)
	compare := fs.String("compare", "", "a second backend to run and compare with (e.g. go)")
	tolerance := fs.Float64("tolerance", 1e-5, "largest absolute difference accepted by --compare and --devices")
	devices := fs.Int("devices", 1, "also run the network with its batch of 4 split across this many devices of --backend (1, 2 or 4) and compare")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.Errorf("unexpected arguments %q", strings.Join(fs.Args(), " "))
	}
	if *devices < 1 || 4%*devices != 0 {
		return errors.Errorf("--devices %d: want 1, 2 or 4 (the smoke network's batch of 4 images is split evenly)", *devices)
	}
	first, err := smokeOn(*backendFlag, *devices, *tolerance, stdout)
	if err != nil || *compare == "" {
		return err
	}
	second, err := smokeOn(*compare, 1, *tolerance, stdout)
	if err != nil {
		return err
	}
	diff := smoke.MaxAbsDiff(first, second)
	fmt.Fprintf(stdout, "max |difference| between %s and %s: %.3g (tolerance %g)\n",
		backend.Resolve(*backendFlag), backend.Resolve(*compare), diff, *tolerance)
	if diff > *tolerance {
		return errors.Errorf("backends differ by %g > %g", diff, *tolerance)
	}
	return nil
}

// smokeOn creates the backend named by flagValue, runs the smoke network and prints the result;
// with devices > 1 it runs it again split across that many devices and fails if the two differ
// by more than tolerance.
func smokeOn(flagValue string, devices int, tolerance float64, stdout io.Writer) (smoke.Result, error) {
	b, err := backend.New(flagValue)
	if err != nil {
		return smoke.Result{}, err
	}
	defer b.Finalize()
	fmt.Fprintln(stdout, runningOn(b))
	if available := b.NumDevices(); devices > available {
		return smoke.Result{}, errors.Errorf("--devices %d: backend %s has only %d device(s)", devices, b.Name(), available)
	}
	result, err := smoke.Run(b)
	if err != nil {
		return result, err
	}
	fmt.Fprintf(stdout, "  conv net forward+backward: loss %.7f, %d gradient values\n", result.Loss, len(result.Gradients))
	if devices == 1 {
		return result, nil
	}
	sharded, err := smoke.RunSharded(b, devices)
	if err != nil {
		return result, err
	}
	diff := smoke.MaxAbsDiff(result, sharded)
	fmt.Fprintf(stdout, "  devices: %d seen, batch split across devices 0…%d: loss %.7f, max |difference| to one device %.3g (tolerance %g)\n",
		b.NumDevices(), devices-1, sharded.Loss, diff, tolerance)
	if diff > tolerance {
		return result, errors.Errorf("%d devices differ from one by %g > %g", devices, diff, tolerance)
	}
	return result, nil
}
