"""Grouped convolutions in LiteRT: one grouped CONV_2D, or a SPLIT into per-group CONV_2Ds.

TFLite has two ways to run an ONNX Conv with 1 < group < channels: a single CONV_2D whose filter
has in/group input channels (op version 6), or SPLIT on the channel axis, one CONV_2D per group and
a CONCATENATION. This script measures both, in one run on this machine, so that the converter emits
the faster one. For each model (ResNeXt and RegNet, whose blocks are grouped 3x3 convolutions) and
for single grouped layers of their shapes:
  - grouped: liteport's conversion of the model as exported;
  - split: the same ONNX model with every grouped Conv rewritten as Split -> Conv per group ->
    Concat before conversion (what a converter that splits would emit);
both checked against onnxruntime, then timed in the LiteRT interpreter (XNNPACK delegate, 1
thread, batch 1): --runs rounds after --warmup, the variants taking turns within each round so
that a shared machine's load weighs on both alike; the median per variant.

    .venv/bin/python bench/grouped_conv.py [--runs 30] [--models resnext50_32x4d,regnet_x_400mf]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MODELS = ["resnext50_32x4d", "regnet_x_400mf", "regnet_y_400mf"]
# (channels, groups, spatial size, stride): resnext50's stages, regnet_x_400mf's group width 16
LAYERS = [(128, 32, 56, 1), (256, 32, 28, 1), (512, 32, 14, 1), (1024, 32, 7, 1), (64, 4, 56, 2),
          (160, 10, 28, 1), (400, 25, 7, 1)]


def split_grouped(model):
    """The ONNX model with every grouped (not depthwise) Conv as Split -> Convs -> Concat."""
    import onnx
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    nodes = []
    for n in g.node:
        group = next((a.i for a in n.attribute if a.name == "group"), 1)
        w = inits.get(n.input[1]) if n.op_type == "Conv" and len(n.input) > 1 else None
        if group <= 1 or w is None or w.dims[1] == 1:
            nodes.append(n)
            continue
        W = numpy_helper.to_array(w)
        B = numpy_helper.to_array(inits[n.input[2]]) if len(n.input) > 2 and n.input[2] else None
        per = W.shape[0] // group
        parts = [f"{n.name}/in{i}" for i in range(group)]
        split = f"{n.name}/split_sizes"
        g.initializer.append(numpy_helper.from_array(np.full(group, W.shape[1] * 1, np.int64), split))
        nodes.append(helper.make_node("Split", [n.input[0], split], parts, axis=1, name=f"{n.name}/split"))
        outs = []
        attrs = [a for a in n.attribute if a.name != "group"]
        for i in range(group):
            wn, bn, on = f"{n.name}/w{i}", f"{n.name}/b{i}", f"{n.name}/out{i}"
            g.initializer.append(numpy_helper.from_array(W[i * per:(i + 1) * per], wn))
            ins = [parts[i], wn]
            if B is not None:
                g.initializer.append(numpy_helper.from_array(B[i * per:(i + 1) * per], bn))
                ins.append(bn)
            c = helper.make_node("Conv", ins, [on], name=f"{n.name}/conv{i}")
            c.attribute.extend(attrs)
            nodes.append(c)
            outs.append(on)
        nodes.append(helper.make_node("Concat", outs, list(n.output), axis=1, name=f"{n.name}/concat"))
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model)
    return model


def layer_model(c, groups, stride):
    import torch

    torch.manual_seed(0)
    return torch.nn.Conv2d(c, c, 3, stride=stride, padding=1, groups=groups).eval()


def interpreter(path, report, x):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=path, num_threads=1)
    it.allocate_tensors()
    perm = report.inputs[0].get("perm") if report.inputs[0].layout_changed else None
    it.set_tensor(it.get_input_details()[0]["index"], np.ascontiguousarray(x.transpose(perm) if perm else x))
    return it


def race(its, warmup, runs):
    """Median ms per interpreter, taking turns: one invoke of each per round."""
    for _ in range(warmup):
        for it in its:
            it.invoke()
    ts = [[] for _ in its]
    for _ in range(runs):
        for k, it in enumerate(its):
            t = time.perf_counter()
            it.invoke()
            ts[k].append(time.perf_counter() - t)
    return [statistics.median(t) * 1000.0 for t in ts]


def measure(name, model, shape, tmp, warmup, runs):
    import onnx
    import torch

    import liteport

    x = torch.randn(*shape)
    base = os.path.join(tmp, name.replace(" ", "_"))
    rep = liteport.export(model, (x,), base + ".tflite", dynamic_batch=False)
    split_onnx = base + "_split.onnx"
    onnx.save(split_grouped(onnx.load(rep.onnx_path)), split_onnx)
    srep = liteport.convert(split_onnx, base + "_split.tflite")
    sv = liteport.verify(split_onnx, base + "_split.tflite", report=srep)
    assert rep.verification.ok and sv.ok, (rep.verification, sv)
    xa = x.numpy()
    tg, ts = race([interpreter(base + ".tflite", rep, xa), interpreter(base + "_split.tflite", srep, xa)],
                  warmup, runs)
    ops = dict(rep.tflite_ops)
    return (name, ops.get("CONV_2D", 0), dict(srep.tflite_ops).get("CONV_2D", 0), tg, ts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--no-layers", action="store_true")
    a = ap.parse_args(argv)

    import torch

    import zoo

    torch.set_num_threads(1)
    tmp = tempfile.mkdtemp(prefix="liteport-groups-")
    rows = []
    if not a.no_layers:
        for c, gr, size, stride in LAYERS:
            name = f"conv3x3 {c}ch g{gr} {size}px s{stride}"
            rows.append(measure(name, layer_model(c, gr, stride), (1, c, size, size), tmp, a.warmup, a.runs))
            print(rows[-1], flush=True)
    for name in a.models.split(",") if a.models else []:
        model, size = zoo.build(name)
        rows.append(measure(name, model, (1, 3, size, size), tmp, a.warmup, a.runs))
        print(rows[-1], flush=True)
    print("\n| model / layer | CONV_2D grouped | CONV_2D split | grouped ms | split ms | split / grouped |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, ng, ns, tg, ts in rows:
        print(f"| {name} | {ng} | {ns} | {tg:.3f} | {ts:.3f} | {ts / tg:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
