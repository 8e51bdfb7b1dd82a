// Package cnn reproduces, with GoMLX, the convolutional networks of the lecture "Сверточные
// нейронные сети" (convolutional neural networks) on CIFAR-100, and goes on to the networks courses
// show next (BatchNorm, residual blocks, dropout).
//
// It has four parts, in the order of the lecture:
//
//   - The worked examples of the slides, computed with the model's own layers: the convolution by
//     hand (HandConvolution: a depthwise Conv2d for the per-channel sums 308, −498, 164 and the
//     full Conv2d for −25), padding and stride (RunConv2D with LectureStrideOptions, and
//     SlideStrideOutputErratum for the slide's misprinted figure), zero and replicate padding
//     (Pad2D, PadZeros, PadReplicate), pooling (RunPool2D builds the MaxPool2d or AvgPool2d layer
//     a model trains with and runs it through RunLayer) and the output-size formula
//     ⌊(n + 2p − k)/s⌋ + 1 (OutputSize).
//   - The model: a description (Model) made of layers, each a Layer defined in one file of its own
//     (layer_*.go: its hyper-parameters as JSON, its parameters and buffers, its graph, output
//     shape, multiply-accumulates and ONNX nodes) and registered once in registry.go; blocks nest
//     (Sequential, Residual). From the description come the GoMLX graph (Trained.Forward, with the
//     graph rewrites of GraphOptions held by the Trained value), the summary table (Summary), the
//     FLOPs (package bench), checkpoints and the ONNX export (package onnxexport). The zoo (Zoo,
//     NewModel) holds the lecture's CNN, its max-pooling variant, the MLP baseline, ResNetMini and
//     ResNet18.
//   - Training: the slides' optimizers as GoMLX optimizer.Interface values for train.Trainer —
//     SGD with a constant rate (NewSGD), with linear learning-rate decay (NewLinearDecay) and with
//     momentum (NewMomentum), optional L2 weight decay (WithWeightDecay) — and GoMLX's Adam
//     (NewAdam) for comparison; the training loop and checkpoints.
//   - Evaluation: Accuracy, ConfusionMatrix, and ClassificationReport, whose Report prints exactly
//     as scikit-learn's classification_report(digits=4) so that results can be compared line by
//     line with the lecture's (LectureReports, SideBySide).
//
// # Adding a layer type
//
// Write a file layer_<name>.go with a struct whose exported fields are the hyper-parameters and
// the seven methods of Layer, and add one line to layerTypes in registry.go. The compiler refuses a
// type that lacks a method; Model.Validate refuses a model with an unregistered type, naming it.
//
// # The training loop
//
// Train drives GoMLX's train.Trainer (one TrainStep per batch, GoMLX's sparse categorical accuracy
// as the batch metric) with its own loop rather than train.Loop, for what the lecture's runs need
// and train.Loop does not give: resuming mid-epoch bit-identically (the position in the epoch, the
// running means and the history are part of the checkpoint, and the batches of the resumed epoch
// are those an uninterrupted run would have drawn), checkpoints written in the background while
// training goes on, per-epoch evaluation with a reusable Evaluator, and a plain progress display
// for CI logs. GoMLX's model.Store holds the weights, the optimizer state and the random state, so
// GoMLX tools that work on a store (plots, checkpoints) still apply.
//
// Backends come from package github.com/cnnlab/cnnlab/backend ("xla:cpu" by default, or
// GoMLX's pure-Go "go" backend). Functions that run computations take the backend as an argument
// and return errors; graph-building functions (those taking *graph.Node) panic on invalid
// arguments, as GoMLX's own operations do.
package cnn
