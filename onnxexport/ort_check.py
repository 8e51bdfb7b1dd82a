"""Checks an ONNX file with the official checker and runs it in ONNX Runtime (CPU).

Usage: python ort_check.py MODEL.onnx IMAGES.f32 N C H W LOGITS.f32

IMAGES.f32 holds N*C*H*W little-endian float32 values (NCHW). The logits are written to LOGITS.f32
as little-endian float32, and a JSON report is printed on stdout. Used by cnnlab's onnxexport
package (CheckWithORT); exits non-zero with the reason on stderr on failure.
"""
import json
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort


def main():
    model_path, images_path = sys.argv[1], sys.argv[2]
    n, c, h, w = (int(v) for v in sys.argv[3:7])
    logits_path = sys.argv[7]

    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    out_dims = [d.dim_param or d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim]

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    images = np.fromfile(images_path, dtype="<f4").reshape(n, c, h, w)

    start = time.perf_counter()
    logits = sess.run(None, {inp.name: images})[0]
    seconds = time.perf_counter() - start
    # The batch axis is dynamic: one image alone gives the same row as in the batch.
    single = sess.run(None, {inp.name: images[:1]})[0]
    logits.astype("<f4").tofile(logits_path)

    print(json.dumps({
        "checker": "ok",
        "onnx_version": onnx.__version__,
        "onnxruntime_version": ort.__version__,
        "input": {"name": inp.name, "shape": [str(d) for d in inp.shape]},
        "output_shape": [str(d) for d in logits.shape],
        "inferred_output_dims": [str(d) for d in out_dims],
        "batch1_max_abs_diff": float(np.max(np.abs(single[0] - logits[0]))),
        "seconds": seconds,
    }))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # Report any failure in one line for the Go caller.
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
