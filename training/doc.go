// Package training trains the models of package cnn on CIFAR-100 sets.
//
//   - Optimizers: the slides' SGD with a constant rate (NewSGD), with linear learning-rate decay
//     (NewLinearDecay) and with momentum (NewMomentum), optional L2 weight decay (WithWeightDecay),
//     and GoMLX's Adam (NewAdam) for comparison, all GoMLX optimizer.Interface values.
//   - The loop: Train (and Experiment, a training run with its final evaluation), with a progress
//     display (Progress) and per-epoch statistics (EpochStats).
//   - Files: checkpoints (SaveCheckpoint, RestoreCheckpoint, CheckpointState) and saved models
//     (SaveModel, LoadModel), in one directory layout: model.json, checkpoint.json and a weights
//     file, checkpoint.json holding the sha256 of both.
//
// # Resuming safely
//
// A checkpoint records every setting that changes the result: the model and its classes, the
// optimizer and its hyper-parameters, the batch size, the seed, the augmentation and the sha256 of
// the training set. Train resumes only with the same ones (else a SettingsMismatchError names each
// change, old and new value; cnnlab's way out is another --out or --restart). Only finite weights
// are saved: after a divergence (ErrNonFinite) the last checkpoint is the last good state, and the
// error names it. Checkpoints hold the model, optimizer, step and random state, never the trainer's
// metric variables, so a resumed run's files do not grow; temporary files of a save killed midway
// are removed at the next start. TrainConfig.Validate checks every hyper-parameter before anything
// runs.
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
//
// # Several devices
//
// With TrainConfig.Devices = N > 1, every step runs data-parallel on devices 0…N−1 of the backend
// through GoMLX's AutoSharding (XLA's Shardy partitioner, train.Trainer.DistributedTrainStep): the
// global batch of BatchSize images is split in N equal shares along the batch axis, the weights
// and the optimizer state are replicated, and XLA all-reduces the gradients — and BatchNorm's
// batch statistics, which are therefore synchronised over the global batch (PyTorch's
// SyncBatchNorm, not DDP's per-device statistics). The random state (Dropout) is replicated too:
// every device draws the masks one device would. Checkpoints hold one copy and resume on any
// number of devices; evaluation is split across the same devices (NewEvaluator,
// cnn.Evaluator.Sharded). docs/distributed.md has the details and the measurements.
package training
