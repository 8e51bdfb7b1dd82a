// Package training trains the models of package cnn on CIFAR-100 sets.
//
//   - Optimizers: the slides' SGD with a constant rate (NewSGD), with linear learning-rate decay
//     (NewLinearDecay) and with momentum (NewMomentum), optional L2 weight decay (WithWeightDecay),
//     and GoMLX's Adam (NewAdam) for comparison, all GoMLX optimizer.Interface values.
//   - The loop: Train (and Experiment, a training run with its final evaluation), with a progress
//     display (Progress) and per-epoch statistics (EpochStats).
//   - Files: checkpoints (SaveCheckpoint, RestoreCheckpoint, CheckpointState) and saved models
//     (SaveModel, LoadModel), in one directory layout: model.json, checkpoint.json and a weights
//     file with its sha256.
//
// # The training loop
//
// Train drives GoMLX's train.Trainer (one TrainStep per batch, GoMLX's sparse categorical accuracy
// as the batch metric) with its own loop rather than train.Loop, for what the lecture's runs need
// and train.Loop does not give: resuming mid-epoch bit-identically (the position in the epoch, the
// running means and the history are part of the checkpoint, and the batches of the resumed epoch
// are those an uninterrupted run would have drawn), checkpoints written in the background while
// training goes on, per-epoch evaluation with a reusable cnn.Evaluator, and a plain progress
// display for CI logs. GoMLX's model.Store holds the weights, the optimizer state and the random
// state, so GoMLX tools that work on a store (plots, checkpoints) still apply.
package training
