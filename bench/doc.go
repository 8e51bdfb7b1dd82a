// Package bench holds the benchmark harness's pure computations: the FLOPs of a training step of a
// cnn.Model, the float32 peak of this machine, and the statistics of repeated timings. The
// measurements themselves are made by "cnnlab bench" (GoMLX) and bench/peers (PyTorch, JAX); one
// command, bench/run.sh, runs everything and writes bench/results and docs/benchmarks.md.
package bench
