"""JAX peer of `cnnlab bench`: jit-compiled training step, same models and settings (common.py)."""
import os
import sys
import traceback

import common

a = common.parse_args("JAX")
# XLA's CPU client uses every core of the machine (its Eigen pool); --threads is recorded only.
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

MEAN = jnp.array(common.MEAN, jnp.float32).reshape(1, 3, 1, 1)
STD = jnp.array(common.STD, jnp.float32).reshape(1, 3, 1, 1)


def init(name, seed=1):
    kind, classes = common.MODELS[name]
    rng = np.random.default_rng(seed)

    def u(shape, fan_in):
        b = 1 / np.sqrt(fan_in)
        return jnp.asarray(rng.uniform(-b, b, size=shape).astype(np.float32))
    if kind not in ("cnn", "mlp"):
        raise ValueError(f"jax peer: model {name} ({kind}) is not implemented here; use torch_bench.py")
    if kind == "cnn":
        return {"c1w": u((32, 3, 5, 5), 75), "c1b": u((32,), 75), "c2w": u((64, 32, 3, 3), 288), "c2b": u((64,), 288),
                "lw": u((classes, 256), 256), "lb": u((classes,), 256)}
    return {"l1w": u((512, 3072), 3072), "l1b": u((512,), 3072), "l2w": u((classes, 512), 512), "l2b": u((classes,), 512)}


def conv(x, w, b, stride, pad):
    y = jax.lax.conv_general_dilated(x, w, (stride, stride), [(pad, pad), (pad, pad)],
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + b.reshape(1, -1, 1, 1)


def forward(p, x):
    x = (x - MEAN) / STD
    if "c1w" in p:
        x = jax.nn.relu(conv(x, p["c1w"], p["c1b"], 4, 2))
        x = jax.nn.relu(conv(x, p["c2w"], p["c2b"], 1, 1))
        x = jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, 1, 4, 4), (1, 1, 4, 4), "VALID") / 16
        x = x.reshape(x.shape[0], -1)
        return x @ p["lw"].T + p["lb"]
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(x @ p["l1w"].T + p["l1b"])
    return x @ p["l2w"].T + p["l2b"]


def loss_fn(p, x, y):
    logits = forward(p, x)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


@jax.jit
def train_step(p, v, x, y):
    loss, g = jax.value_and_grad(loss_fn)(p, x, y)
    v = jax.tree.map(lambda vi, gi: common.MOMENTUM * vi + gi, v, g)  # torch.optim.SGD momentum
    p = jax.tree.map(lambda pi, vi: pi - common.LR * vi, p, v)
    return p, v, loss


train_step = jax.jit(train_step.__wrapped__, donate_argnums=(0, 1))
infer = jax.jit(forward)


def main():
    results, printed = [], 0
    for name in a.models:
        classes = common.MODELS[name][1]
        for batch in a.batches:
            base = {"framework": "JAX jit", "backend": f"jax {jax.__version__} {jax.default_backend()}",
                    "model": name, "kind": "train", "batch": batch, "threads": a.threads}
            try:
                state = {"p": init(name)}
                state["v"] = jax.tree.map(jnp.zeros_like, state["p"])

                def step(x, y):
                    state["p"], state["v"], loss = train_step(state["p"], state["v"], x, y)
                    return float(loss)

                common.reset_peak_rss()
                data = common.Data(max(4 * batch, 2048), classes)
                r = common.time_train(step, data, batch, a.reps, a.rep_images)
                r["peak_rss_mb"] = common.peak_rss_mb()
                results.append({**base, **r})
                if a.inference and batch == a.batches[-1]:
                    for rr in common.time_infer(lambda x: np.asarray(infer(state["p"], x)), data, batch, a.reps, a.rep_images):
                        results.append({**base, **rr})
            except Exception as e:
                traceback.print_exc(file=sys.stderr)
                results.append({**base, "error": f"{type(e).__name__}: {e}"})
            common.emit(results[printed:])
            printed = len(results)
    common.save(results, a.out, {"framework": "JAX", "version": jax.__version__, "xla_flags": os.environ.get("XLA_FLAGS", "")})


if __name__ == "__main__":
    main()
