"""The converter beyond x86-64: the C core cross-compiled for 64-bit ARM Linux (run under qemu-user)
and compiled to WebAssembly (in Node.js, and in the converter page in headless Chromium). Every
build must write the same bytes and the same messages as the native CLI, and no build may load a
payload of the mapped file through a misaligned typed pointer (UBSan on deliberately misaligned
copies of every model).

Built by `make test` (its `portable` prerequisite, see mk/portable.mk): build-arm64/ (static
AArch64 binaries), build/web/ (the page), build/wasm/convert_list.js, build/tests/convert_list and
build-asan/tests/convert_list. Screenshots and timings go to build/artifacts/portable/.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import warnings

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
from helpers import randomize  # noqa: E402
from portable_browser import Browser, Page, StaticServer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "build", "liteport")
ARM_CLI = os.path.join(ROOT, "build-arm64", "liteport")
LIST = {
    "native": [os.path.join(ROOT, "build", "tests", "convert_list")],
    "arm64": ["qemu-aarch64", os.path.join(ROOT, "build-arm64", "tests", "convert_list")],
    "wasm": ["node", os.path.join(ROOT, "build", "wasm", "convert_list.js")],
    "asan": [os.path.join(ROOT, "build-asan", "tests", "convert_list")],
}
ARTIFACTS = os.path.join(ROOT, "build", "artifacts", "portable")
SAN_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="print_stacktrace=1")


def _need(path, what="`make test` (or `make portable`) builds it"):
    assert os.path.exists(path), f"{path} is missing: {what}"


def _need_tool(name):
    """qemu-aarch64 and node come from Debian's packages that `make portable-deps` installs: a missing
    one fails the test with that advice (never a skip)."""
    assert shutil.which(name), f"`{name}` is not on PATH: `make portable-deps` (run by `make test`) installs it"


# ---------------------------------------------------------------------------------------------
# models

@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """digits (the demo CNN), resnet18 with seeded weights, and two models the converter refuses."""
    import onnx
    from onnx import TensorProto, helper

    from liteport.demo import make_model
    from liteport.export import export_onnx

    d = tmp_path_factory.mktemp("portable_models")
    torch.manual_seed(0)
    export_onnx(make_model().eval(), (torch.rand(1, 1, 8, 8),), d / "digits.onnx",
                input_names=["image"], output_names=["logits"])
    import torchvision

    torch.manual_seed(0)
    net = randomize(torchvision.models.resnet18(weights=None), seed=1)
    export_onnx(net, (torch.randn(1, 3, 224, 224),), d / "resnet18.onnx", input_names=["image"],
                output_names=["logits"])
    # an op of a custom domain: an error naming the node and the op, whatever ops are added later
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"], name="relu1"),
                           helper.make_node("FancyWarp", ["r"], ["y"], name="warp_head", domain="com.example")],
                          "custom", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    (d / "custom_op.onnx").write_bytes(m.SerializeToString())
    (d / "truncated.onnx").write_bytes((d / "digits.onnx").read_bytes()[:1000])
    out = {p.stem: p for p in sorted(d.glob("*.onnx"))}
    # the weights in a file of their own, as torch.onnx.export writes them by default
    ext = d / "external"
    ext.mkdir()
    onnx.save_model(onnx.load(d / "digits.onnx"), ext / "digits_ext.onnx", save_as_external_data=True,
                    all_tensors_to_one_file=True, location="digits_ext.onnx.data", size_threshold=0)
    out["digits_ext"] = ext / "digits_ext.onnx"
    return out


def _cli(cli, model, out, *extra):
    """Runs a CLI the way a user would, from the model's folder with its bare file name, so that the
    error line names the file exactly as the page does."""
    cmd = ([cli] if not isinstance(cli, list) else cli) + ["convert", model.name, "-o", str(out), "--json", *extra]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=model.parent, capture_output=True, text=True)
    return r, time.perf_counter() - t0


def _stable(report):
    """A JSON report without what differs between runs (time, paths)."""
    return {k: v for k, v in report.items() if k not in ("time_ms", "input", "output")}


@pytest.fixture(scope="module")
def node_models(tmp_path_factory):
    """Every model of the ONNX backend node tests, written to files (about 1900)."""
    import onnx.backend.test.loader as loader

    d = tmp_path_factory.mktemp("node_models")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = loader.load_model_tests(kind="node")
    paths = []
    for c in cases:
        p = d / f"{c.name}.onnx"
        p.write_bytes(c.model.SerializeToString())
        paths.append(p)
    assert len(paths) > 1500
    return paths


def _convert_list(kind, models, out_dir, *args, env=None):
    """Converts `models` in one process of build `kind`; returns (status lines, {stem: bytes})."""
    cmd = LIST[kind]
    _need(cmd[-1])
    if len(cmd) > 1:
        _need_tool(cmd[0])
    os.makedirs(out_dir, exist_ok=True)
    listing = "".join(f"{m}\t{out_dir}/{m.stem}.tflite\n" for m in models)
    r = subprocess.run(cmd + list(args), input=listing, capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, f"{kind}: exit {r.returncode}\n{r.stderr[-4000:]}"
    assert "runtime error" not in r.stderr and "Sanitizer" not in r.stderr, r.stderr[-4000:]
    lines = r.stdout.splitlines()
    assert len(lines) == len(models), (kind, len(lines), r.stderr[-2000:])
    outputs = {}
    for m, line in zip(models, lines):
        p = os.path.join(out_dir, m.stem + ".tflite")
        if line == "ok":
            with open(p, "rb") as f:
                outputs[m.stem] = f.read()
        else:
            assert not os.path.exists(p), f"{kind}: {m.name} failed ({line}) but left {p}"
    return lines, outputs


# ---------------------------------------------------------------------------------------------
# 64-bit ARM under qemu-user, and WebAssembly under Node.js

def _assert_aarch64(path):
    with open(path, "rb") as f:
        head = f.read(20)
    assert head[:4] == b"\x7fELF" and head[4] == 2 and head[5] == 1, f"{path}: not a 64-bit little-endian ELF"
    assert int.from_bytes(head[18:20], "little") == 183, f"{path}: not an AArch64 binary (EM_AARCH64 = 183)"


def test_arm_cli_matches_native(models, tmp_path):
    """The ARM CLI under qemu: the same .tflite bytes, report and error lines as the native CLI."""
    _need(ARM_CLI)
    _need_tool("qemu-aarch64")
    _assert_aarch64(ARM_CLI)
    for name, model in models.items():
        rn, _ = _cli(CLI, model, tmp_path / f"{name}.native.tflite")
        ra, _ = _cli(["qemu-aarch64", ARM_CLI], model, tmp_path / f"{name}.arm.tflite")
        assert (ra.returncode, ra.stderr) == (rn.returncode, rn.stderr), name
        if name in ("digits", "resnet18", "digits_ext"):
            assert rn.returncode == 0, rn.stderr
            assert (tmp_path / f"{name}.arm.tflite").read_bytes() == (tmp_path / f"{name}.native.tflite").read_bytes()
            assert _stable(json.loads(ra.stdout)) == _stable(json.loads(rn.stdout))
        else:
            assert rn.returncode == 1 and rn.stderr.startswith(f"liteport: error: {model.name}: "), rn.stderr
            assert not (tmp_path / f"{name}.arm.tflite").exists()
    assert "node 'warp_head' (FancyWarp" in _cli(CLI, models["custom_op"], tmp_path / "x.tflite")[0].stderr


@pytest.mark.parametrize("kind", ["arm64", "wasm"])
def test_node_models_identical_to_native(kind, node_models, tmp_path):
    """Every ONNX backend node-test model through the ARM build (qemu-user) or the WebAssembly build
    (Node.js): the same outcome and message for each, and byte-identical files for those converted."""
    lines_n, out_n = _convert_list("native", node_models, tmp_path / "native")
    lines_k, out_k = _convert_list(kind, node_models, tmp_path / kind)
    assert len(out_n) > 1400, f"only {len(out_n)} node models converted natively"
    diff = [f"{m.stem}: {a} | {b}" for m, a, b in zip(node_models, lines_n, lines_k) if a != b]
    assert diff == [], "\n".join(diff[:20])
    differ = sorted(k for k in out_n if out_k[k] != out_n[k])
    assert differ == [], f"{len(differ)} files differ from the native build: {differ[:20]}"


def test_misaligned_payloads_under_ubsan(models, node_models, tmp_path):
    """Each model copied to a heap buffer at offsets 1 and 2 past a 64-byte boundary (so that every
    payload of 2, 4 or 8-byte elements is misaligned in one of the two) and converted by the
    ASan+UBSan build: a typed load from a misaligned payload would stop the run (UBSan's alignment
    check), and the output must match the conversion of the mapped file."""
    ms = [models["digits"], models["resnet18"], *node_models]
    lines_n, out_n = _convert_list("native", ms, tmp_path / "native")
    for off in (1, 2):
        lines, out = _convert_list("asan", ms, tmp_path / f"misaligned{off}", "--misalign", str(off), env=SAN_ENV)
        # a buffer has no file name: messages say "<memory>" where the CLI names the file
        expect = [line.replace(f"{m}: ", "<memory>: ", 1) for m, line in zip(ms, lines_n)]
        diff = [f"{m.stem}: {a} | {b}" for m, a, b in zip(ms, expect, lines) if a != b]
        assert diff == [], "\n".join(diff[:20])
        assert sorted(k for k in out_n if out[k] != out_n[k]) == []


# ---------------------------------------------------------------------------------------------
# the page in headless Chromium

@pytest.fixture(scope="module")
def page(tmp_path_factory):
    for f in ("index.html", "worker.js", "liteport_core.js", "liteport_core.wasm"):
        _need(os.path.join(ROOT, "build", "web", f), "`make wasm` (run by `make test`) builds the page")
    downloads = str(tmp_path_factory.mktemp("downloads"))
    os.makedirs(ARTIFACTS, exist_ok=True)
    server = StaticServer()
    browser = Browser(downloads, os.path.join(ARTIFACTS, "chromedriver.log"))
    try:
        yield Page(browser, server.url, downloads)
    finally:
        browser.close()
        server.close()


def _shape_text(io):
    """The CLI's text form of a TFLite shape: symbol names where a dimension is dynamic."""
    dims = []
    for i, d in enumerate(io["shape"]):
        if d != -1:
            dims.append(str(d))
        else:
            src = io["perm"][i] if io.get("perm") else i
            dims.append(str(io["onnx_shape"][src]))
    return "[" + ",".join(dims) + "]"


@pytest.mark.parametrize("name", ["digits", "resnet18"])
def test_page_converts_like_the_cli(name, models, page, tmp_path):
    """Pick the model in the page, read the report it shows, download the .tflite: the bytes are the
    CLI's, and the report shows the CLI report's inputs, outputs, op counts and transposes."""
    model = models[name]
    rn, cli_secs = _cli(CLI, model, tmp_path / "cli.tflite")
    assert rn.returncode == 0, rn.stderr
    expected = (tmp_path / "cli.tflite").read_bytes()
    rep = json.loads(rn.stdout)

    shown = page.convert(model)
    assert shown["state"] == "done" and shown["error"] is None, shown
    page.b.screenshot(os.path.join(ARTIFACTS, f"page_{name}.png"))
    got = page.download(f"{name}.tflite")
    assert got == expected, f"the page's {name}.tflite ({len(got)} bytes) differs from the CLI's ({len(expected)})"

    assert shown["summary"] == f"{name}.onnx → {name}.tflite"
    assert shown["download_name"] == f"{name}.tflite"
    io = [(kind, t["name"], _shape_text(t), t["layout_changed"])
          for kind, ts in (("input", rep["inputs"]), ("output", rep["outputs"])) for t in ts]
    assert [(r[0], r[1], r[3], r[4] != "ONNX layout") for r in shown["io"]] == [(k, n, s, c) for k, n, s, c in io]
    assert {op: int(n) for op, n in shown["tflite_ops"]} == rep["tflite_ops"]
    assert {op: int(n) for op, n in shown["onnx_ops"]} == rep["onnx_ops"]
    assert shown["transposes"] == str(rep["transposes"]) == "0"
    assert f"TFLite ops {rep['n_tflite_ops']}" in shown["op_summary"]
    assert shown["warnings"] == (rep["warnings"] or ["none"])
    # the file is read in chunks with progress shown, ending at 100%
    assert shown["progress"] and shown["progress"][-1] == 1.0
    if name == "resnet18":
        assert len(shown["progress"]) >= 10, shown["progress"]
        with open(os.path.join(ARTIFACTS, "timing.json"), "w") as f:
            json.dump({"model": "resnet18", "onnx_bytes": model.stat().st_size,
                       "wasm_bytes": os.path.getsize(os.path.join(ROOT, "build", "web", "liteport_core.wasm")),
                       "browser_convert_ms": shown["convert_ms"], "browser_read_ms": shown["read_ms"],
                       "cli_report_ms": rep["time_ms"], "cli_process_ms": cli_secs * 1000}, f, indent=1)


@pytest.mark.parametrize("name", ["custom_op", "truncated"])
def test_page_shows_the_cli_error(name, models, page, tmp_path):
    """A model the converter refuses: the page shows exactly the CLI's error line and offers no download."""
    model = models[name]
    rn, _ = _cli(CLI, model, tmp_path / "cli.tflite")
    assert rn.returncode == 1 and not (tmp_path / "cli.tflite").exists()
    shown = page.convert(model)
    assert shown["state"] == "error", shown
    assert shown["error"] == rn.stderr.strip()
    assert page.b.js("return document.querySelector('#result').hidden") is True
    page.b.screenshot(os.path.join(ARTIFACTS, f"page_error_{name}.png"))


def test_page_options_are_the_cli_flags(models, page, tmp_path):
    """The page's options give the bytes of the CLI's --keep-io-layout --batch 2 --input-shape."""
    model = models["digits"]
    rn, _ = _cli(CLI, model, tmp_path / "cli.tflite", "--keep-io-layout", "--batch", "2")
    assert rn.returncode == 0, rn.stderr
    rs, _ = _cli(CLI, model, tmp_path / "cli_shape.tflite", "--input-shape", "image:3,1,8,8")
    assert rs.returncode == 0, rs.stderr
    b = page.b
    try:
        b.click("#opt-keep-io")
        b.send_keys("#opt-batch", "2")
        shown = page.convert(model)
        assert shown["state"] == "done", shown
        assert page.download("digits.tflite") == (tmp_path / "cli.tflite").read_bytes()
        assert shown["io"][0][3:] == ["[2,1,8,8]", "ONNX layout"]
        b.click("#opt-keep-io")
        b.js("document.getElementById('opt-batch').value = ''")
        b.send_keys("#opt-shapes", "image:3,1,8,8")
        shown = page.convert(model)
        assert shown["state"] == "done", shown
        assert page.download("digits.tflite") == (tmp_path / "cli_shape.tflite").read_bytes()
        assert shown["io"][0][3] == "[3,8,8,1]"
    finally:
        b.js("for (const id of ['opt-batch', 'opt-shapes']) document.getElementById(id).value = '';"
             "document.getElementById('opt-keep-io').checked = false;")


def test_page_reads_external_data(models, page, tmp_path):
    """A model whose weights are in an external data file: picked together, the page converts it to
    the CLI's bytes; picked alone, it shows the CLI's error for a missing data file and says what to do."""
    model = models["digits_ext"]
    data = model.parent / "digits_ext.onnx.data"
    assert data.stat().st_size > 10000  # every weight is in there
    rn, _ = _cli(CLI, model, tmp_path / "cli.tflite")
    assert rn.returncode == 0, rn.stderr
    shown = page.convert(model, data)
    assert shown["state"] == "done", shown
    assert shown["summary"] == "digits_ext.onnx (+ digits_ext.onnx.data) → digits_ext.tflite"
    assert page.download("digits_ext.tflite") == (tmp_path / "cli.tflite").read_bytes()

    lonely = tmp_path / "alone"
    lonely.mkdir()
    shutil.copy(model, lonely / model.name)
    rn, _ = _cli(CLI, lonely / model.name, tmp_path / "x.tflite")
    assert rn.returncode == 1 and "digits_ext.onnx.data' not found next to the model" in rn.stderr, rn.stderr
    shown = page.convert(lonely / model.name)
    assert shown["state"] == "error", shown
    assert shown["error"] == rn.stderr.strip()
    assert shown["hint"] == "Pick or drop digits_ext.onnx together with its external data file(s)."
    page.b.screenshot(os.path.join(ARTIFACTS, "page_error_missing_data.png"))


def test_page_accepts_a_dropped_file(models, page, tmp_path):
    """Dropping a file on the page (a synthetic drop event carrying the file) converts it like picking it."""
    import base64

    model = models["digits"]
    rn, _ = _cli(CLI, model, tmp_path / "cli.tflite")
    assert rn.returncode == 0, rn.stderr
    page.b.js("document.body.dataset.state = 'submitted';"
              "const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));"
              "const dt = new DataTransfer();"
              "dt.items.add(new File([bytes], arguments[1]));"
              "document.getElementById('drop').dispatchEvent("
              "  new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));",
              base64.b64encode(model.read_bytes()).decode(), model.name)
    page.b.wait_js("return document.body.dataset.state", lambda s: s in ("done", "error"), timeout=120)
    assert page.b.js("return document.body.dataset.state") == "done"
    assert page.download("digits.tflite") == (tmp_path / "cli.tflite").read_bytes()


def test_page_refuses_what_wasm_memory_cannot_hold(page, tmp_path):
    """A 2 GiB file (sparse: no disk used) is refused at once with a message saying why and what to
    use instead, before anything is read into the module's 4 GiB memory."""
    big = tmp_path / "huge.onnx"
    with open(big, "wb") as f:
        f.truncate(2 << 30)
    shown = page.convert(big, timeout=60)
    assert shown["state"] == "error", shown
    assert shown["error"].startswith("liteport: error: huge.onnx: the model is 2.00 GiB; a browser converts models "
                                     "up to about 2 GiB"), shown["error"]
    assert "use the liteport command-line tool" in shown["error"]
    assert shown["progress"] == []
