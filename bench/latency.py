"""Inference latency of liteport's .tflite in LiteRT against the same ONNX model in onnxruntime.

For each model, in one run on this machine: LiteRT interpreter (XNNPACK delegate, 1 thread) on
liteport's output, LiteRT on the output with the layout pass and fusions off (transposes around
every convolution, as naive converters emit), and onnxruntime (CPU, 1 thread), each the median of
--runs timed runs after --warmup runs, batch 1. Prints a table and writes it to docs/latency.md.

    .venv/bin/python bench/latency.py [--runs 50] [--models resnet18,mobilenet_v2,...]
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

MODELS = ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x0_5", "conv_flatten_linear"]


def build(name):
    import torch
    import torchvision

    if name == "conv_flatten_linear":
        class ConvFlattenLinear(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = torch.nn.Conv2d(3, 32, 3, stride=2)
                self.conv2 = torch.nn.Conv2d(32, 64, 3, stride=2)
                self.fc = torch.nn.Linear(64 * 15 * 15, 10)

            def forward(self, x):
                x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
                return self.fc(torch.flatten(x, 1))

        return ConvFlattenLinear(), (1, 3, 64, 64)
    return getattr(torchvision.models, name)(weights=None), (1, 3, 224, 224)


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000.0


def litert_latency(tflite_path, report, x, warmup, runs):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=tflite_path, num_threads=1)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    perm = report.inputs[0].get("perm") if report.inputs[0].layout_changed else None
    a = np.ascontiguousarray(x.transpose(perm) if perm else x)
    it.set_tensor(inp["index"], a)

    def run():
        it.invoke()

    return timed(run, warmup, runs)


def ort_latency(onnx_path, x, warmup, runs):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(onnx_path, sess_options=so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return timed(lambda: sess.run(None, {name: x}), warmup, runs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--out", default=os.path.join(HERE, "..", "docs", "latency.md"))
    args = ap.parse_args(argv)
    if args.runs < 20:
        ap.error("--runs must be at least 20")

    import torch

    import liteport

    torch.manual_seed(0)
    torch.set_num_threads(1)
    rows = []
    tmp = tempfile.mkdtemp(prefix="liteport-bench-")
    for name in args.models.split(","):
        model, shape = build(name)
        from helpers import randomize

        model = randomize(model, seed=0)
        x = torch.randn(*shape)
        path = os.path.join(tmp, f"{name}.tflite")
        report = liteport.export(model, (x,), path, dynamic_batch=False)
        naive_path = os.path.join(tmp, f"{name}_naive.tflite")
        naive = liteport.convert(report.onnx_path, naive_path, no_layout_pass=True, no_fusions=True)
        xa = x.numpy()
        t_ours = litert_latency(path, report, xa, args.warmup, args.runs)
        t_naive = litert_latency(naive_path, naive, xa, args.warmup, args.runs)
        t_ort = ort_latency(report.onnx_path, xa, args.warmup, args.runs)
        rows.append((name, report.transposes, report.n_tflite_ops, t_ours, naive.transposes, t_naive, t_ort,
                     report.verification.max_abs))
        print(f"{name}: liteport {t_ours:.2f} ms ({report.transposes} TRANSPOSE), naive {t_naive:.2f} ms "
              f"({naive.transposes} TRANSPOSE), onnxruntime {t_ort:.2f} ms", flush=True)

    head = ("| model | TRANSPOSE | TFLite ops | LiteRT ms | naive TRANSPOSE | naive LiteRT ms | onnxruntime ms "
            "| LiteRT / ORT | naive / liteport | max abs diff |")
    lines = [head, "|" + "---|" * 10]
    for name, tr, nops, t, ntr, tn, to, d in rows:
        lines.append(f"| {name} | {tr} | {nops} | {t:.2f} | {ntr} | {tn:.2f} | {to:.2f} | {t / to:.2f} | "
                     f"{tn / t:.2f} | {d:.2g} |")
    table = "\n".join(lines)
    import platform

    note = (f"Measured by `bench/latency.py` on {platform.machine()} ({os.cpu_count()} cores), batch 1, "
            f"median of {args.runs} runs after {args.warmup} warm-up runs, 1 thread each: LiteRT interpreter "
            f"(ai-edge-litert, XNNPACK delegate) and onnxruntime (CPU provider). \"naive\" is liteport's output "
            "with `--no-layout-pass --no-fusions`: a transpose pair around every channels-last kernel, like a "
            "converter without a layout pass. Seeded random weights.\n")
    slower = [r[0] for r in rows if r[5] < r[3]]
    if slower:
        table += ("\n\nThe naive form is faster for " + ", ".join(slower) + ". For ShuffleNet this is the price "
                  "of zero TRANSPOSE ops: each channel shuffle (Reshape -> Transpose -> Reshape on channels) "
                  "becomes a channel CONCATENATION and a GATHER of the interleaved order, which LiteRT runs "
                  "slower than the transpose it replaces (and faster than the interleaving CONCATENATION of "
                  "earlier versions). Known trade-off, measured op by op in docs/shuffle.md "
                  "(`bench/shuffle.py`).")
    print()
    print(table)
    with open(args.out, "w") as f:
        f.write("# Inference latency\n\n" + note + "\n" + table + "\n")
    print(f"\nwritten to {os.path.relpath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
