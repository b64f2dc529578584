"""The whole pipeline under AddressSanitizer and UndefinedBehaviorSanitizer: every model of the op
and model tests, plus broken files, converted by build-asan/liteport (built by `make test`). The
sanitizer build must produce byte-identical output to the normal build and never report an error."""
import os
import subprocess
import sys

import onnx
import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))
from test_models import SuperResolutionNet  # noqa: E402
from test_ops import CASES  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "build", "liteport")
ASAN_CLI = os.path.join(ROOT, "build-asan", "liteport")
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")


def _run(cli, src, dst):
    assert os.path.exists(cli), f"{cli} is missing: `make test` builds it first"
    return subprocess.run([cli, "convert", str(src), "-o", str(dst), "-q"], capture_output=True, text=True, env=ENV)


def _same_result(src, tmp_path):
    a, b = tmp_path / "plain.tflite", tmp_path / "asan.tflite"
    for p in (a, b):
        if p.exists():
            p.unlink()
    ra, rb = _run(CLI, src, a), _run(ASAN_CLI, src, b)
    assert "Sanitizer" not in rb.stderr and "runtime error" not in rb.stderr, rb.stderr[-3000:]
    assert ra.returncode == rb.returncode, (ra.stderr, rb.stderr[-3000:])
    if ra.returncode == 0:
        assert a.read_bytes() == b.read_bytes()
    else:
        assert ra.stderr == rb.stderr and not b.exists()
    return ra.returncode


def _models(tmp_path):
    import torchvision

    from liteport.export import export_onnx

    torch.manual_seed(0)
    out = []
    for name in sorted(CASES):
        make_module, make_inputs, _ = CASES[name]
        p = tmp_path / f"{name}.onnx"
        export_onnx(make_module().eval(), make_inputs(), p, exporter="torchscript")
        out.append(p)
    for name in ["resnet18", "mobilenet_v3_small", "shufflenet_v2_x0_5"]:
        p = tmp_path / f"{name}.onnx"
        export_onnx(getattr(torchvision.models, name)(weights=None).eval(), (torch.randn(1, 3, 64, 64),), p)
        out.append(p)
    p = tmp_path / "superres10.onnx"
    export_onnx(SuperResolutionNet().eval(), (torch.randn(1, 1, 32, 32),), p, opset=10, exporter="torchscript")
    out.append(p)
    return out


def test_models_under_sanitizers(tmp_path):
    models = _models(tmp_path)
    assert len(models) >= 60
    failures = [m.name for m in models if _same_result(m, tmp_path) != 0]
    assert failures == [], failures


def test_broken_files_under_sanitizers(tmp_path):
    """Truncations at many offsets, bit flips and junk: a clean error each time, never a report."""
    import random

    from liteport.export import export_onnx

    torch.manual_seed(0)
    src = tmp_path / "small.onnx"
    export_onnx(CASES["conv_batchnorm_folded"][0]().eval(), CASES["conv_batchnorm_folded"][1](), src,
                exporter="torchscript")
    data = src.read_bytes()
    rng = random.Random(0)
    cases = [data[:k] for k in sorted({0, 1, 2, 7, 16, 64, len(data) // 3, len(data) // 2, len(data) - 1}
                                      | {rng.randrange(len(data)) for _ in range(25)})]
    for _ in range(40):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        cases.append(bytes(b))
    cases.append(bytes(rng.randrange(256) for _ in range(4096)))
    bad = tmp_path / "bad.onnx"
    errors = 0
    for c in cases:
        bad.write_bytes(c)
        errors += _same_result(bad, tmp_path) != 0
    assert errors >= 30  # truncations can not all be valid models


def test_conformance_conversions_under_sanitizers(tmp_path):
    """Every model of the conformance suites (tools/conformance.py: the ONNX backend node tests,
    the PyTorch-converted and operator tests, the simple and light models) converted in one process
    by the whole-pipeline fuzz target's replay program under ASan/UBSan/LSan: no report, no leak,
    every refusal a one-line printable message and never an internal error (fuzz/fuzz_check.h)."""
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import conformance

    replay = os.path.join(ROOT, "build-asan", "fuzz", "replay_convert")
    assert os.path.exists(replay), "build-asan/fuzz/replay_convert is missing: `make test` builds it first"
    n = 0
    for suite in conformance.SUITES:
        for name in conformance.list_cases(suite):
            try:
                data = conformance.load_case(suite, name)[1]
            except Exception:  # a case the onnx package itself cannot load
                continue
            (tmp_path / f"{suite}__{name}.onnx").write_bytes(data)
            n += 1
    assert n > 1900
    r = subprocess.run([replay, str(tmp_path)], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0 and "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr[-4000:]
    assert f"replayed {n} inputs" in r.stdout
