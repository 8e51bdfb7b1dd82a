"""PyTorch peer of `cnnlab train`: the same net and recipe on the same real CIFAR-100, for
time-to-accuracy side by side (issue 13).

It reads what to train from a cnnlab run's report.json (`--report DIR/report.json`: the model's
zoo name, the class ids and training.TrainConfig), or from the flags, and trains it in PyTorch
eager with cnnlab's definitions:

* data: train.bin/test.bin of $CNNLAB_DATA_DIR/cifar-100-binary, pixels /255 (NCHW); the classes'
  images relabelled 0..C-1 in the order of the class ids; a fresh random order every epoch, the
  last partial batch dropped;
* augmentation (--augment): a translation by (dy, dx) uniform in [-t, t] with zeros outside the
  image (PyTorch's RandomCrop(32, padding=t)) and a horizontal flip with probability 1/2, or with
  --alt-flip (alternate_flip) airbench's alternating flip: a coin per image drawn once, the image
  mirrored in epoch 1 if heads and in every later epoch exactly when it was not in the one before;
* a whitened stem (report.json's "whiten", cnnlab train --whiten): the first convolution's weight
  set as cnn.WhiteningFilters from the 2×2 patches of the first 5,000 normalised training images
  (eigenvectors of their covariance / √(λ+5e-4), and their negatives) and frozen;
* SGD with momentum μ (Nesterov in PyTorch's form when set), L2 weight decay in the gradient,
  decoupled weight decay θ ← θ·(1 − ε_k·λ) before each step, label smoothing as
  CrossEntropyLoss(label_smoothing=s);
* the learning rate ε_k of training.sgdConfig.Rate: warm-up from s·ε₀ to ε₀ over W = round(f·T)
  steps, then linear to (ε_final/ε₀)·ε₀ at step T; or the slides' linear decay; or constant;
* lookahead (training.WithLookahead): every k steps φ ← d·φ + (1−d)·θ, θ ← φ with
  d = decay^k·(s/T)³ over the model's float state (weights and BatchNorm statistics), d = 1 at T;
* evaluation in eval mode (BatchNorm running statistics), with flip TTA (mean of the logits of the
  image and its mirror) when set; top-1 and top-5.

The weights are PyTorch's default initialisation (the bounds cnnlab uses, other random numbers),
so the two runs agree in distribution, not bit for bit. Prints one JSON line per epoch and writes
--out (JSON) with the history and the training wall seconds (evaluations excluded, as cnnlab's
report.json train_seconds).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

import torch_bench

# datasets.LectureMean / LectureStd exactly (datasets/set.go).
MEAN = (0.5074, 0.4867, 0.4411)
STD = (0.2011, 0.1987, 0.2025)

# cnn.WhiteningEps and cnn.WhiteningImages (cnn/whitening.go).
WHITENING_EPS = 5e-4
WHITENING_IMAGES = 5000


def load_cifar(data_dir, name, class_ids):
    """Returns (pixels uint8 [N,3,32,32], labels int64 [N]) of the given classes, relabelled."""
    path = os.path.join(data_dir, "cifar-100-binary", name)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        sys.exit(f"torch_train.py: cannot read {path}: {e}")
    if raw.size % 3074 != 0:
        sys.exit(f"torch_train.py: {path}: {raw.size} bytes is not a whole number of 3074-byte records")
    rec = raw.reshape(-1, 3074)
    fine = rec[:, 1].astype(np.int64)
    index = {c: i for i, c in enumerate(class_ids)}
    keep = np.isin(fine, class_ids)
    labels = np.array([index[c] for c in fine[keep]], dtype=np.int64)
    return rec[keep, 2:].reshape(-1, 3, 32, 32), labels


def rate(cfg, k, total):
    """ε_k of training.sgdConfig.Rate for update k (from 0) of total."""
    lr, final = cfg["learning_rate"], cfg.get("final_learning_rate", 0.0)
    frac = cfg.get("warmup_fraction", 0.0)
    if frac > 0:
        w = min(int(math.floor(frac * total + 0.5)), total - 1)
        start, end = cfg.get("warmup_start", 0.0), final / lr
        if k < w:
            return lr * (start + (1 - start) * k / w)
        return lr * (1 + (end - 1) * min((k - w) / (total - w), 1))
    if cfg.get("optimizer") == "lineardecay" or (cfg.get("optimizer", "momentum") == "momentum" and final > 0):
        if k >= total:
            return final
        a = k / total
        return (1 - a) * lr + a * final
    return lr


def augment(x, t, gen, flips=None):
    """Translates each image of x (float [B,3,32,32]) by (dy, dx) in [-t, t] (zeros outside) and
    flips it horizontally with probability 1/2, or where flips (bool [B]) says if given."""
    b = x.shape[0]
    padded = nn.functional.pad(x, (t, t, t, t))
    dy = torch.randint(-t, t + 1, (b,), generator=gen)
    dx = torch.randint(-t, t + 1, (b,), generator=gen)
    flip = torch.randint(0, 2, (b,), generator=gen).bool()
    if flips is not None:
        flip = torch.from_numpy(flips)
    out = torch.empty_like(x)
    for i in range(b):
        y0, x0 = t + int(dy[i]), t + int(dx[i])
        img = padded[i, :, y0:y0 + 32, x0:x0 + 32]
        out[i] = img.flip(-1) if flip[i] else img
    return out


class Lookahead:
    """training.WithLookahead over the model's float state_dict entries."""

    def __init__(self, model, every, decay, total):
        self.every, self.decay, self.total = every, decay, total
        self.slow = None
        self.model = model

    def after_step(self, s):
        if s == self.total:
            d = 1.0
        elif s % self.every == 0 and s < self.total:
            d = self.decay ** self.every * (s / self.total) ** 3
        else:
            return
        state = [v for v in self.model.state_dict().values() if v.dtype.is_floating_point]
        with torch.no_grad():
            if self.slow is None:
                self.slow = [v.detach().clone() for v in state]
            for slow, fast in zip(self.slow, state):
                slow.mul_(d).add_(fast, alpha=1 - d)
                fast.copy_(slow)


def whitening_filters(x, k, eps):
    """cnn.WhiteningFilters: x float64 [N,C,H,W] → the [2·C·k², C, k, k] patch-whitening weight."""
    n, c, h, w = x.shape
    patches = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))  # [N,C,H',W',k,k]
    patches = patches.transpose(0, 2, 3, 1, 4, 5).reshape(-1, c * k * k)
    cov = patches.T @ patches / patches.shape[0]
    values, vectors = np.linalg.eigh(cov)
    values, vectors = values[::-1], vectors[:, ::-1]
    filters = (vectors / np.sqrt(np.maximum(values, 0) + eps)).T.reshape(-1, c, k, k)
    return np.concatenate([filters, -filters])


def evaluate(model, x, y, tta, batch=1000):
    model.eval()
    correct = top5 = 0
    loss = 0.0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            xb = torch.from_numpy(x[i:i + batch]).float().div_(255)
            yb = torch.from_numpy(y[i:i + batch])
            logits = model(xb)
            if tta:
                logits = (logits + model(xb.flip(-1))) / 2
            loss += nn.functional.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(1) == yb).sum().item()
            k = min(5, logits.shape[1])
            top5 += (logits.topk(k, 1).indices == yb[:, None]).any(1).sum().item()
    model.train()
    return correct / len(y), top5 / len(y), loss / len(y)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--report", help="a cnnlab report.json: model, classes and config to train")
    p.add_argument("--epochs", type=int, help="override the report's epochs (the schedule is rescaled)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--data", default=os.environ.get("CNNLAB_DATA_DIR", ""), help="directory holding cifar-100-binary/")
    p.add_argument("--out", default="")
    a = p.parse_args()
    if not a.report:
        sys.exit("torch_train.py: --report DIR/report.json is required (train with cnnlab first, or use --epochs 1 on its preset)")
    if not a.data:
        sys.exit("torch_train.py: no data directory: set CNNLAB_DATA_DIR or --data")
    with open(a.report) as f:
        rep = json.load(f)
    cfg, class_ids, model_name = rep["config"], rep["classes"], rep["model"]
    if a.epochs:
        cfg["epochs"] = a.epochs
    if a.seed is not None:
        cfg["seed"] = a.seed
    if cfg.get("optimizer", "momentum") not in ("momentum", "sgd", "lineardecay"):
        sys.exit(f"torch_train.py: optimizer {cfg.get('optimizer')!r}: only momentum, sgd and lineardecay are mirrored")
    torch.set_num_threads(a.threads)
    torch.manual_seed(cfg.get("seed", 1))
    gen = torch.Generator().manual_seed(cfg.get("seed", 1))
    rng = np.random.default_rng(cfg.get("seed", 1))

    xtr, ytr = load_cifar(a.data, "train.bin", class_ids)
    xte, yte = load_cifar(a.data, "test.bin", class_ids)
    model = torch_bench.make_model_by_zoo_name(model_name, len(class_ids))
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    assert isinstance(model[0], torch_bench.Normalize)
    model[0].mean.copy_(mean)
    model[0].std.copy_(std)
    if rep.get("whiten"):
        stem = model[1]
        assert isinstance(stem, nn.Conv2d) and stem.out_channels == 2 * stem.in_channels * stem.kernel_size[0] ** 2
        first = (xtr[:WHITENING_IMAGES].astype(np.float64) / 255 - np.array(MEAN).reshape(1, 3, 1, 1)) / np.array(STD).reshape(1, 3, 1, 1)
        with torch.no_grad():
            stem.weight.copy_(torch.from_numpy(whitening_filters(first, stem.kernel_size[0], WHITENING_EPS)))
        stem.weight.requires_grad_(False)  # A buffer in cnnlab: no gradient, no weight decay.
    mu = cfg.get("momentum", 0.0) if cfg.get("optimizer", "momentum") == "momentum" else 0.0
    opt = torch.optim.SGD([q for q in model.parameters() if q.requires_grad], lr=cfg["learning_rate"], momentum=mu,
                          nesterov=bool(cfg.get("nesterov")) and mu > 0, weight_decay=cfg.get("weight_decay", 0.0))
    lossf = nn.CrossEntropyLoss(label_smoothing=cfg.get("label_smoothing", 0.0))
    batch, epochs = cfg["batch_size"], cfg["epochs"]
    steps = len(ytr) // batch
    total = steps * epochs
    la = Lookahead(model, cfg["lookahead_every"], cfg["lookahead_decay"], total) if cfg.get("lookahead_every") else None
    dwd = cfg.get("decoupled_weight_decay", 0.0)
    t_aug = cfg.get("augment_translate", 0) or 4
    first_flip = rng.integers(0, 2, len(ytr)).astype(bool) if cfg.get("alternate_flip") else None

    history, train_seconds, k = [], 0.0, 0
    info = {"framework": "PyTorch eager", "version": torch.__version__, "threads": torch.get_num_threads(),
            "model": model_name, "classes": len(class_ids), "config": cfg}
    print(json.dumps(info), flush=True)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(ytr))
        t0 = time.perf_counter()
        loss_sum = 0.0
        for j in range(steps):
            idx = order[j * batch:(j + 1) * batch]
            x = torch.from_numpy(xtr[idx]).float().div_(255)
            if cfg.get("augment"):
                flips = None if first_flip is None else first_flip[idx] ^ bool((epoch - 1) % 2)
                x = augment(x, t_aug, gen, flips)
            y = torch.from_numpy(ytr[idx])
            lr = rate(cfg, k, total)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(x), y)
            loss.backward()
            if dwd > 0:
                with torch.no_grad():
                    for prm in model.parameters():
                        if prm.requires_grad:
                            prm.mul_(1 - lr * dwd)
            opt.step()
            k += 1
            if la:
                la.after_step(k)
            loss_sum += loss.item()
        dt = time.perf_counter() - t0
        train_seconds += dt
        acc, top5, test_loss = evaluate(model, xte, yte, bool(cfg.get("tta")))
        row = {"epoch": epoch, "train_loss": loss_sum / steps, "test_accuracy": acc, "test_top5": top5,
               "test_loss": test_loss, "train_seconds": train_seconds, "images_per_second": steps * batch / dt}
        history.append(row)
        print(json.dumps(row), flush=True)
    result = {**info, "history": history, "train_seconds": train_seconds,
              "test_accuracy": history[-1]["test_accuracy"], "test_top5": history[-1]["test_top5"]}
    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=1)
        os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
