"""ONNX Runtime peer of `cnnlab bench`: inference of the models exported by `cnnlab bench --onnx-dir`
(onnxexport), same input (float32 NCHW in [0,1] converted from uint8 at each call)."""
import argparse
import os
import sys
import traceback

import onnxruntime as ort

import common

p = argparse.ArgumentParser()
p.add_argument("--onnx-dir", required=True)
p.add_argument("--models", default="cnn3,cnn100,mlp")
p.add_argument("--batch", type=int, default=512)
p.add_argument("--reps", type=int, default=5)
p.add_argument("--rep-images", type=int, default=4096)
p.add_argument("--threads", type=int, default=os.cpu_count())
p.add_argument("--out", default="")
a = p.parse_args()

results = []
for name in [m for m in a.models.split(",") if m]:
    base = {"framework": "ONNX Runtime", "backend": f"onnxruntime {ort.__version__} cpu", "model": name,
            "kind": "infer", "batch": a.batch, "threads": a.threads}
    path = os.path.join(a.onnx_dir, name + ".onnx")
    try:
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        data = common.Data(max(4 * a.batch, 2048), common.MODELS[name][1])
        rs = common.time_infer(lambda x: sess.run(None, {inp.name: x})[0], data, a.batch, a.reps, a.rep_images)
        results += [{**base, **r} for r in rs]
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        results.append({**base, "error": f"{type(e).__name__}: {e}"})
common.emit(results)
common.save(results, a.out, {"framework": "ONNX Runtime", "version": ort.__version__, "threads": a.threads})
