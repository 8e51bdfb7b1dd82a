"""Shared pieces of the peer benchmarks: settings, synthetic data, timing, output.

The models and settings are those of `cnnlab bench` (cmd/cnnlab/bench.go): the lecture CNN
(Normalize → Conv2d(3,32,5,s4,p2) → ReLU → Conv2d(32,64,3,p1) → ReLU → AvgPool2d(4) → Flatten →
Linear(256,C)) for C=3 ("cnn3") and C=100 ("cnn100"), and the MLP (Normalize → Flatten →
Linear(3072,512) → ReLU → Linear(512,3), "mlp"); float32, NCHW; SGD momentum 0.9, lr 0.05,
cross-entropy; every step draws a shuffled batch of uint8 images, converts it to float32 in
[0,1] (data feeding included) and reads the loss back to the host, as cnnlab's trainer does.
Throughput is the median over `reps` windows of images/s after warm-up.
"""
import argparse
import json
import os
import statistics
import time

import numpy as np

MEAN = (0.5074, 0.4867, 0.4411)  # datasets.LectureMean / LectureStd exactly (datasets/set.go)
STD = (0.2011, 0.1987, 0.2025)
MODELS = {"cnn3": ("cnn", 3), "cnn100": ("cnn", 100), "mlp": ("mlp", 3), "convnet7-bn": ("convnet7", 100)}
LR, MOMENTUM = 0.05, 0.9


def parse_args(framework):
    p = argparse.ArgumentParser(description=f"{framework} peer of cnnlab bench")
    p.add_argument("--models", default="cnn3,cnn100,mlp")
    p.add_argument("--batches", default="32,128,512")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rep-images", type=int, default=4096)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--out", default="")
    p.add_argument("--inference", type=int, default=1)
    p.add_argument("--modes", default="eager,compile", help="PyTorch only: eager and/or compile")
    p.add_argument("--device", default="cpu", help="PyTorch only: cpu or cuda (the GPU check, scripts/gpu-check.sh)")
    a = p.parse_args()
    a.models = [m for m in a.models.split(",") if m]
    a.batches = [int(b) for b in a.batches.split(",") if b]
    return a


class Data:
    """A synthetic uint8 set; batches are converted to float32 [0,1] NCHW on every step."""

    def __init__(self, n, classes, seed=1):
        rng = np.random.default_rng(seed)
        self.pixels = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        self.labels = (np.arange(n) % classes).astype(np.int32)
        self.rng = rng
        self.order = np.arange(0)
        self.pos = 0

    def batch(self, b):
        if self.pos + b > len(self.order):
            self.order = self.rng.permutation(len(self.labels))
            self.pos = 0
        idx = self.order[self.pos:self.pos + b]
        self.pos += b
        return self.pixels[idx].astype(np.float32) / 255, self.labels[idx]


def steps_per_rep(batch, rep_images):
    return max(1, -(-rep_images // batch))


def time_train(step, data, batch, reps, rep_images, warmup=2):
    """step(x, y) runs one training step and returns the loss as a Python float."""
    steps = steps_per_rep(batch, rep_images)
    t0 = time.perf_counter()
    x, y = data.batch(batch)
    step(x, y)
    first = time.perf_counter() - t0
    for _ in range(warmup):
        step(*data.batch(batch))
    rates = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(steps):
            step(*data.batch(batch))
        rates.append(steps * batch / (time.perf_counter() - t))
    return {"images_per_sec": statistics.median(rates), "reps_images_per_sec": rates,
            "steps_per_rep": steps, "first_step_seconds": first}


def time_infer(fn, data, batch, reps, rep_images, latency_calls=200):
    calls = steps_per_rep(batch, rep_images)
    rates = []
    for i in range(2 + reps):
        t = time.perf_counter()
        for _ in range(calls):
            fn(data.batch(batch)[0])
        if i >= 2:
            rates.append(calls * batch / (time.perf_counter() - t))
    thr = {"kind": "infer", "batch": batch, "images_per_sec": statistics.median(rates),
           "reps_images_per_sec": rates, "steps_per_rep": calls}
    ms = []
    for i in range(latency_calls + 3):
        x = data.batch(1)[0]
        t = time.perf_counter()
        fn(x)
        if i >= 3:
            ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    lat = {"kind": "latency", "batch": 1, "latency_ms": statistics.median(ms),
           "latency_p90_ms": ms[min(len(ms) - 1, int(0.9 * len(ms)))],
           "images_per_sec": 1000 / statistics.median(ms)}
    return [thr, lat]


def peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def save(results, out, meta):
    """Writes {"meta": meta, "results": results} as JSON to out (if set)."""
    if out:
        with open(out, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)
            f.write("\n")


def emit(results):
    """Prints result lines."""
    for r in results:
        if r.get("error"):
            print(f"  {r['framework']:<22} {r['model']:<7} {r['kind']:<7} batch {r['batch']:4}: error: {r['error'][:200]}")
        else:
            extra = f"  first step {r['first_step_seconds']:.2f}s  RSS {r.get('peak_rss_mb', 0):.0f} MB" if r["kind"] == "train" else ""
            if r["kind"] == "latency":
                extra = f"  latency {r['latency_ms']:.3f} ms"
            print(f"  {r['framework']:<22} {r['model']:<7} {r['kind']:<7} batch {r['batch']:4}: {r['images_per_sec']:9.0f} img/s{extra}")
