package cnn

import (
	"fmt"
	"strings"

	"github.com/cnnlab/cnnlab/datasets"
	"github.com/pkg/errors"
)

// Model names of the zoo (see Zoo).
const (
	NameResNetMini = "ResNetMini"
	NameResNet18   = "ResNet18"
	NameConvNet7   = "ConvNet7BN"
)

// ZooEntry is one model of the zoo: its name, its short name for the command line, a one-line
// description and its constructor.
type ZooEntry struct {
	Name        string
	Short       string
	Description string
	New         func(numClasses int) *Model
}

// Zoo returns the models cnnlab knows, in the order `cnnlab models` lists them.
func Zoo() []ZooEntry {
	return []ZooEntry{
		{NameLectureCNN, "cnn", "the lecture's CNN: Conv(3→32,k5,s4) → ReLU → Conv(32→64,k3) → ReLU → AvgPool(4) → Linear", LectureCNN},
		{NameLectureCNNMaxPool, "cnn-maxpool", "the lecture's CNN with MaxPool(4) instead of AvgPool(4)", LectureCNNMaxPool},
		{NameMLP, "mlp", "the previous lecture's baseline: Linear(3072→512) → ReLU → Linear", func(c int) *Model { return MLP(DefaultMLPHidden, c) }},
		{NameResNetMini, "resnet-mini", "a small residual network: conv-BN-ReLU, a residual block with projection, dropout, global pooling", ResNetMini},
		{NameConvNet7, "convnet7-bn", "a fast-training CIFAR net in airbench's style: 2×2 conv stem, three conv-pool-BN-GELU groups (64/256/256), max pool, linear head ÷ 9 (≈118 M MACs)", ConvNet7BN},
		{NameResNet18, "resnet18", "ResNet-18, CIFAR variant (3×3 stem, no max pool; 11.2 M parameters: for GPUs)", ResNet18},
	}
}

// NewModel returns the zoo model called name (its Name or Short name) for numClasses classes.
func NewModel(name string, numClasses int) (*Model, error) {
	if numClasses < 2 {
		return nil, errors.Errorf("model %q: need at least 2 classes, got %d", name, numClasses)
	}
	var names []string
	for _, e := range Zoo() {
		if name == e.Name || name == e.Short {
			m := e.New(numClasses)
			return m, m.Validate()
		}
		names = append(names, fmt.Sprintf("%s (%s)", e.Short, e.Name))
	}
	return nil, errors.Errorf("unknown model %q: choose one of %s (see `cnnlab models`)", name, strings.Join(names, ", "))
}

// ConvNet7BN is a 7-convolution network for fast CIFAR training in the style of Keller Jordan's
// airbench94 (CIFAR-10 94% in seconds on a GPU), for numClasses outputs:
//
//	Normalize → Conv2d(3→24, k2) → GELU                                         stem, 31×31
//	3 groups (64, 256, 256 channels): Conv2d(k3, no bias) → MaxPool2d(2) → BatchNorm2d → GELU →
//	                                  Conv2d(k3, no bias) → BatchNorm2d → GELU      15, 7, 3
//	MaxPool2d(3) → Flatten → Linear(256→numClasses) → Scale(1/9)
//
// airbench initialises its stem from the data (patch whitening) and freezes it; here the stem is
// an ordinary trained convolution. About 118 M multiply-accumulates per image.
func ConvNet7BN(numClasses int) *Model {
	layers := []Layer{Normalize{Mean: datasets.LectureMean, Std: datasets.LectureStd},
		Conv2d{In: 3, Out: 24, Kernel: 2, Stride: 1, PadMode: PadZeros}, GELU{}}
	in := 24
	for _, width := range [3]int{64, 256, 256} { // airbench94's widths.
		layers = append(layers, Sequential{Layers: []Layer{
			Conv2d{In: in, Out: width, Kernel: 3, Stride: 1, Padding: 1, PadMode: PadZeros, NoBias: true},
			MaxPool2d{Kernel: 2},
			NewBatchNorm2d(width), GELU{},
			Conv2d{In: width, Out: width, Kernel: 3, Stride: 1, Padding: 1, PadMode: PadZeros, NoBias: true},
			NewBatchNorm2d(width), GELU{},
		}})
		in = width
	}
	layers = append(layers, MaxPool2d{Kernel: 3}, Flatten{}, Linear{In: in, Out: numClasses}, Scale{Factor: 1.0 / 9})
	return &Model{Name: NameConvNet7, InputShape: cifarInput, Layers: layers}
}

// convBN is Conv2d without bias → BatchNorm2d, the building block of ResNets.
func convBN(in, out, kernel, stride int) []Layer {
	return []Layer{Conv2d{In: in, Out: out, Kernel: kernel, Stride: stride, Padding: kernel / 2, PadMode: PadZeros, NoBias: true}, NewBatchNorm2d(out)}
}

// basicBlock is ResNet's basic block as a Residual followed by ReLU: 3×3 conv-BN-ReLU, 3×3
// conv-BN, plus the input (through a 1×1 conv-BN projection when the shape changes).
func basicBlock(in, out, stride int) []Layer {
	body := append(append(convBN(in, out, 3, stride), ReLU{}), convBN(out, out, 3, 1)...)
	r := Residual{Body: body}
	if stride != 1 || in != out {
		r.Shortcut = convBN(in, out, 1, stride)
	}
	return []Layer{r, ReLU{}}
}

// ResNetMini is a small residual network (65,156 trainable parameters at 100 classes) that uses the course's next layers:
// Normalize → conv-BN-ReLU(32) → Residual(conv-BN-ReLU-conv-BN 64, stride 2; projection shortcut)
// → ReLU → MaxPool2d(3, stride 2) → Dropout(0.1) → GlobalAvgPool2d → Linear(64→C).
func ResNetMini(numClasses int) *Model {
	layers := []Layer{Normalize{Mean: datasets.LectureMean, Std: datasets.LectureStd}}
	layers = append(layers, convBN(3, 32, 3, 1)...)
	layers = append(layers, ReLU{})
	layers = append(layers, basicBlock(32, 64, 2)...)
	layers = append(layers, MaxPool2d{Kernel: 3, Stride: 2}, Dropout{P: 0.1}, GlobalAvgPool2d{}, Linear{In: 64, Out: numClasses})
	return &Model{Name: NameResNetMini, InputShape: cifarInput, Layers: layers}
}

// ResNet18 is ResNet-18 in its CIFAR variant (He et al. 2016 with a 3×3 stride-1 stem and no max
// pooling, as in the common CIFAR training repositories): four stages of two basic blocks with 64,
// 128, 256 and 512 channels, global average pooling and a linear head.
func ResNet18(numClasses int) *Model {
	layers := []Layer{Normalize{Mean: datasets.LectureMean, Std: datasets.LectureStd}}
	layers = append(layers, convBN(3, 64, 3, 1)...)
	layers = append(layers, ReLU{})
	in := 64
	for i, width := range []int{64, 128, 256, 512} {
		stride := 2
		if i == 0 {
			stride = 1
		}
		stage := append(basicBlock(in, width, stride), basicBlock(width, width, 1)...)
		layers = append(layers, Sequential{Layers: stage})
		in = width
	}
	layers = append(layers, GlobalAvgPool2d{}, Linear{In: 512, Out: numClasses})
	return &Model{Name: NameResNet18, InputShape: cifarInput, Layers: layers}
}

// EveryLayerModel is a model that uses every layer type of the registry, for tests and as a tour of
// the layers: ResNetMini's conv-BN-ReLU, residual block with projection and Dropout, then a
// Sequential (1×1 Conv2d, GELU, LeakyReLU), a Residual with an identity shortcut, AvgPool2d, a
// Residual summing GlobalAvgPool2d and GlobalMaxPool2d, Flatten, Linear and Scale.
// TestModelDescription fails when a registered type is missing here.
func EveryLayerModel(numClasses int) *Model {
	m := ResNetMini(numClasses)
	layers := append([]Layer{}, m.Layers[:len(m.Layers)-2]...) // Up to Dropout.
	layers = append(layers,
		Sequential{Layers: []Layer{Conv2d{In: 64, Out: 32, Kernel: 1, Stride: 1, PadMode: PadZeros}, GELU{}, LeakyReLU{Slope: 0.1}}},
		Residual{Body: []Layer{Conv2d{In: 32, Out: 32, Kernel: 3, Stride: 1, Padding: 1, PadMode: PadZeros}, NewBatchNorm2d(32)}},
		AvgPool2d{Kernel: 2},
		Residual{Body: []Layer{GlobalAvgPool2d{}}, Shortcut: []Layer{GlobalMaxPool2d{}}},
		Flatten{},
		Linear{In: 32, Out: numClasses},
		Scale{Factor: 0.5})
	return &Model{Name: "EveryLayer", InputShape: cifarInput, Layers: layers}
}
