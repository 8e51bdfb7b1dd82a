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
	fs := newFlagSet("smoke", "[--backend B] [--compare B2]")
	backendFlag := fs.String("backend", "", backendUsage)
	compare := fs.String("compare", "", "a second backend to run and compare with (e.g. go)")
	tolerance := fs.Float64("tolerance", 1e-5, "largest absolute difference accepted by --compare")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.Errorf("unexpected arguments %q", strings.Join(fs.Args(), " "))
	}
	first, err := smokeOn(*backendFlag, stdout)
	if err != nil || *compare == "" {
		return err
	}
	second, err := smokeOn(*compare, stdout)
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

// smokeOn creates the backend named by flagValue, runs the smoke network and prints the result.
func smokeOn(flagValue string, stdout io.Writer) (smoke.Result, error) {
	b, err := backend.New(flagValue)
	if err != nil {
		return smoke.Result{}, err
	}
	defer b.Finalize()
	fmt.Fprintf(stdout, "running on %s\n", backend.Describe(b))
	result, err := smoke.Run(b)
	if err != nil {
		return result, err
	}
	fmt.Fprintf(stdout, "  conv net forward+backward: loss %.7f, %d gradient values\n", result.Loss, len(result.Gradients))
	return result, nil
}
