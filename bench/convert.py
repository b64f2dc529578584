"""Conversion speed and memory: `liteport convert` against a plain copy of the same ONNX files,
and against onnx2tf.

For each model, in one run on this machine, with the page cache warm (every file read once
before):
  - copy: `cp --reflink=never` of the model's ONNX files (model.onnx and its external data) to a
    new folder: the floor, the time it takes to read and write that many bytes. --reflink=never
    matters: on a file system that can share extents (btrfs, xfs, overlay setups) `cp` otherwise
    clones the file without copying anything.
  - liteport: `build/liteport convert MODEL.onnx -o OUT.tflite` (the C command-line tool).
  - onnx2tf: `onnx2tf -i MODEL.onnx -o DIR` in its own virtual environment (--onnx2tf-venv,
    created with tensorflow-cpu from the local wheels by --setup-onnx2tf), once per model with a
    time limit, on a copy of the files (it rewrites its input with a simplified model); when it
    cannot be installed, fails, or passes --onnx2tf-max-rss GiB resident, the reason is printed
    instead.
Each figure is the minimum over --repeat runs (onnx2tf: one run) of the wall time and the peak
resident memory (/usr/bin/time's maximum RSS, which counts the mapped model pages touched).
Outputs never exist before a run (the rename over an existing file makes ext4 flush). Then the
model over 2 GB is verified: LiteRT against onnxruntime on a random input.

Models are torchvision's with seeded random weights (torch.manual_seed; weight matrices that
torchvision initialises to zero, like ViT's head, get N(0, 0.02)), exported once with
torch.onnx.export (dynamo), external data for the ones over 2 GB, cached in --workdir.

    .venv/bin/python bench/convert.py [--models resnet50,mobilenet_v2,vit_b_16,vit_h_14]
        [--repeat 3] [--workdir build/bench] [--setup-onnx2tf] [--onnx2tf-timeout 1800]
        [--onnx2tf-max-rss 16] [--json FILE] [--markdown docs/benchmarks.md]
"""
import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
LITEPORT = os.path.join(ROOT, "build", "liteport")
MODELS = ["resnet50", "mobilenet_v2", "vit_b_16", "vit_h_14"]
TWO_GB = 2 << 30
ONNX2TF_PACKAGES = ["tensorflow-cpu==2.21.0", "tf-keras==2.21.0", "onnx2tf", "onnx==1.23.2", "onnxruntime",
                    "onnx-graphsurgeon", "sng4onnx", "psutil", "ai-edge-litert"]


# ---------------------------------------------------------------------------------------------
# models


def export(name, folder, seed=0):
    """torchvision `name` with seeded weights -> folder/name.onnx (+ external data when large)."""
    path = os.path.join(folder, name + ".onnx")
    if os.path.exists(path):
        return path
    import torch
    import torchvision

    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None).eval()
    with torch.no_grad():
        # ViT's classifier head starts at zero: its outputs would be 0 and the check vacuous
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(0.0, 0.02)
    n_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    x = torch.randn(1, 3, 224, 224)
    tmp = os.path.join(folder, "export-" + name)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    t = time.perf_counter()
    with torch.no_grad():
        torch.onnx.export(model, (x,), os.path.join(tmp, name + ".onnx"), input_names=["input"],
                          output_names=["output"], opset_version=18, dynamo=True,
                          external_data=n_bytes > TWO_GB - (64 << 20))
    print(f"  exported {name} in {time.perf_counter() - t:.0f} s", flush=True)
    for f in os.listdir(tmp):
        os.replace(os.path.join(tmp, f), os.path.join(folder, f))
    os.rmdir(tmp)
    return path


def model_files(path):
    """The .onnx file and the external data files it names."""
    import onnx

    m = onnx.load(path, load_external_data=False)
    files = {path}
    folder = os.path.dirname(path)
    for t in list(m.graph.initializer):
        for e in t.external_data:
            if e.key == "location":
                files.add(os.path.join(folder, e.value))
    return sorted(files)


# ---------------------------------------------------------------------------------------------
# measuring


def tree_rss(pid):
    """Resident bytes of pid and its descendants (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    return total


def measured(cmd, timeout=None, env=None, cwd=None, max_rss=None):
    """(wall seconds, peak RSS bytes, exit code or "timeout", stderr tail) of one command. The
    peak RSS comes from /usr/bin/time, a small process that forks the command: the rusage of a
    child forked from this Python process would count this process's pages from before exec."""
    t = time.perf_counter()
    with tempfile.TemporaryFile() as errf, tempfile.NamedTemporaryFile("r") as rssf:
        cmd = ["/usr/bin/time", "-f", "%M", "-o", rssf.name, *cmd]
        # its own process group: a stop reaches every process the command started, not only /usr/bin/time
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf, env=env, cwd=cwd, start_new_session=True)
        deadline = None if timeout is None else t + timeout
        while True:
            pid, status, _ = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if deadline and time.perf_counter() > deadline:
                os.killpg(p.pid, signal.SIGKILL)
                os.wait4(p.pid, 0)
                return time.perf_counter() - t, 0, "timeout", ""
            if max_rss and tree_rss(p.pid) > max_rss:
                # a shared machine: stop before the kernel's OOM killer picks a process
                rss = tree_rss(p.pid)
                os.killpg(p.pid, signal.SIGKILL)
                os.wait4(p.pid, 0)
                return time.perf_counter() - t, rss, "memory", ""
            time.sleep(0.002 if max_rss is None else 0.2)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        errf.seek(0)
        err = errf.read().decode(errors="replace")[-3000:]
        lines = [ln for ln in rssf.read().split() if ln.isdigit()]
        peak = int(lines[-1]) * 1024 if lines else 0
    return wall, peak, p.returncode, err


def warm(files):
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(16 << 20):
                pass


def best_of(n, make_cmd, cleanup):
    walls, rss = [], []
    for _ in range(n):
        cleanup()
        wall, peak, rc, err = measured(make_cmd())
        if rc != 0:
            raise RuntimeError(f"{' '.join(make_cmd())} failed ({rc}): {err}")
        walls.append(wall)
        rss.append(peak)
    return min(walls), min(rss)


def setup_onnx2tf(venv):
    """Create the onnx2tf environment; returns None or the reason it could not be made."""
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        r = subprocess.run(["python3.11", "-m", "venv", venv], capture_output=True, text=True)
        if r.returncode:
            return "cannot create a Python 3.11 virtual environment: " + r.stderr.strip()[-300:]
    r = subprocess.run([py, "-m", "pip", "install", "-q", *ONNX2TF_PACKAGES], capture_output=True, text=True)
    if r.returncode:
        return "pip could not install onnx2tf for this Python: " + r.stderr.strip()[-500:]
    return None


def onnx2tf_status(venv):
    exe = os.path.join(venv, "bin", "onnx2tf")
    if not os.path.exists(exe):
        return None, f"onnx2tf is not installed in {venv} (run with --setup-onnx2tf)"
    r = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                        "import onnx2tf, tensorflow as tf; print(onnx2tf.__version__, tf.__version__)"],
                       capture_output=True, text=True)
    if r.returncode:
        return None, "onnx2tf does not import: " + r.stderr.strip().splitlines()[-1]
    return exe, "onnx2tf " + r.stdout.strip().replace(" ", ", tensorflow ")


def sample_images(folder):
    """onnx2tf downloads 20 sample images (128x128x3 float32) to compare its TensorFlow model with
    onnxruntime, unless a file of that name is in its working folder. This machine has no network
    beyond package registries: random images of that shape stand in (they affect that comparison
    only, not the conversion)."""
    import numpy as np

    path = os.path.join(folder, "calibration_image_sample_data_20x128x128x3_float32.npy")
    if not os.path.exists(path):
        np.save(path, np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32))


def first_error(text):
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error" in ln or "error" in ln or "Killed" in ln:
            return ln[:200]
    return lines[-1][:200] if lines else "no message"


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--onnx2tf-venv", default=os.path.join(ROOT, "build", "onnx2tf-venv"))
    ap.add_argument("--setup-onnx2tf", action="store_true")
    ap.add_argument("--no-onnx2tf", action="store_true")
    ap.add_argument("--onnx2tf-timeout", type=float, default=1800)
    ap.add_argument("--onnx2tf-max-rss", type=float, default=16, metavar="GIB",
                    help="stop onnx2tf when its processes hold more than this (default 16 GiB)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--markdown", default=os.path.join(ROOT, "docs", "benchmarks.md"),
                    help="write the table here (default docs/benchmarks.md; '' for none)")
    args = ap.parse_args()

    if not os.path.exists(LITEPORT):
        sys.exit(f"{LITEPORT} is missing: run `make` first")
    os.makedirs(args.workdir, exist_ok=True)
    models = [m for m in args.models.split(",") if m]

    o2t, o2t_note = None, "skipped (--no-onnx2tf)"
    if not args.no_onnx2tf:
        if args.setup_onnx2tf:
            why = setup_onnx2tf(args.onnx2tf_venv)
            if why:
                print("onnx2tf:", why)
        o2t, o2t_note = onnx2tf_status(args.onnx2tf_venv)
    print("onnx2tf:", o2t_note, flush=True)

    rows = []
    for name in models:
        print(f"== {name}", flush=True)
        path = export(name, args.workdir)
        files = model_files(path)
        size = sum(os.path.getsize(f) for f in files)
        out_dir = os.path.join(args.workdir, "out-" + name)
        copy_dir = os.path.join(args.workdir, "copy-" + name)
        tfl = os.path.join(out_dir, name + ".tflite")

        def clean():
            for d in (out_dir, copy_dir):
                shutil.rmtree(d, ignore_errors=True)
                os.makedirs(d)

        warm(files)
        row = {"model": name, "onnx_bytes": size, "files": len(files)}
        row["copy_s"], row["copy_rss"] = best_of(args.repeat, lambda: ["cp", "--reflink=never", *files, copy_dir],
                                                 clean)
        row["liteport_s"], row["liteport_rss"] = best_of(
            args.repeat, lambda: [LITEPORT, "convert", path, "-o", tfl, "--quiet"], clean)
        row["tflite_bytes"] = os.path.getsize(tfl)
        rep = subprocess.run([LITEPORT, "convert", path, "-o", tfl, "--json"], capture_output=True, text=True)
        row["weights_outside"] = json.loads(rep.stdout).get("weights_outside")
        print(f"  onnx {size / 1e6:.1f} MB in {len(files)} file(s): cp {row['copy_s']:.3f} s; liteport "
              f"{row['liteport_s']:.3f} s, {row['liteport_rss'] / 1e6:.0f} MB peak RSS, tflite "
              f"{row['tflite_bytes'] / 1e6:.1f} MB{' (weights outside)' if row['weights_outside'] else ''}",
              flush=True)

        if size > TWO_GB:
            # the model over 2 GB: it loads in LiteRT and matches onnxruntime
            sys.path.insert(0, os.path.join(ROOT, "python"))
            import liteport

            t = time.perf_counter()
            report = liteport.convert(path, tfl)
            v = liteport.verify(path, tfl, report=report, batch_sizes=(1,))
            row["verified"] = bool(v.ok)
            row["verify_max_abs"] = max(c.max_abs for c in v.checks)
            row["verify_max_ref"] = max(c.max_ref for c in v.checks)
            row["verify_text"] = str(v)
            print(f"  LiteRT vs onnxruntime ({time.perf_counter() - t:.0f} s): {'ok' if v.ok else 'MISMATCH'}\n{v}",
                  flush=True)

        if o2t:
            clean()
            # onnx2tf writes its simplified model over the input file: it gets a copy
            for f in files:
                shutil.copyfile(f, os.path.join(copy_dir, os.path.basename(f)))
            o2t_in = os.path.join(copy_dir, os.path.basename(path))
            warm([os.path.join(copy_dir, os.path.basename(f)) for f in files])
            sample_images(args.workdir)
            env = dict(os.environ, CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="2")
            wall, peak, rc, err = measured([o2t, "-i", o2t_in, "-o", out_dir, "-n"], timeout=args.onnx2tf_timeout,
                                           env=env, cwd=args.workdir, max_rss=args.onnx2tf_max_rss * (1 << 30))
            made = glob.glob(os.path.join(out_dir, "*float32.tflite"))
            if rc == 0 and made:
                row["onnx2tf_s"], row["onnx2tf_rss"] = wall, peak
                print(f"  onnx2tf {wall:.1f} s, {peak / 1e6:.0f} MB peak RSS", flush=True)
            else:
                why = (f"no result within {args.onnx2tf_timeout:.0f} s" if rc == "timeout"
                       else f"stopped after {wall:.0f} s at {peak / (1 << 30):.1f} GiB resident (the limit, "
                            f"--onnx2tf-max-rss {args.onnx2tf_max_rss:g}), without a result" if rc == "memory"
                       else f"failed after {wall:.0f} s (exit {rc}): {first_error(err)}")
                row["onnx2tf_error"] = why
                print("  onnx2tf", why, flush=True)
        else:
            row["onnx2tf_error"] = o2t_note
        clean()
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.rmtree(copy_dir, ignore_errors=True)
        rows.append(row)

    print()
    print(table(rows, o2t_note))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "onnx2tf": o2t_note}, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(rows, o2t_note, args))
        print("table written to", os.path.relpath(args.markdown, ROOT))


def machine():
    """One line about the machine the figures come from."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    fs = subprocess.run(["stat", "-f", "-c", "%T", ROOT], capture_output=True, text=True).stdout.strip() or "?"
    return f"{cpu}, {os.cpu_count()} cores, {mem / (1 << 30):.0f} GiB memory, {fs} file system"


def markdown(rows, o2t_note, args):
    cmd = " ".join(["bench/convert.py"] + [a for a in sys.argv[1:]])
    out = ["# Conversion time and memory", "",
           f"Measured by `{cmd}` on {time.strftime('%Y-%m-%d', time.gmtime())}: {machine()}, "
           "a machine shared with other jobs. torchvision models with seeded random weights, exported "
           "with `torch.onnx.export` (dynamo, opset 18); the model over 2 GB keeps its weights in an "
           "external data file.", "",
           f"- **cp**: `cp --reflink=never` of the ONNX files (model and external data) to a new folder, "
           f"page cache warm: the floor. **liteport**: `build/liteport convert MODEL.onnx -o OUT.tflite`. "
           f"Both: the best of {args.repeat} runs (wall time; peak resident memory from `/usr/bin/time`, "
           "which counts the pages of the mapped model that were touched).",
           "- **onnx2tf**: one run of `onnx2tf -i MODEL.onnx -o DIR -n` in its own virtual environment "
           f"({o2t_note}), on a copy of the files, stopped after {args.onnx2tf_timeout:.0f} s or above "
           f"{args.onnx2tf_max_rss:g} GiB resident (this machine has no swap and is shared: the limit stops it "
           "before the kernel's OOM killer picks some process).",
           "- **RSS target**: the issue's bound, 1.5 x the ONNX size + 64 MB.", "",
           table(rows, o2t_note), ""]
    for r in rows:
        if "verified" in r:
            out += [f"{r['model']}: the `.tflite` ({r['tflite_bytes'] / 1e6:.0f} MB, weights after the flatbuffer) "
                    f"loads in the LiteRT interpreter and {'matches' if r['verified'] else 'does NOT match'} "
                    "onnxruntime on a random input (`liteport.verify`):", "", "```", r["verify_text"].strip(), "```", ""]
    res = [r for r in rows if r["model"] == "resnet50"]
    if res:
        r = res[0]
        ratio, target = r["liteport_s"] / r["copy_s"], 1.5 * r["onnx_bytes"] + (64 << 20)
        out += [f"resnet50: conversion takes {ratio:.2f}x the copy time (bound 3x: "
                f"{'met' if ratio <= 3 else 'MISSED'}) and {r['liteport_rss'] / 1e6:.0f} MB peak resident memory "
                f"(bound {target / 1e6:.0f} MB: {'met' if r['liteport_rss'] <= target else 'MISSED'}).", ""]
    return "\n".join(out)


def table(rows, o2t_note):
    mb = 1e6
    out = ["| model | ONNX MB | cp s | liteport s | time / cp | liteport peak RSS MB | RSS / ONNX size | "
           "RSS target (1.5x + 64 MB) | onnx2tf s | onnx2tf / cp | onnx2tf peak RSS MB |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        target = 1.5 * r["onnx_bytes"] + (64 << 20)
        o2t = (f"{r['onnx2tf_s']:.1f} | {r['onnx2tf_s'] / r['copy_s']:.0f}x | {r['onnx2tf_rss'] / mb:.0f}"
               if "onnx2tf_s" in r else "- | - | -")
        out.append(
            f"| {r['model']}{' (weights outside)' if r.get('weights_outside') else ''} | {r['onnx_bytes'] / mb:.1f} | "
            f"{r['copy_s']:.3f} | {r['liteport_s']:.3f} | {r['liteport_s'] / r['copy_s']:.2f}x | "
            f"{r['liteport_rss'] / mb:.0f} | {r['liteport_rss'] / r['onnx_bytes']:.2f} | "
            f"{'met' if r['liteport_rss'] <= target else 'MISSED'} ({target / mb:.0f}) | {o2t} |")
    notes = [f"- onnx2tf on {r['model']}: {r['onnx2tf_error']}" for r in rows if r.get("onnx2tf_error")]
    return "\n".join(out + ([""] + notes if notes else []) + ["", f"onnx2tf: {o2t_note}"])


if __name__ == "__main__":
    main()
