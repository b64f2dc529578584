"""What a dynamic .tflite costs against one converted with every size fixed (issue 6).

For each model, in one run on this machine: liteport converts the ONNX model exported with dynamic
dimensions twice, once keeping them dynamic and once with --input-shape fixing the size measured.
LiteRT (XNNPACK delegate, 1 thread) then runs both at that size: the dynamic model after
resize_tensor_input + allocate_tensors. Prints the op count, the run-time shape ops (SHAPE, GATHER,
CONCATENATION, ...) in the dynamic model, the median latency of each (--runs timed runs after
--warmup) with their ratio, and the time of one resize + allocate_tensors of the dynamic model.

    .venv/bin/python bench/dynamic_shapes.py [--runs 30] [--models encoder,unet,resnet18]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

SHAPE_OPS = {"SHAPE", "GATHER", "CONCATENATION", "PACK", "CAST", "RANGE", "BROADCAST_TO", "EXPAND_DIMS"}


def build(name):
    """model, example input, dynamic_axes, the size measured (name -> input shape), dynamic_batch"""
    import torch

    if name == "encoder":
        from test_dynamic import Encoder

        return (Encoder().eval(), torch.randint(1, 50, (2, 9)), {"input": {1: "sequence"}},
                {"input": (2, 64)}, True)
    if name == "unet":
        from test_dynamic import UNet

        return (UNet().eval(), torch.randn(1, 3, 64, 48), {"input": {2: "height", 3: "width"}},
                {"input": (1, 3, 224, 224)}, False)
    import torchvision

    model = getattr(torchvision.models, name)(weights=None).eval()
    return model, torch.randn(1, 3, 224, 224), None, {"input": (3, 3, 224, 224)}, True


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000.0


def interpreter(path, report, onnx_shape, dtype):
    """LiteRT on path, resized to the ONNX shape (in the model's input layout); returns the
    interpreter, its input and the seconds resize + allocate took."""
    from ai_edge_litert.interpreter import Interpreter

    perm = report.input_perm("input")
    shape = [onnx_shape[p] for p in perm] if perm else list(onnx_shape)
    it = Interpreter(model_path=path, num_threads=1)
    t = time.perf_counter()
    it.resize_tensor_input(it.get_input_details()[0]["index"], shape)
    it.allocate_tensors()
    resize = time.perf_counter() - t
    rng = np.random.default_rng(0)
    x = rng.integers(0, 50, shape) if dtype == "int" else rng.standard_normal(shape)
    return it, x.astype(it.get_input_details()[0]["dtype"]), resize


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="encoder,unet,resnet18")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()
    import torch

    import liteport

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            torch.manual_seed(0)
            model, example, axes, fixed, dyn_batch = build(name)
            dyn_path = os.path.join(tmp, f"{name}.tflite")
            rep = liteport.export(model, (example,), dyn_path, dynamic_axes=axes, dynamic_batch=dyn_batch,
                                  verify=False)
            fix_path = os.path.join(tmp, f"{name}_fixed.tflite")
            fix = liteport.convert(rep.onnx_path, fix_path, input_shapes=fixed)
            dtype = "int" if example.dtype == torch.int64 else "float"
            lat, resize = [], 0.0
            for path, r in ((dyn_path, rep), (fix_path, fix)):
                it, x, rs = interpreter(path, r, fixed["input"], dtype)
                if path == dyn_path:
                    resize = rs
                idx = it.get_input_details()[0]["index"]

                def run():
                    it.set_tensor(idx, x)
                    it.invoke()

                lat.append(timed(run, args.warmup, args.runs))
            ops = dict(rep.tflite_ops)
            shape_ops = sum(v for k, v in ops.items() if k in SHAPE_OPS)
            rows.append((name, "x".join(map(str, fixed["input"])), sum(ops.values()), sum(dict(fix.tflite_ops).values()),
                         shape_ops, lat[0], lat[1], lat[0] / lat[1], resize * 1000.0))
    head = ("model", "size", "ops dyn", "ops fixed", "shape ops", "dynamic ms", "fixed ms", "ratio", "resize ms")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]:.2f} | {r[6]:.2f} | {r[7]:.2f} | {r[8]:.2f} |")


if __name__ == "__main__":
    main()
