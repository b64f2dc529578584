"""The channel shuffle in LiteRT: how liteport writes it, and what it costs against a naive conversion.

ShuffleNet v2 ends every unit with a channel shuffle: Reshape [N,2,C/2,H,W] -> Transpose -> Reshape
[N,C,H,W]. In a channels-last model that interleaves the two halves along the channel axis.
liteport leaves no TRANSPOSE in the model: the layout pass writes the unit's Concat and the shuffle
as one interleaving CONCATENATION (each half reshaped to [..,C/2,1], concatenated on the last
axis, reshaped back), and the fusions turn that into a channel CONCATENATION followed by a GATHER
of the interleaved order. A naive conversion (`--no-layout-pass --no-fusions`) keeps the shuffle's
TRANSPOSE and wraps every convolution in a transpose pair. This script measures, in one run:

  1. units: a stem convolution and 8 ShuffleNet v2 stride-1 units (chunk, 1x1 conv, ReLU,
     depthwise 3x3, 1x1 conv, ReLU, concat, shuffle): liteport; liteport with `--no-fusions`
     (the interleaving CONCATENATION; the ReLUs then stay separate ops too); naive;
  2. shuffles: 8 chained shuffles alone on a channels-last tensor [1,H,W,C] (no convolution, so
     the layout pass has nothing to move) in four TFLite forms, each from an ONNX model written
     for it: TRANSPOSE (Reshape -> Transpose -> Reshape); interleaving CONCATENATION (Split ->
     Unsqueeze -> Concat -> Reshape, converted with `--no-fusions`); the same model with fusions
     (SPLIT_V, CONCATENATION and GATHER: liteport's form); GATHER alone (an ONNX Gather).

Every .tflite is checked against onnxruntime, then timed in the LiteRT interpreter (XNNPACK
delegate, 1 thread, batch 1): --runs rounds after --warmup, the variants of a case taking turns
within each round; the median per variant, and its ratio to the first variant of the case. The
table is printed and written to --out (docs/shuffle.md).

    .venv/bin/python bench/shuffle.py [--runs 30] [--channels 48,96,232] [--size 28] [--out docs/shuffle.md]
"""
import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grouped_conv import interpreter, race  # noqa: E402  (the same LiteRT timing)

UNITS = 8


def unit_model(c):
    """A 1x1 stem convolution and UNITS ShuffleNet v2 stride-1 units of c channels."""
    import torch

    class Unit(torch.nn.Module):
        def __init__(self):
            super().__init__()
            h = c // 2
            self.branch = torch.nn.Sequential(
                torch.nn.Conv2d(h, h, 1), torch.nn.ReLU(), torch.nn.Conv2d(h, h, 3, padding=1, groups=h),
                torch.nn.Conv2d(h, h, 1), torch.nn.ReLU())

        def forward(self, x):
            a, b = x.chunk(2, dim=1)
            out = torch.cat([a, self.branch(b)], 1)
            n, ch, hh, w = out.shape
            return out.view(n, 2, ch // 2, hh, w).transpose(1, 2).reshape(n, ch, hh, w)

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(c, c, 1), *[Unit() for _ in range(UNITS)]).eval()


def shuffle_model(form, c, s):
    """UNITS chained shuffles of a channels-last [1,s,s,c] tensor, written in one form."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    h = c // 2
    inits = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in [
        ("cl5", [1, s, s, 2, h]), ("cl4", [1, s, s, c]), ("halves", [h, h]), ("ax4", [4]),
        ("perm_idx", [(i % 2) * h + i // 2 for i in range(c)])]]
    nodes = []
    x = "x"
    for k in range(UNITS):
        y = "y" if k == UNITS - 1 else f"y{k}"
        p = f"u{k}_"
        if form == "TRANSPOSE":
            nodes += [helper.make_node("Reshape", [x, "cl5"], [p + "r"]),
                      helper.make_node("Transpose", [p + "r"], [p + "t"], perm=[0, 1, 2, 4, 3]),
                      helper.make_node("Reshape", [p + "t", "cl4"], [y])]
        elif form in ("CONCATENATION", "CONCATENATION + GATHER"):
            nodes += [helper.make_node("Split", [x, "halves"], [p + "a", p + "b"], axis=3),
                      helper.make_node("Unsqueeze", [p + "a", "ax4"], [p + "a1"]),
                      helper.make_node("Unsqueeze", [p + "b", "ax4"], [p + "b1"]),
                      helper.make_node("Concat", [p + "a1", p + "b1"], [p + "c"], axis=4),
                      helper.make_node("Reshape", [p + "c", "cl4"], [y])]
        elif form == "GATHER":
            nodes.append(helper.make_node("Gather", [x, "perm_idx"], [y], axis=3))
        else:
            raise ValueError(form)
        x = y
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, s, s, c]) for n in ("x", "y")]
    g = helper.make_graph(nodes, "shuffle", io[:1], io[1:], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


# form: (label, the op each shuffle becomes, conversion options)
FORMS = [("TRANSPOSE", "TRANSPOSE", {}),
         ("CONCATENATION", "interleaving CONCATENATION (fusions off)", {"no_fusions": True}),
         ("CONCATENATION + GATHER", "SPLIT_V + CONCATENATION + GATHER (liteport)", {}),
         ("GATHER", "GATHER", {})]


def convert_checked(onnx_path, tflite_path, **options):
    import liteport

    rep = liteport.convert(onnx_path, tflite_path, **options)
    v = liteport.verify(onnx_path, tflite_path, report=rep)
    assert v.ok, (tflite_path, v)
    return rep


def ops_text(rep, names):
    ops = dict(rep.tflite_ops)
    return ", ".join(f"{n} {ops[n]}" for n in names if ops.get(n))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--channels", default="48,96,232")
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs",
                                                  "shuffle.md"))
    a = ap.parse_args(argv)

    import onnx
    import torch

    import liteport

    torch.set_num_threads(1)
    tmp = tempfile.mkdtemp(prefix="liteport-shuffle-")
    s = a.size
    moves = ["TRANSPOSE", "CONCATENATION", "GATHER", "RESHAPE", "SPLIT_V", "SPLIT", "RELU"]
    rows = []
    for c in [int(v) for v in a.channels.split(",")]:
        base = os.path.join(tmp, f"units_{c}")
        x = torch.randn(1, c, s, s)
        rep = liteport.export(unit_model(c), (x,), base + ".tflite", dynamic_batch=False)
        assert rep.verification.ok, rep.verification
        plain = convert_checked(rep.onnx_path, base + "_plain.tflite", no_fusions=True)
        naive = convert_checked(rep.onnx_path, base + "_naive.tflite", no_layout_pass=True, no_fusions=True)
        xa = x.numpy()
        t = race([interpreter(base + ".tflite", rep, xa), interpreter(base + "_plain.tflite", plain, xa),
                  interpreter(base + "_naive.tflite", naive, xa)], a.warmup, a.runs)
        case = f"{UNITS} units, {c} ch"
        rows.append((case, "liteport", ops_text(rep, moves), t[0], t[0]))
        rows.append((case, "liteport --no-fusions", ops_text(plain, moves), t[1], t[0]))
        rows.append((case, "naive", ops_text(naive, moves), t[2], t[0]))
        print(rows[-3:], flush=True)

        reps, its = [], []
        xl = np.random.default_rng(0).standard_normal((1, s, s, c)).astype(np.float32)
        for k, (form, _, options) in enumerate(FORMS):
            path = os.path.join(tmp, f"shuffle_{c}_{k}")
            onnx.save(shuffle_model(form, c, s), path + ".onnx")
            r = convert_checked(path + ".onnx", path + ".tflite", **options)
            ops = dict(r.tflite_ops)
            # the view-chain rule composes chained shuffles: for some channel counts (16, 256) 8 of
            # them are the identity and nothing is left to time
            assert all(ops.get(op, 0) == UNITS for op in form.split(" + ")), (
                f"{form}: {ops}; {UNITS} shuffles of {c} channels composed into fewer ops, "
                "choose other --channels")
            assert (form == "CONCATENATION") == ("GATHER" not in ops and "CONCATENATION" in ops), (form, ops)
            reps.append(r)
            its.append(interpreter(path + ".tflite", r, xl))
        t = race(its, a.warmup, a.runs)
        case = f"{UNITS} shuffles, [1,{s},{s},{c}]"
        for (_, label, _), r, ms in zip(FORMS, reps, t):
            rows.append((case, label, ops_text(r, moves), ms, t[0]))
        print(rows[-len(FORMS):], flush=True)

    lines = ["| case | variant | data-movement ops | LiteRT ms | / first variant |", "|---|---|---|---:|---:|"]
    lines += [f"| {case} | {variant} | {ops} | {ms:.3f} | {ms / ref:.2f} |" for case, variant, ops, ms, ref in rows]
    table = "\n".join(lines)
    print("\n" + table)
    import platform

    text = f"""# The channel shuffle in LiteRT

Generated by `bench/shuffle.py` (do not edit by hand) on {platform.machine()} ({os.cpu_count()} cores):
LiteRT interpreter (ai-edge-litert, XNNPACK delegate), 1 thread, batch 1, median of {a.runs} rounds
after {a.warmup} warm-up rounds, the variants of a case taking turns. Spatial size {s}x{s}; seeded
weights; every file matches onnxruntime.

- **units**: a 1x1 stem convolution and {UNITS} ShuffleNet v2 stride-1 units (chunk, 1x1 conv, ReLU,
  depthwise 3x3, 1x1 conv, ReLU, concat, channel shuffle). "liteport" is the default conversion:
  no TRANSPOSE, each shuffle a channel CONCATENATION and a GATHER. "--no-fusions" leaves the layout
  pass's interleaving CONCATENATION (halves reshaped to [..,C/2,1] and concatenated on the last
  axis; its ReLUs also stay separate ops). "naive" is `--no-layout-pass --no-fusions`: the
  shuffle's TRANSPOSE plus a transpose pair around every convolution.
- **shuffles**: {UNITS} chained shuffles alone on a channels-last tensor, in four TFLite forms.

{table}

The shuffle moves single elements (channel i of one half next to channel i of the other). Of the
TFLite ops that can do that, LiteRT runs TRANSPOSE fastest; the interleaving CONCATENATION
(inner size 1) is the slowest and GATHER sits between, which is why liteport's fusions replace the
first by the second. Folding the shuffle into the neighbouring convolutions' weights does not work
here: each unit passes half of its channels on unchanged, and those would need a different order
for every later unit. Where the naive form is still faster, the transpose-free model pays for the
issue's requirement of zero TRANSPOSE ops (one TRANSPOSE per shuffle, as a hand-built TFLite
ShuffleNet has, would be faster).
"""
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
        print(f"\nwritten to {os.path.relpath(a.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
