"""The torchvision zoo: every classification model through the whole path, checked against
onnxruntime.

For every name that `torchvision.models.list_models(module=torchvision.models)` returns (or
--models), in a child process of its own (a crash or an out-of-memory kill is a row, not the end of
the run): the model with seeded random weights in eval mode, exported by `liteport.export` (dynamic
batch, the default exporter), converted, then LiteRT and onnxruntime run on the same seeded random
input at batch 1 and 2 (`liteport.verify`). A table goes to docs/zoo.md: parameters, ONNX and
.tflite size, conversion time (wall time of `liteport.convert` writing the file), TFLite op count, TRANSPOSE count, the largest
absolute and relative difference over both batches, and the status against the issue's bound,
max|LiteRT - onnxruntime| <= 1e-4 * max(1, max|onnxruntime|).

Weights: torchvision's initialisation from a fixed seed; BatchNorm statistics are those of one
seeded random batch (the module in training mode once, then eval), so activations stay near unit
scale as in a trained network (torchvision's init with running statistics 0/1 makes some models'
logits 1e12 or 1e-9, which turns a relative bound into a vacuous one); the last BatchNorm of each
ResNet block gets small scales, as trained networks have; weight matrices torchvision
initialises to zero (ViT's head) get N(0, 0.02). Input: the image size of the model's torchvision
weights (inception_v3 299, efficientnet_b7 600, ...), except models built for a fixed size (ViT,
MaxViT), which take the size they were built for. Models over 2 GB keep their ONNX weights in an
external data file and their .tflite weights after the flatbuffer (as liteport.export does).

    .venv/bin/python bench/zoo.py [--models resnet18,swin_t,...] [--workdir build/zoo]
        [--markdown docs/zoo.md] [--json FILE] [--timeout 3600] [--keep] [--reuse]
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
BATCHES = (1, 2)
# the size the model was built for, whatever its weights' transforms say (vit_h_14's default
# weights are 518 px, the model built without weights is 224)
FIXED_SIZE = ("vit_", "maxvit_")


def model_names():
    import torchvision

    return list(torchvision.models.list_models(module=torchvision.models))


def image_size(name, model=None):
    import torchvision

    if name.startswith(FIXED_SIZE):
        return int(getattr(model, "image_size", 224)) if model is not None else 224
    try:
        t = torchvision.models.get_model_weights(name).DEFAULT.transforms()
        return int(t.crop_size[0])
    except Exception:
        return 224


def seeded(model, size, seed=0):
    """Seeded weights at a realistic scale, in place; returns the model in eval mode."""
    import torch
    import torchvision

    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
        bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for m in bns:
            if m.affine:
                m.weight.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
        # the last BatchNorm of a ResNet block scales the branch added to the residual stream:
        # small in trained networks (torchvision's zero_init_residual starts it at 0); at 0.75-1.25
        # the stream of resnet152 grows until float32 itself is off by 6e-4 (PyTorch against
        # PyTorch in float64), above the bound
        for m in model.modules():
            if isinstance(m, (torchvision.models.resnet.BasicBlock, torchvision.models.resnet.Bottleneck)):
                last = m.bn3 if hasattr(m, "bn3") else m.bn2
                last.weight.copy_(torch.rand(last.num_features, generator=g) * 0.2 + 0.1)
        if bns:
            # running statistics of one random batch: momentum None is a plain average
            saved = [(m, m.momentum) for m in bns]
            for m, _ in saved:
                m.reset_running_stats()
                m.momentum = None
            model.train()
            model(torch.randn(4, 3, size, size, generator=g))
            for m, mom in saved:
                m.momentum = mom
    return model.eval()


def build(name, seed=0, **kwargs):
    """(torchvision model `name` with seeded weights in eval mode, its input image size)."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    size = image_size(name, model)
    return seeded(model, size, seed), size


def check(name, workdir, batch_sizes=BATCHES, keep=False, **model_kwargs):
    """One model through liteport.export; returns the row of the table (a dict)."""
    import torch

    import liteport

    row = {"model": name}
    t0 = time.perf_counter()
    model, size = build(name, **model_kwargs)
    row["image_size"] = size
    row["params"] = sum(p.numel() for p in model.parameters())
    os.makedirs(workdir, exist_ok=True)
    out = os.path.join(workdir, name + ".tflite")
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(2))
    try:
        report = liteport.export(model, (x,), out, verify=False)
    except Exception as e:  # export or conversion refused: a row with the reason
        row.update(status="failed", error=f"{type(e).__name__}: {e}".splitlines()[0][:300])
        row["seconds"] = time.perf_counter() - t0
        return row
    onnx_files = [report.onnx_path] + [os.path.join(workdir, f) for f in os.listdir(workdir)
                                       if f.startswith(name + ".onnx") and f != name + ".onnx"]
    row["onnx_bytes"] = sum(os.path.getsize(f) for f in onnx_files if os.path.exists(f))
    row["tflite_bytes"] = os.path.getsize(out)
    # wall time of a conversion that writes the file (report.time_ms stops before the weights
    # are streamed out); the second conversion overwrites the first's identical output
    t = time.perf_counter()
    report = liteport.convert(report.onnx_path, out)
    row["convert_ms"] = (time.perf_counter() - t) * 1000.0
    row["ops"] = report.n_tflite_ops
    row["transposes"] = report.transposes
    row["op_counts"] = dict(report.tflite_ops)
    del model
    result = liteport.verify(report.onnx_path, out, report=report, batch_sizes=tuple(batch_sizes))
    row["batches"] = sorted({c.batch for c in result.checks})
    row["max_abs"] = max(c.max_abs for c in result.checks)
    row["max_rel"] = max(c.max_rel for c in result.checks)
    row["max_ref"] = max(c.max_ref for c in result.checks)
    row["worst_ratio"] = max(c.max_abs / c.tolerance for c in result.checks)
    row["status"] = "ok" if result.ok and row["batches"] == sorted(batch_sizes) else "mismatch"
    row["seconds"] = time.perf_counter() - t0
    if not keep:
        for f in onnx_files + [out]:
            if os.path.exists(f):
                os.remove(f)
    return row


# ---------------------------------------------------------------------------------------------
# the runner: one child process per model, a progress bar, the table


class Progress:
    """One line on stderr, redrawn every second on a terminal (a line per model otherwise)."""

    def __init__(self, total):
        self.total, self.done, self.name, self.t0 = total, 0, "", time.time()
        self.tty = sys.stderr.isatty()
        self._stop = threading.Event()
        if self.tty:
            threading.Thread(target=self._tick, daemon=True).start()

    def _line(self):
        width = 30
        filled = width * self.done // max(self.total, 1)
        bar = "#" * filled + "." * (width - filled)
        el = int(time.time() - self.t0)
        return f"[{bar}] {self.done}/{self.total} {self.name:<20} {el // 60}m{el % 60:02d}s"

    def _tick(self):
        while not self._stop.wait(1.0):
            sys.stderr.write("\r" + self._line())
            sys.stderr.flush()

    def start(self, name):
        self.name = name
        if self.tty:
            sys.stderr.write("\r" + self._line())
        else:
            sys.stderr.write(self._line() + "\n")
        sys.stderr.flush()

    def finish(self, row):
        self.done += 1
        msg = f"{row['model']}: {row['status']}"
        if row["status"] in ("ok", "mismatch"):
            msg += f" (max abs {row['max_abs']:.2g}, TRANSPOSE {row['transposes']}, {row['seconds']:.0f} s)"
        else:
            msg += f" ({row.get('error', '')})"
        sys.stderr.write(("\r" + " " * 80 + "\r" if self.tty else "") + msg + "\n")
        sys.stderr.flush()

    def close(self):
        self._stop.set()
        if self.tty:
            sys.stderr.write("\r" + self._line() + "\n")


def run_child(name, workdir, timeout, keep, reuse=False):
    """check() in a fresh interpreter; a crash, a kill or a timeout is a row of its own. With
    `reuse`, an "ok" row an earlier run left in `workdir` for this model is taken as it is."""
    result = os.path.join(workdir, name + ".row.json")
    if os.path.exists(result):
        if reuse:
            with open(result) as f:
                row = json.load(f)
            if row.get("status") == "ok":
                return row
        os.remove(result)
    cmd = [sys.executable, os.path.abspath(__file__), "--one", name, "--workdir", workdir]
    if keep:
        cmd.append("--keep")
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"model": name, "status": "failed", "error": f"timed out after {timeout} s",
                "seconds": time.perf_counter() - t0}
    if p.returncode == 0 and os.path.exists(result):
        with open(result) as f:
            return json.load(f)
    tail = (p.stderr.strip().splitlines() or [""])[-1][:300]
    how = f"killed by signal {-p.returncode}" if p.returncode < 0 else f"exit {p.returncode}"
    return {"model": name, "status": "crash", "error": f"{how}: {tail}", "seconds": time.perf_counter() - t0}


def _mb(n):
    return f"{n / 1e6:.1f}"


ATTENTION_NOTES = """## The transposes attention models keep

BATCH_MATMUL multiplies over the last two dims and batches over the others, so attention needs
the heads before the tokens; PyTorch's tensors hold them the other way round. Counted from the
converted models (`TRANSPOSE` ops, their permutations and neighbours):

- **vit_b_16, vit_b_32, vit_l_16, vit_l_32, vit_h_14**: 4 per encoder block. q and v go from
  [B, L, heads, d] to [B, heads, L, d], k to [B, heads, d, L] (k transposed for the scores), and the
  result from [B, heads, L, d] back to [B, L, heads, d] for the output projection. PyTorch's
  `MultiheadAttention` runs sequence-first with the heads split by views and moved by
  `transpose(0, 1)`; liteport composes each such chain of views and transposes (through the
  output projection's FULLY_CONNECTED) into one transpose, 9 per block before.
- **swin_t, swin_s, swin_b, swin_v2_t, swin_v2_s, swin_v2_b**: 2 per block for attention (one
  transpose brings q, k and v to [3, windows, heads, N, d] together; one merges the heads back), and
  2 per block whose feature map holds more than one window (window partition and window reverse,
  6-D); the last stage's 7x7 map is a single window and needs none. The shift is a SLICE and a
  CONCATENATION, the relative position bias a constant (folded, also Swin V2's computed one).
- **maxvit_t**: 151. 88 are attention (22 attention layers: q, v, k transposed, result), 45 are
  the block and grid partitions and their reverses; the block view and the grid view factor the
  height differently (8 windows of 7 against 7 cells of 8), so they cannot compose into one
  transpose. The remaining 18 sit where the MBConv convolutions (channels-last) meet the partition
  views, which read the map channels-first; these could go if the partitions were re-derived for a
  channels-last map (not done: a known gap).
"""


def markdown(rows, wall, env):
    ok = sum(r["status"] == "ok" for r in rows)
    conv = [r for r in rows if r.get("transposes") is not None and not r["op_counts"].get("BATCH_MATMUL")]
    lines = [
        "# The torchvision zoo through liteport",
        "",
        "Generated by `bench/zoo.py` (do not edit by hand). Every classification model of "
        "`torchvision.models.list_models(module=torchvision.models)` with seeded random weights "
        "(BatchNorm statistics from one random batch), exported by `liteport.export` with a dynamic batch, "
        "converted, and run in the LiteRT interpreter (ai-edge-litert, XNNPACK) and onnxruntime on the same "
        "random input at batch 1 and 2. Bound: max|LiteRT - onnxruntime| <= 1e-4 * max(1, max|onnxruntime|) "
        "on every output at both batches; \"worst / bound\" is the largest ratio of the difference to that bound. "
        "Conversion time: wall time of `liteport.convert` writing the .tflite; sizes in MB (10^6 bytes).",
        "",
        f"{env}. {ok} of {len(rows)} models ok; run time {wall / 60:.0f} min.",
        "",
        "| model | params (M) | input | ONNX MB | .tflite MB | convert ms | ops | TRANSPOSE | max abs diff "
        "| max rel diff | max abs ORT | worst / bound | status |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if r["status"] in ("ok", "mismatch"):
            lines.append(
                f"| {r['model']} | {r['params'] / 1e6:.1f} | {r['image_size']} | {_mb(r['onnx_bytes'])} | "
                f"{_mb(r['tflite_bytes'])} | {r['convert_ms']:.0f} | {r['ops']} | {r['transposes']} | "
                f"{r['max_abs']:.2e} | {r['max_rel']:.2e} | {r['max_ref']:.3g} | {r['worst_ratio']:.3f} | "
                f"{r['status']} |")
        else:
            lines.append(f"| {r['model']} | {r.get('params', 0) / 1e6:.1f} | {r.get('image_size', '')} | "
                         f"| | | | | | | | | {r['status']}: {r.get('error', '')} |")
    lines += ["", f"Pure-convolution models (no BATCH_MATMUL): {len(conv)}, of which "
              f"{sum(r['transposes'] == 0 for r in conv)} have no TRANSPOSE."]
    lines += ["", ATTENTION_NOTES]
    return "\n".join(lines) + "\n"


def _environment():
    import platform

    import ai_edge_litert
    import onnxruntime
    import torch
    import torchvision

    lite = getattr(ai_edge_litert, "__version__", "?")
    return (f"Measured on {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores; "
            f"torch {torch.__version__}, torchvision {torchvision.__version__}, onnxruntime "
            f"{onnxruntime.__version__}, ai-edge-litert {lite}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", help="comma-separated names (default: all)")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "zoo"))
    ap.add_argument("--markdown", default=os.path.join(ROOT, "docs", "zoo.md"))
    ap.add_argument("--json", help="write the rows as JSON here")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per model")
    ap.add_argument("--keep", action="store_true", help="keep the .onnx and .tflite files")
    ap.add_argument("--reuse", action="store_true",
                    help="take the ok rows an earlier run left in --workdir (run the zoo in parts, redo the rest)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        row = check(a.one, a.workdir, keep=a.keep)
        with open(os.path.join(a.workdir, a.one + ".row.json"), "w") as f:
            json.dump(row, f)
        return 0

    names = a.models.split(",") if a.models else model_names()
    os.makedirs(a.workdir, exist_ok=True)
    progress = Progress(len(names))
    rows = []
    t0 = time.time()
    for name in names:
        progress.start(name)
        row = run_child(name, a.workdir, a.timeout, a.keep, a.reuse)
        rows.append(row)
        progress.finish(row)
    progress.close()
    wall = time.time() - t0
    text = markdown(rows, wall, _environment())
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    print(text)
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
