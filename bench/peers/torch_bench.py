"""PyTorch peer of `cnnlab bench`: eager and torch.compile, same models and settings (common.py)."""
import sys
import traceback

import torch
from torch import nn

import common


class Normalize(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(common.MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(common.STD).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class Scale(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def convnet7_bn(classes):
    """cnn.ConvNet7BN: 2×2 conv stem, three conv-pool-BN-GELU groups 64/256/256, max pool 3,
    linear head ÷ 9 (cnn/zoo.go)."""
    layers = [Normalize(), nn.Conv2d(3, 24, 2), nn.GELU()]
    width_in = 24
    for width in (64, 256, 256):
        layers += [nn.Conv2d(width_in, width, 3, padding=1, bias=False), nn.MaxPool2d(2),
                   nn.BatchNorm2d(width, momentum=0.1, eps=1e-5), nn.GELU(),
                   nn.Conv2d(width, width, 3, padding=1, bias=False),
                   nn.BatchNorm2d(width, momentum=0.1, eps=1e-5), nn.GELU()]
        width_in = width
    layers += [nn.MaxPool2d(3), nn.Flatten(), nn.Linear(width_in, classes), Scale(1 / 9)]
    return nn.Sequential(*layers)


def lecture_cnn(classes):
    return nn.Sequential(Normalize(), nn.Conv2d(3, 32, 5, stride=4, padding=2), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, stride=1, padding=1), nn.ReLU(), nn.AvgPool2d(4),
                         nn.Flatten(), nn.Linear(256, classes))


def make_model_by_zoo_name(zoo_name, classes):
    """The PyTorch twin of the cnnlab zoo model named zoo_name (cnn.Model.Name)."""
    makers = {"LectureCNN": lecture_cnn, "ConvNet7BN": convnet7_bn}
    if zoo_name not in makers:
        raise SystemExit(f"no PyTorch twin of cnnlab model {zoo_name!r} (have {', '.join(makers)})")
    return makers[zoo_name](classes)


def make_model(name):
    kind, classes = common.MODELS[name]
    if kind == "convnet7":
        return convnet7_bn(classes)
    if kind == "cnn":  # The lecture's code.
        return nn.Sequential(Normalize(), nn.Conv2d(3, 32, 5, stride=4, padding=2), nn.ReLU(),
                             nn.Conv2d(32, 64, 3, stride=1, padding=1), nn.ReLU(), nn.AvgPool2d(4),
                             nn.Flatten(), nn.Linear(256, classes))
    return nn.Sequential(Normalize(), nn.Flatten(), nn.Linear(3072, 512), nn.ReLU(), nn.Linear(512, classes))


def main():
    a = common.parse_args("PyTorch")
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    results, printed = [], 0
    modes = [m for m in a.modes.split(",") if m]
    dev = torch.device(a.device)
    for name in a.models:
        classes = common.MODELS[name][1]
        for mode in modes:
            for batch in a.batches:
                base = {"framework": f"PyTorch {mode}", "backend": f"torch {torch.__version__} {a.device}",
                        "model": name, "kind": "train", "batch": batch, "threads": torch.get_num_threads()}
                try:
                    model = make_model(name).to(dev)
                    opt = torch.optim.SGD(model.parameters(), lr=common.LR, momentum=common.MOMENTUM)
                    lossf = nn.CrossEntropyLoss()
                    fwd = torch.compile(model) if mode == "compile" else model

                    def step(x, y):
                        x, y = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev).long()
                        opt.zero_grad(set_to_none=True)
                        logits = fwd(x)
                        loss = lossf(logits, y)
                        loss.backward()
                        opt.step()
                        return loss.item()

                    common.reset_peak_rss()
                    data = common.Data(max(4 * batch, 2048), classes)
                    r = common.time_train(step, data, batch, a.reps, a.rep_images)
                    r["peak_rss_mb"] = common.peak_rss_mb()
                    results.append({**base, **r})
                    if a.inference and batch == a.batches[-1]:
                        model.eval()
                        with torch.no_grad():
                            def infer(x):
                                return fwd(torch.from_numpy(x).to(dev)).cpu().numpy()
                            for rr in common.time_infer(infer, data, batch, a.reps, a.rep_images):
                                results.append({**base, **rr})
                except Exception as e:  # torch.compile may not work on every CPU set-up.
                    traceback.print_exc(file=sys.stderr)
                    results.append({**base, "error": f"{type(e).__name__}: {e}"})
                    if mode == "compile":
                        break
                common.emit(results[printed:])
                printed = len(results)
    common.save(results, a.out, {"framework": "PyTorch", "version": torch.__version__,
                                 "threads": torch.get_num_threads(), "parallel_info": torch.__config__.parallel_info()})


if __name__ == "__main__":
    main()
