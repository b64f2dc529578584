"""Conversion time of resnet18 (seeded weights, 224x224) by the WebAssembly build in the converter page
(headless Chromium) and by the 64-bit ARM build (under qemu-user, emulated), against the native
CLI, all measured in this run on this machine; and the size of the WebAssembly module.

Each figure is the median of --runs conversions after one warm-up:
  - converter: the converter's own clock (the report's time_ms: parse, passes, flatbuffer in memory),
  - end to end: native CLI and ARM CLI processes (start, map the file, convert, write the .tflite);
    in the page, reading the picked file into the module's memory plus the conversion call (which
    also copies the .tflite out of the flatbuffer builder).
The page is measured on the first conversion after loading it (the module's heap grows to fit the
model) and on a second conversion of the same file in the same page.
Every conversion's output is checked to be byte-identical to the native CLI's.

    .venv/bin/python bench/portable.py [--runs 5]     (after `make portable`)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "python"))

from portable_browser import Browser, Page, StaticServer  # noqa: E402


def cli_runs(cmd, model, out, runs):
    conv, wall, data = [], [], None
    for i in range(runs + 1):
        t = time.perf_counter()
        r = subprocess.run(cmd + ["convert", model, "-o", out, "--json"], capture_output=True, text=True)
        w = time.perf_counter() - t
        if r.returncode:
            sys.exit(f"{cmd[-1]} failed: {r.stderr}")
        with open(out, "rb") as f:
            b = f.read()
        assert data is None or b == data
        data = b
        if i:  # the first run warms the page cache
            conv.append(json.loads(r.stdout)["time_ms"])
            wall.append(w * 1000)
    return statistics.median(conv), statistics.median(wall), data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    import torch
    import torchvision

    from helpers import randomize
    from liteport.export import export_onnx

    tmp = tempfile.mkdtemp(prefix="bench_portable_")
    model = os.path.join(tmp, "resnet18.onnx")
    torch.manual_seed(0)
    export_onnx(randomize(torchvision.models.resnet18(weights=None), seed=1), (torch.randn(1, 3, 224, 224),), model,
                input_names=["image"], output_names=["logits"])

    rows = []
    n_conv, n_wall, ref = cli_runs([os.path.join(ROOT, "build", "liteport")], model, os.path.join(tmp, "n.tflite"),
                                   args.runs)
    rows.append(("native CLI (x86-64)", n_conv, n_wall))
    a_conv, a_wall, a_data = cli_runs(["qemu-aarch64", os.path.join(ROOT, "build-arm64", "liteport")], model,
                                      os.path.join(tmp, "a.tflite"), args.runs)
    assert a_data == ref, "the ARM build's output differs"
    rows.append(("ARM CLI (aarch64 under qemu-user)", a_conv, a_wall))

    server = StaticServer()
    downloads = os.path.join(tmp, "downloads")
    os.makedirs(downloads)
    browser = Browser(downloads, os.path.join(tmp, "chromedriver.log"))
    try:
        fresh, again = ([], []), ([], [])
        for i in range(args.runs + 1):
            page = Page(browser, server.url, downloads)  # a fresh page: new worker, new module
            for rep, sink in ((0, fresh), (1, again)):
                shown = page.convert(model)
                assert shown["state"] == "done", shown
                if i == 0 and rep == 0:
                    assert page.download("resnet18.tflite") == ref, "the page's output differs"
                if i:
                    sink[0].append(shown["report_ms"])
                    sink[1].append(shown["read_ms"] + shown["convert_ms"])
        rows.append(("page, first conversion in a fresh page", statistics.median(fresh[0]),
                     statistics.median(fresh[1])))
        rows.append(("page, the same file again (module heap grown)", statistics.median(again[0]),
                     statistics.median(again[1])))
    finally:
        browser.close()
        server.close()

    wasm = os.path.getsize(os.path.join(ROOT, "build", "web", "liteport_core.wasm"))
    js = os.path.getsize(os.path.join(ROOT, "build", "web", "liteport_core.js"))
    print(f"resnet18: {os.path.getsize(model) / 1e6:.1f} MB ONNX -> {len(ref) / 1e6:.1f} MB .tflite, "
          f"median of {args.runs} runs; every output byte-identical to the native CLI's")
    print(f"WebAssembly module: {wasm} bytes ({wasm / 1024:.0f} KiB), JS glue {js} bytes "
          f"({os.cpu_count()} CPUs on this machine)\n")
    print("| build | converter (ms) | vs native | end to end (ms) | vs native |")
    print("|---|---:|---:|---:|---:|")
    for name, c, w in rows:
        print(f"| {name} | {c:.1f} | {c / n_conv:.2f}x | {w:.1f} | {w / n_wall:.2f}x |")


if __name__ == "__main__":
    main()
