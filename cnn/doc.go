// Package cnn reproduces, with GoMLX, the convolutional networks of the lecture "Сверточные
// нейронные сети" (convolutional neural networks) on CIFAR-100.
//
// It has four parts, in the order of the lecture:
//
//   - The worked examples of the slides, computed with GoMLX operations: the convolution by hand
//     (HandConvolution), padding and stride (RunConv2D with LectureStrideOptions, and
//     SlideStrideOutputErratum for the slide's misprinted figure), zero and replicate padding
//     (Pad2D, PadZeros, PadReplicate), pooling (RunPool2D with PoolMax or PoolAverage) and the
//     output-size formula ⌊(n + 2p − k)/s⌋ + 1 (OutputSize). The graph functions Convolve2D,
//     Pad2D and Pool2D work on NCHW batches with kernels in PyTorch's layout.
//   - The model: a sequential description (Model, with layers Conv2d, ReLU, AvgPool2d, MaxPool2d,
//     Flatten, Linear, …), from which the GoMLX graph, the summary table and exports are derived;
//     LectureCNN is the lecture's network.
//   - Training: the slides' optimizers as GoMLX optimizer.Interface values for train.Trainer —
//     SGD with a constant rate (NewSGD), with linear learning-rate decay (NewLinearDecay) and with
//     momentum (NewMomentum), optional L2 weight decay (WithWeightDecay) — and GoMLX's Adam
//     (NewAdam) for comparison; the training loop and checkpoints.
//   - Evaluation: Accuracy, ConfusionMatrix, and ClassificationReport, whose Report prints exactly
//     as scikit-learn's classification_report(digits=4) so that results can be compared line by
//     line with the lecture's (LectureReports, SideBySide).
//
// Backends come from package github.com/cnnlab/cnnlab/backend ("xla:cpu" by default, or
// GoMLX's pure-Go "go" backend). Functions that run computations take the backend as an argument
// and return errors; graph-building functions (those taking *graph.Node) panic on invalid
// arguments, as GoMLX's own operations do.
package cnn
