package cnn

import (
	"fmt"
	"strconv"
	"strings"
)

// Summary returns the model's table in torchsummary's format, as printed in the lecture: one row
// per module, numbered in the order torchsummary lists them (the layers of a block, then the block:
// "Conv2d-5", "BatchNorm2d-6", …, "Residual-12"), its output shape
// ("[-1, 32, 8, 8]") and parameter count ("2,432", buffers included, as torchsummary does not —
// see the non-trainable total); then the totals (total, trainable and non-trainable, computed from
// the layers' declarations) and the estimated sizes in MB for a batch of one, computed as
// torchsummary does (float32 values).
func (m *Model) Summary() (string, error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	var b strings.Builder
	line, double := strings.Repeat("-", 64), strings.Repeat("=", 64)
	fmt.Fprintln(&b, line)
	fmt.Fprintf(&b, "%20s  %25s %15s\n", "Layer (type)", "Output Shape", "Param #")
	fmt.Fprintln(&b, double)
	totalOutputs, row := 0, 0
	err := m.Walk(func(n Node) error {
		row++
		name := fmt.Sprintf("%s-%d", n.Layer.Type(), row)
		fmt.Fprintf(&b, "%20s  %25s %15s\n", name, batchShape(n.Out), thousands(NumParams(n.Layer)))
		if _, ok := n.Layer.(Container); !ok {
			totalOutputs += product(n.Out)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	trainable, buffers := m.ParamCounts()
	total := trainable + buffers
	fmt.Fprintln(&b, double)
	fmt.Fprintf(&b, "Total params: %s\n", thousands(total))
	fmt.Fprintf(&b, "Trainable params: %s\n", thousands(trainable))
	fmt.Fprintf(&b, "Non-trainable params: %s\n", thousands(buffers))
	fmt.Fprintln(&b, line)
	const mb = 1024 * 1024
	inputMB := float64(product(m.InputShape[:])) * 4 / mb
	forwardBackwardMB := 2 * float64(totalOutputs) * 4 / mb
	paramsMB := float64(total) * 4 / mb
	fmt.Fprintf(&b, "Input size (MB): %.2f\n", inputMB)
	fmt.Fprintf(&b, "Forward/backward pass size (MB): %.2f\n", forwardBackwardMB)
	fmt.Fprintf(&b, "Params size (MB): %.2f\n", paramsMB)
	fmt.Fprintf(&b, "Estimated Total Size (MB): %.2f\n", inputMB+forwardBackwardMB+paramsMB)
	fmt.Fprintln(&b, line)
	return b.String(), nil
}

// batchShape formats a shape with torchsummary's -1 batch axis: [-1, 32, 8, 8].
func batchShape(dims []int) string {
	parts := []string{"-1"}
	for _, d := range dims {
		parts = append(parts, strconv.Itoa(d))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// thousands formats n with commas every three digits, as Python's "{:,}".
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
