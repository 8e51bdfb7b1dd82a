package main

import (
	"fmt"
	"io"

	"github.com/cnnlab/cnnlab/cnn"
)

// runModels lists the model zoo: one model a line, its short name first, then its description.
func runModels(args []string, stdout io.Writer) error {
	fs := newFlagSet("models", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	for _, e := range cnn.Zoo() {
		m := e.New(100)
		trainable, buffers := m.ParamCounts()
		fmt.Fprintf(stdout, "%-12s %s (%s; %s trainable parameters, %s buffers at 100 classes)\n", e.Short, e.Description, e.Name,
			humanCount(trainable), humanCount(buffers))
	}
	return nil
}

// humanCount formats n as 1,234 or 11.2 M.
func humanCount(n int) string {
	if n >= 1_000_000 {
		return fmt.Sprintf("%.1f M", float64(n)/1e6)
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
