package bench

import (
	"fmt"

	"github.com/cnnlab/cnnlab/cnn"
)

// LayerFLOPs are the floating-point operations of one layer for one image.
type LayerFLOPs struct {
	Layer string `json:"layer"`
	// Forward is 2 × the multiply-accumulates of the layer's forward pass.
	Forward int64 `json:"forward"`
	// InputGrad and WeightGrad are the backward pass: the gradient with respect to the layer's
	// input (not computed for the first layer with parameters: its input is the data) and to its
	// weights. Each costs as many multiply-accumulates as the forward pass.
	InputGrad  int64 `json:"input_grad"`
	WeightGrad int64 `json:"weight_grad"`
}

// Train is the layer's FLOPs in a training step (forward + backward).
func (l LayerFLOPs) Train() int64 { return l.Forward + l.InputGrad + l.WeightGrad }

// FLOPs counts the FLOPs per image of m: 2 per multiply-accumulate of each layer (cnn.Layer.MACs:
// the convolutions and linear layers — the dense work a CPU's FMA units do), at any depth of its
// blocks. Element-wise layers (Normalize, ReLU, BatchNorm2d, bias additions), pooling, the loss and
// the optimizer update are not counted: they are O(activations) or O(parameters), about 1% of the
// total for the lecture's CNN. A training step of a batch of B images costs B × the sum of Train()
// of the layers.
func FLOPs(m *cnn.Model) ([]LayerFLOPs, error) {
	var out []LayerFLOPs
	seenParams := false
	err := m.Walk(func(n cnn.Node) error {
		macs := n.Layer.MACs(n.In, n.Out)
		if macs <= 0 {
			return nil
		}
		f := LayerFLOPs{Layer: fmt.Sprintf("%s %s", n.Path, n.Layer.Type()), Forward: 2 * macs, WeightGrad: 2 * macs}
		if seenParams {
			f.InputGrad = 2 * macs
		}
		seenParams = true
		out = append(out, f)
		return nil
	})
	return out, err
}

// TrainFLOPsPerImage is the sum of the training FLOPs of m's layers for one image.
func TrainFLOPsPerImage(m *cnn.Model) (int64, error) {
	layers, err := FLOPs(m)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, l := range layers {
		n += l.Train()
	}
	return n, nil
}

// ForwardFLOPsPerImage is the sum of the forward FLOPs of m's layers for one image (inference).
func ForwardFLOPsPerImage(m *cnn.Model) (int64, error) {
	layers, err := FLOPs(m)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, l := range layers {
		n += l.Forward
	}
	return n, nil
}
