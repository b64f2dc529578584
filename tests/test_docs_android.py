"""docs/android.md, executed: every shell command and the Python block run as written (in a temporary
folder, with a stand-in for the trained weights), every option the guide mentions is in a command
that ran, the sample `inspect` output is what inspect prints, and the Kotlin is checked against the
models the commands produced: Android Studio's class and getter names (its naming rules, and
tflite-support's code generator on the model), the signature keys, input size and labels file of
the plain-Interpreter code, whose byte packing is replayed here on a picture."""
import json
import os
import re
import shlex
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "android.md")
TFLS_CODEGEN = os.path.join(ROOT, "build", "tfls-venv", "bin", "tflite_codegen")
sys.path.insert(0, os.path.dirname(__file__))
from helpers import randomize  # noqa: E402


def _blocks():
    """[(language, file name from a preceding <!-- file: NAME --> or None, text)]"""
    out, lang, name, buf, last = [], None, None, [], ""
    for line in open(DOC, encoding="utf-8").read().splitlines():
        if lang is None and line.startswith("```"):
            lang = line[3:].strip()
            m = re.match(r"<!-- file: (\S+) -->", last)
            name = m.group(1) if m else None
            buf = []
        elif lang is not None and line.startswith("```"):
            out.append((lang, name, "\n".join(buf) + "\n"))
            lang = None
        elif lang is not None:
            buf.append(line)
        if line.strip():
            last = line.strip()
    assert lang is None, "unclosed code block"
    return out


def _commands(sh):
    return [shlex.split(c) for c in sh.replace("\\\n", " ").splitlines() if c.strip()]


def _env(tmp):
    # the installed package (make install), never the checkout's python/ folder: a clean clone has
    # no compiled extension there
    paths = [str(tmp)] + [p for p in sys.path if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths))


def _studio_class_name(file_name):
    """Android Studio's MlNames.computeModelClassName for a model at the top of ml/."""
    n = re.sub(r"[- ]+", "_", os.path.splitext(file_name)[0].strip())
    if "_" in n:
        n = "".join(w[:1].upper() + w[1:].lower() for w in n.split("_"))
    else:
        n = n[:1].upper() + n[1:]
    return re.sub(r"[^0-9A-Za-z]", "", n)


def _studio_identifier(name):
    """MlNames.computeIdentifierName: lowerCamel, letters and digits only."""
    n = re.sub(r"[- ]+", "_", name)
    if "_" in n:
        words = n.strip().split("_")
        n = words[0].lower() + "".join(w[:1].upper() + w[1:].lower() for w in words[1:])
    return re.sub(r"[^0-9A-Za-z]", "", n)


@pytest.fixture(scope="module")
def guide(tmp_path_factory):
    """Runs the guide in a fresh folder; returns (folder, {command text: CompletedProcess}, blocks)."""
    tmp = tmp_path_factory.mktemp("guide")
    blocks = _blocks()
    for lang, name, text in blocks:
        if name:
            (tmp / name).write_text(text)
    # the trained weights: a seeded stand-in with the architecture of classifier.py, its last layer
    # scaled so the three probabilities differ clearly
    import torchvision

    torch.manual_seed(0)
    net = randomize(torchvision.models.mobilenet_v3_small(num_classes=3))
    with torch.no_grad():
        net.classifier[-1].weight.mul_(300.0)
    torch.save(net.state_dict(), tmp / "classifier.pt")

    runs = {}
    for lang, name, text in blocks:
        if lang != "sh":
            continue
        for argv in _commands(text):
            assert argv[0] == "liteport", argv
            r = subprocess.run([sys.executable, "-m", "liteport", *argv[1:]], cwd=tmp, env=_env(tmp),
                               capture_output=True, text=True, timeout=900)
            assert r.returncode == 0, (argv, r.stdout[-2000:], r.stderr[-3000:])
            runs[" ".join(argv)] = r
    return tmp, runs, blocks


def test_every_option_in_the_guide_ran(guide):
    tmp, runs, blocks = guide
    text = open(DOC, encoding="utf-8").read()
    ran = set()
    for cmd in runs:
        ran |= {a for a in shlex.split(cmd) if a.startswith("--")}
    mentioned = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))
    # the two layout switches are named only to say they cannot be combined with image metadata:
    # tests/test_android.py::test_bad_android_options runs both
    missing = mentioned - ran - {"--keep-io-layout", "--no-layout-pass"}
    assert not missing, f"options in docs/android.md that no command runs: {sorted(missing)}"
    assert {"export", "convert", "verify", "inspect"} <= {shlex.split(c)[1] for c in runs}
    # the inline `python -m zipfile -l` command
    assert "python -m zipfile -l pet_classifier.tflite" in text
    r = subprocess.run([sys.executable, "-m", "zipfile", "-l", "pet_classifier.tflite"], cwd=tmp,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "labels.txt" in r.stdout


def test_exports_verified_and_metadata_as_described(guide):
    tmp, runs, blocks = guide
    (export,) = [r for c, r in runs.items() if c.startswith("liteport export")]
    assert "ok: max|litert - ort|" in export.stdout
    (verify,) = [r for c, r in runs.items() if c.startswith("liteport verify")]
    assert "ok: max|litert - ort|" in verify.stdout and "FAIL" not in verify.stdout
    import liteport

    md = liteport.read_metadata(tmp / "pet_classifier.tflite")
    assert md["name"] == "Pet classifier" and md["author"] == "Example Pets" and md["license"] == "Apache-2.0"
    np.testing.assert_allclose(md["inputs"][0]["normalization"]["mean"], [123.675, 116.28, 103.53], rtol=1e-6)
    np.testing.assert_allclose(md["inputs"][0]["normalization"]["std"], [58.395, 57.12, 57.375], rtol=1e-6)
    md8 = liteport.read_metadata(tmp / "pet_classifier_uint8.tflite")
    assert md8["inputs"][0]["normalization"] == {"mean": [0.0], "std": [1.0]}
    assert md8["files"]["labels.txt"].splitlines() == ["cat", "dog", "bird"]


def test_inspect_output_is_the_one_shown(guide):
    tmp, runs, blocks = guide
    (r,) = [r for c, r in runs.items() if c.startswith("liteport inspect")]
    shown = [b for lang, name, b in blocks if lang == "text" and name is None]
    sample = [b for b in shown if b.startswith("metadata:")]
    assert len(sample) == 1
    for line in sample[0].splitlines():
        assert line in r.stdout.splitlines(), (line, r.stdout)


def test_python_block(guide):
    tmp, runs, blocks = guide
    (code,) = [t for lang, name, t in blocks if lang == "python" and name is None]
    for f in ("pet_classifier.tflite", "pet_classifier_uint8.tflite"):
        (tmp / f).unlink()
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp, env=_env(tmp), capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "metadata: 'Pet classifier'" in r.stdout and "3 labels (labels.txt) for 'probability'" in r.stdout
    assert r.stdout.rstrip().endswith("cat\ndog\nbird")
    import liteport

    md = liteport.read_metadata(tmp / "pet_classifier_uint8.tflite")
    assert md["inputs"][0]["color_space"] == "rgb" and md["outputs"][0]["associated_files"][0]["name"] == "labels.txt"


def test_kotlin_wrapper_names(guide, tmp_path):
    tmp, runs, blocks = guide
    kotlin = [t for lang, name, t in blocks if lang == "kotlin"]
    (wrapper,) = [k for k in kotlin if "newInstance" in k]
    cls = _studio_class_name("pet_classifier.tflite")
    assert cls == "PetClassifier"
    assert f"import com.example.pets.ml.{cls}\n" in wrapper and f"{cls}.newInstance(context)" in wrapper
    getter = "get" + _studio_identifier("probability")[:1].upper() + _studio_identifier("probability")[1:] + \
        "AsCategoryList"
    prop = getter[3].lower() + getter[4:]
    assert f"outputs.{prop}" in wrapper and "model.process(image)" in wrapper
    # tflite-support's generator, which follows the same metadata, makes the same method names
    r = subprocess.run([TFLS_CODEGEN, f"--model={tmp / 'pet_classifier.tflite'}", f"--destination={tmp_path}",
                        "--package_name=com.example.pets.ml", f"--model_class_name={cls}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    java = (tmp_path / f"src/main/java/com/example/pets/ml/{cls}.java").read_text()
    assert f"public List<Category> {getter}()" in java and "public Outputs process(TensorImage image)" in java


def test_kotlin_interpreter_code_against_the_model(guide):
    from ai_edge_litert.interpreter import Interpreter

    tmp, runs, blocks = guide
    (code,) = [t for lang, name, t in blocks if lang == "kotlin" and "runSignature" in t]
    asset = re.search(r'loadMappedFile\(context, "([^"]+)"\)', code).group(1)
    labels_file = re.search(r'getAssociatedFile\("([^"]+)"\)', code).group(1)
    in_key = re.search(r'mapOf\("(\w+)" to pixels\)', code).group(1)
    out_key = re.search(r'mapOf\("(\w+)" to probability\)', code).group(1)
    sig_key = re.search(r'to probability\), "(\w+)"\)', code).group(1)
    side = {int(n) for n in re.findall(r"createScaledBitmap\(bitmap, (\d+), (\d+)", code)[0]}
    model = tmp / asset
    it = Interpreter(model_path=str(model))
    sigs = it.get_signature_list()
    assert sigs == {sig_key: {"inputs": [in_key], "outputs": [out_key]}}
    runner = it.get_signature_runner(sig_key)
    d = runner.get_input_details()[in_key]
    assert d["dtype"] == np.uint8 and list(d["shape_signature"]) == [-1, 224, 224, 3]
    assert side == {224} and "224 * 224 * 3" in code
    labels = zipfile.ZipFile(model).read(labels_file).decode().splitlines()

    # replay classify(): ARGB ints of a 224x224 picture packed as the Kotlin loop packs them
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:224, 0:224]
    rgb = np.clip(np.stack([x * 1.1, y * 0.9, 255 - x], -1) + rng.normal(0, 30, (224, 224, 3)), 0, 255).astype(np.int64)
    argb = (0xFF << 24) | (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    packed = bytearray()
    for p in argb.reshape(-1).tolist():
        packed += bytes(((p >> 16) & 0xFF, (p >> 8) & 0xFF, p & 0xFF))
    pixels = np.frombuffer(bytes(packed), np.uint8).reshape(1, 224, 224, 3)
    prob = runner(**{in_key: pixels})[out_key][0]
    assert len(prob) == len(labels) == 3
    top = [lab for lab, _ in sorted(zip(labels, prob), key=lambda t: -t[1])]

    # the float model of section 2 given the same picture the way the wrapper's NormalizeOp does
    md = json.loads(json.dumps(__import__("liteport").read_metadata(tmp / "pet_classifier.tflite")))
    norm = md["inputs"][0]["normalization"]
    xf = ((pixels.astype(np.float32) - np.array(norm["mean"], np.float32)) / np.array(norm["std"], np.float32))
    ref = Interpreter(model_path=str(tmp / "pet_classifier.tflite")).get_signature_runner()(image=xf)["probability"][0]
    assert top == [lab for lab, _ in sorted(zip(labels, ref), key=lambda t: -t[1])]
    np.testing.assert_allclose(prob, ref, atol=1e-5)
    assert prob.max() - prob.min() > 0.05  # the probabilities really differ
