// Package cnn describes convolutional networks layer by layer and builds their GoMLX graphs: the
// lecture's CNN ("Сверточные нейронные сети", on CIFAR-100) and the networks courses show next
// (BatchNorm, residual blocks, dropout).
//
//   - The description: a Model is a list of layers, each a Layer defined in one file of its own
//     (layer_*.go: its hyper-parameters as JSON, its parameters and buffers, its graph, output
//     shape, multiply-accumulates and ONNX nodes) and registered once in registry.go; blocks nest
//     (Sequential, Residual). From the description come the summary table (Summary), the FLOPs
//     (package bench), the checkpoints (package training) and the ONNX export (package onnxexport).
//   - The graph: Trained holds a model's variables (weights, BatchNorm statistics, random state) in
//     a GoMLX model.Store; Trained.Forward builds the training or inference graph, with the graph
//     rewrites of GraphOptions (layout, convolution method, batch splitting) held by the Trained
//     value. RunLayer runs one layer on a tensor, the way the slides' examples (package lecture)
//     run the model's own Conv2d and pooling layers.
//   - Inference: Evaluator (logits, accuracy and loss on a data set, with the current weights),
//     Softmax, Model.TopK, Activations.
//   - The zoo (Zoo, NewModel): the lecture's CNN, its max-pooling variant, the MLP baseline,
//     ResNetMini and ResNet18.
//
// The other concerns live in packages of their own, each depending only on those before it:
// lecture (the slides' worked examples, computed with this package's layers), metrics (accuracy,
// confusion matrices and scikit-learn-style reports), training (optimizers, the training loop,
// checkpoints and saved models).
//
// # Adding a layer type
//
// Write a file layer_<name>.go with a struct whose exported fields are the hyper-parameters and
// the seven methods of Layer, and add one line to layerTypes in registry.go. The compiler refuses a
// type that lacks a method; Model.Validate refuses a model with an unregistered type, naming it.
//
// Backends come from package github.com/cnnlab/cnnlab/backend ("xla:cpu" by default, or
// GoMLX's pure-Go "go" backend). Functions that run computations take the backend as an argument
// and return errors; graph-building functions (those taking *graph.Node) panic on invalid
// arguments, as GoMLX's own operations do.
package cnn
