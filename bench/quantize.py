"""Size, accuracy and LiteRT latency of liteport's quantized models against float32, in one run.

For each model: the float32 conversion and the float16, dynamic-range int8 and full int8 ones
(calibrated by liteport's own reference interpreter). Prints and writes to docs/quantization.md:
file size (and the ratio to float32), the quality on held-out data (digits: top-1 accuracy on the
held-out split; super-resolution: PSNR against the true high-resolution images; torchvision models
with seeded random weights: top-1 agreement with float32 and the output's error relative to its
range), and LiteRT latency (XNNPACK delegate, 1 thread, batch 1, median of --runs runs after
--warmup runs) with its ratio to float32 measured in the same run (the variants take turns).

    .venv/bin/python bench/quantize.py [--runs 30] [--models digits,super_resolution,mobilenet_v2,resnet18]
"""
import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)

MODELS = ["digits", "super_resolution", "mobilenet_v2", "resnet18"]
MODES = ["float32", "float16", "dynamic", "int8"]


def build(name):
    """(module, calibration, held-out inputs, quality function(outputs) -> (label, value))"""
    import torch

    if name == "digits":
        from liteport import demo

        model, (x_train, x_test, _, y_test), _ = demo.train()
        return model, x_train[:300], x_test, ("top-1 accuracy", lambda y: float((y.argmax(1) == y_test).mean()))
    if name == "super_resolution":
        from test_quantize import psnr, train_super_resolution

        model, (low_train, low_test, high_test) = train_super_resolution(steps=800, n=512)
        return model, low_train[:64], low_test, ("PSNR dB", lambda y: psnr(high_test, y))
    import torchvision
    from helpers import randomize

    torch.manual_seed(0)
    model = randomize(getattr(torchvision.models, name)(weights=None), seed=0)
    rng = np.random.default_rng(0)
    cal = rng.standard_normal((8, 3, 224, 224)).astype(np.float32)
    held = rng.standard_normal((4, 3, 224, 224)).astype(np.float32)
    return model, cal, held, None


def interpreter(tflite_path, report, x):
    """a function that runs LiteRT (XNNPACK, 1 thread) once on x (ONNX layout, batch 1)"""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=tflite_path, num_threads=1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    perm = report.inputs[0].get("perm") if report.inputs[0].layout_changed else None
    a = np.ascontiguousarray(x.transpose(perm) if perm else x).astype(inp["dtype"])
    it.set_tensor(inp["index"], a)
    return it.invoke


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "docs", "quantization.md"))
    args = ap.parse_args(argv)
    if args.runs < 10:
        ap.error("--runs must be at least 10")

    import torch

    import liteport
    from test_quantize import Flat, assert_int8_only

    torch.set_num_threads(1)
    tmp = tempfile.mkdtemp(prefix="liteport-bench-quant-")
    rows = []
    for name in args.models.split(","):
        model, cal, held, quality = build(name)
        model.eval()
        onnx_path = os.path.join(tmp, f"{name}.onnx")
        torch.onnx.export(model, (torch.from_numpy(held[:1]),), onnx_path, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, dynamo=False)
        outs, conv = {}, {}
        for mode in MODES:
            path = os.path.join(tmp, f"{name}-{mode}.tflite")
            t = time.perf_counter()
            if mode == "float32":
                rep = liteport.convert(onnx_path, path)
            else:
                rep = liteport.convert(onnx_path, path, quantize=mode, calibration=cal if mode == "int8" else None,
                                       eval_data=held)
            conv[mode] = (path, rep, time.perf_counter() - t)
            if mode == "int8":
                assert_int8_only(Flat(path))  # no float op between QUANTIZE and DEQUANTIZE
            outs[mode] = liteport.LiteRTModel(path, rep)({"x": held})["y"]
        # latency: the variants take turns, one invocation each per round, so that the load of a
        # shared machine weighs on all of them alike
        invoke = {m: interpreter(conv[m][0], conv[m][1], held[:1]) for m in MODES}
        times = {m: [] for m in MODES}
        for r in range(args.warmup + args.runs):
            for m in MODES:
                t = time.perf_counter()
                invoke[m]()
                if r >= args.warmup:
                    times[m].append(time.perf_counter() - t)
        ms = {m: statistics.median(times[m]) * 1000.0 for m in MODES}
        q16 = conv["float16"][1].quantization
        for mode in MODES:
            path, rep, t_conv = conv[mode]
            y = outs[mode]
            size, base = os.path.getsize(path), os.path.getsize(conv["float32"][0])
            wbytes = q16.weights_float_bytes if mode == "float32" else rep.quantization.weights_bytes
            wratio = wbytes / q16.weights_float_bytes
            if quality:
                q = quality[1](y)
            else:  # random weights: agreement with the float32 model
                ref = outs["float32"]
                q = (float((y.argmax(1) == ref.argmax(1)).mean()),
                     float(np.abs(y - ref).max() / (ref.max() - ref.min())))
            rows.append((name, mode, size, size / base, q, ms[mode], ms[mode] / ms["float32"], t_conv, wbytes))
            qtext = f"{q:.4g}" if quality else f"top-1 agree {q[0]:.2f}, max err {q[1]:.3f}"
            print(f"{name} {mode}: {size / 1024:.1f} KiB ({size / base:.2f}x, weights {wratio:.2f}x), {qtext}, "
                  f"LiteRT {ms[mode]:.3f} ms ({ms[mode] / ms['float32']:.2f}x), converted in {t_conv:.1f} s",
                  flush=True)

    lines = ["| model | variant | size KiB | size / float32 | weights KiB | weights / float32 | quality | LiteRT ms "
             "| latency / float32 | conversion s |", "|" + "---|" * 10]
    wbase = {}
    for name, mode, size, sr, q, ms, lr, tc, wb in rows:
        if mode == "float32":
            wbase[name] = wb
        if isinstance(q, tuple):
            qt = "(reference)" if mode == "float32" else f"top-1 agreement {q[0]:.2f}, max error {100 * q[1]:.1f}% of range"
        elif name == "digits":
            qt = f"accuracy {100 * q:.2f}%"
        else:
            qt = f"PSNR {q:.2f} dB"
        lines.append(f"| {name} | {mode} | {size / 1024:.1f} | {sr:.2f} | {wb / 1024:.1f} | {wb / wbase[name]:.2f} "
                     f"| {qt} | {ms:.3f} | {lr:.2f} | {tc:.1f} |")
    table = "\n".join(lines)
    note = (f"Measured by `bench/quantize.py` on {platform.machine()} ({os.cpu_count()} cores), all in one run: "
            f"LiteRT interpreter (ai-edge-litert, XNNPACK delegate, 1 thread), batch 1, median of {args.runs} "
            f"runs after {args.warmup} warm-up runs, the four variants of a model taking turns (one invocation "
            "each per round) so that the load of a shared machine weighs on them alike. int8 models are calibrated by liteport's reference "
            "interpreter (min/max ranges) and keep float32 inputs and outputs. Quality is measured in LiteRT on "
            "held-out data: digits on the held-out quarter of scikit-learn's digits; super-resolution (PyTorch's "
            "tutorial network, x3, trained for 800 steps on synthetic 48x48 images) against the true "
            "high-resolution images; mobilenet_v2 and resnet18 have seeded random weights and random inputs, so "
            "only their agreement with float32 is meaningful. Conversion time includes calibration. \"weights\" are "
            "the bytes of the constants the ops read; the rest of a file is names, shapes, quantization "
            "parameters and the flatbuffer's tables, which weigh most in small models.\n")
    print()
    print(table)
    with open(args.out, "w") as f:
        f.write("# Quantized models: size, quality and latency\n\n" + note + "\n" + table + "\n")
    print(f"\nwritten to {os.path.relpath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
