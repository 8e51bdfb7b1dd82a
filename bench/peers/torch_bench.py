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


def make_model(name):
    kind, classes = common.MODELS[name]
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
