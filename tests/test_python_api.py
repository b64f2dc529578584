"""Tests of the Python package: convert(), export(), verify(), the CLI, the demo pieces.

Every numeric check compares LiteRT's outputs (ai-edge-litert) with onnxruntime's, or a result
against numpy arithmetic done here; nothing is accepted just because it did not crash.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import liteport

import ai_edge_litert.interpreter as litert  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

Interpreter = litert.Interpreter
TOL = 1e-4


def _tol(ref):
    return TOL * max(1.0, float(np.max(np.abs(ref))))


# -- small ONNX models built with the onnx package ------------------------------------------------


def conv_relu_model(batch="N"):
    """Conv(3->4, 3x3, pad 1) -> Relu, input [batch,3,5,5]; random seeded weights."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
         helper.make_node("Relu", ["c"], ["y"])],
        "conv_relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4, 5, 5])],
        [onnx.numpy_helper.from_array(w, "w"), onnx.numpy_helper.from_array(b, "b")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def add_sub_model():
    """Two inputs, two outputs: sum = x + y, diff = x - y (no layout change: not spatial)."""
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "y"], ["sum"]), helper.make_node("Sub", ["x", "y"], ["diff"])],
        "add_sub",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6]),
         helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["N", 6]),
         helper.make_tensor_value_info("diff", TensorProto.FLOAT, ["N", 6])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def run_ort(model, feed):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feed)


def run_litert_signature(tflite_bytes, feed):
    it = Interpreter(model_content=tflite_bytes)
    return it.get_signature_runner("serving_default")(**feed)


@pytest.fixture
def conv_onnx(tmp_path):
    p = tmp_path / "conv.onnx"
    onnx.save(conv_relu_model(), str(p))
    return p


# -- convert ---------------------------------------------------------------------------------------


def test_convert_path_default_output_and_numbers(conv_onnx):
    report = liteport.convert(conv_onnx)
    out = conv_onnx.with_suffix(".tflite")
    assert out.exists()
    assert report.output_size == out.stat().st_size
    assert report.tflite is None
    assert report.onnx_ops["Conv"] == 1 and report.onnx_ops["Relu"] == 1
    assert report.n_onnx_nodes == 2
    assert sum(report.tflite_ops.values()) == report.n_tflite_ops
    assert report.to_dict()["inputs"][0]["name"] == "x"

    # the report's layout: tflite input = onnx input transposed by perm
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    (ref,) = run_ort(conv_relu_model(), {"x": x})
    pin, pout = report.input_perm("x"), report.output_perm("y")
    x_t = x.transpose(pin) if pin else x
    got = run_litert_signature(out.read_bytes(), {"x": x_t})["y"]
    if pout:
        got = got.transpose(np.argsort(pout))
    assert got.shape == ref.shape
    assert np.max(np.abs(got - ref)) <= _tol(ref)
    # text report names the input, its shapes and the op counts
    text = str(report)
    assert "x" in text and "Conv" in text and "TRANSPOSE" in text


def test_convert_bytes_in_memory_matches_file(conv_onnx, tmp_path):
    data = conv_onnx.read_bytes()
    mem = liteport.convert(data)
    assert isinstance(mem.tflite, bytes) and len(mem.tflite) == mem.output_size
    assert not (tmp_path / "conv.tflite").exists()  # nothing written
    # bytearray and memoryview are accepted without copying, and give the same model
    assert liteport.convert(memoryview(bytearray(data))).tflite == mem.tflite
    # writing from bytes to a path, and from a path, produce identical files
    liteport.convert(data, tmp_path / "a.tflite")
    liteport.convert(conv_onnx, tmp_path / "b.tflite")
    assert (tmp_path / "a.tflite").read_bytes() == mem.tflite
    assert (tmp_path / "b.tflite").read_bytes() == mem.tflite
    # an onnx.ModelProto is accepted too
    assert liteport.convert(conv_relu_model()).tflite == mem.tflite


def test_convert_options_keep_layout_and_fixed_batch(conv_onnx):
    kept = liteport.convert(conv_onnx.read_bytes(), keep_io_layout=True)
    assert kept.input_perm("x") is None and kept.output_perm("y") is None
    it = Interpreter(model_content=kept.tflite)
    assert list(it.get_input_details()[0]["shape_signature"]) == [-1, 3, 5, 5]

    fixed = liteport.convert(conv_onnx.read_bytes(), batch=2)
    it = Interpreter(model_content=fixed.tflite)
    assert 2 in list(it.get_input_details()[0]["shape_signature"])
    assert -1 not in list(it.get_input_details()[0]["shape_signature"])

    shaped = liteport.convert(conv_onnx.read_bytes(), input_shapes={"x": (4, 3, 5, 5)})
    sig = list(Interpreter(model_content=shaped.tflite).get_input_details()[0]["shape_signature"])
    assert sorted(sig) == sorted([4, 3, 5, 5])

    dumped = liteport.convert(conv_onnx.read_bytes(), dump_after="all")
    assert "Conv" in dumped.dump and dumped.tflite == liteport.convert(conv_onnx.read_bytes()).tflite
    assert liteport.convert(conv_onnx.read_bytes()).dump == ""
    with pytest.raises(liteport.ConversionError, match="nosuchpass"):
        liteport.convert(conv_onnx.read_bytes(), dump_after="nosuchpass")


def test_conversion_error_on_non_onnx(tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_bytes(b"this is not a protobuf \xff\xff\xff\xff")
    out = tmp_path / "notes.tflite"
    out.write_bytes(b"keep me")
    with pytest.raises(liteport.ConversionError) as ei:
        liteport.convert(bad, out)
    err = ei.value
    assert isinstance(err, ValueError)
    assert err.status and isinstance(err.status, str)
    assert err.message and err.message in str(err)
    assert out.read_bytes() == b"keep me"  # existing output untouched
    with pytest.raises(liteport.ConversionError):
        liteport.convert(b"\x0a\xff\xff\xff\xff\x0f")  # truncated field in memory
    assert sorted(os.listdir(tmp_path)) == ["notes.onnx", "notes.tflite"]  # no temp file left


def test_convert_concurrent_threads_give_identical_models(conv_onnx):
    # one converter per call and the GIL released: threads convert side by side
    from concurrent.futures import ThreadPoolExecutor

    data = conv_onnx.read_bytes()
    with ThreadPoolExecutor(4) as pool:
        models = list(pool.map(lambda _: liteport.convert(data).tflite, range(8)))
    assert all(m == models[0] for m in models) and len(models[0]) > 0


def test_core_argument_errors(conv_onnx):
    from liteport import _core

    with pytest.raises(TypeError):
        _core.convert(12345)
    with pytest.raises(ValueError, match="output path"):
        _core.convert(str(conv_onnx))  # the Python layer picks the default, not C
    with pytest.raises(ValueError):
        liteport.convert(conv_onnx.read_bytes(), input_shapes={"x": (0, 3, 5, 5)})
    assert issubclass(liteport.ConversionError, ValueError)
    assert liteport.ConversionError is _core.ConversionError
    rep = liteport.convert(conv_onnx.read_bytes())
    with pytest.raises(AttributeError):
        rep.no_such_field


def test_two_inputs_two_outputs_signature_keys():
    m = add_sub_model()
    rep = liteport.convert(m)
    it = Interpreter(model_content=rep.tflite)
    sig = it.get_signature_list()["serving_default"]
    assert sorted(sig["inputs"]) == ["x", "y"]
    assert sorted(sig["outputs"]) == ["diff", "sum"]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 6)).astype(np.float32)
    y = rng.standard_normal((3, 6)).astype(np.float32)
    got = it.get_signature_runner("serving_default")(x=x, y=y)
    np.testing.assert_allclose(got["sum"], x + y, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got["diff"], x - y, rtol=0, atol=1e-6)


# -- verify ----------------------------------------------------------------------------------------


def test_verify_random_inputs_batches(conv_onnx):
    liteport.convert(conv_onnx)
    res = liteport.verify(conv_onnx, conv_onnx.with_suffix(".tflite"))
    assert res.ok
    assert sorted({c.batch for c in res.checks}) == [1, 3]
    for c in res.checks:
        assert c.name == "y" and c.shape == [c.batch, 4, 5, 5]
        assert c.max_ref > 0.5          # real data went through (Relu of N(0,1) conv)
        assert c.max_abs <= c.tolerance
    assert "y" in str(res) and "ok" in str(res)


def test_verify_given_inputs_and_layout(conv_onnx):
    rep = liteport.convert(conv_onnx)
    x = np.random.default_rng(5).standard_normal((2, 3, 5, 5)).astype(np.float32)
    res = liteport.verify(conv_onnx, rep.output, {"x": x}, report=rep)
    assert res.ok and len(res.checks) == 1 and res.checks[0].batch == 2
    # the same through LiteRTModel (ONNX layout in, ONNX layout out)
    (ref,) = run_ort(conv_relu_model(), {"x": x})
    got = liteport.LiteRTModel(rep.output, rep)({"x": x})["y"]
    assert np.max(np.abs(got - ref)) <= _tol(ref)


# A hand-made .tflite (built with LiteRT's own schema module) whose layouts are known exactly, so
# verify()'s permutation handling is tested independently of the converter's choices.
def _tiny_tflite(c=3, h=3, w=3, signature=True):
    """x: NHWC [-1,h,w,c] -> y = TRANSPOSE(x, (0,3,1,2)) (NCHW), z = RELU(x) (NHWC)."""
    import ai_edge_litert.schema_py_generated as s
    import flatbuffers

    def tensor(name, shape, buf=0, ttype=s.TensorType.FLOAT32):
        t = s.TensorT()
        t.name, t.shape, t.shapeSignature, t.type, t.buffer = name, [1] + shape[1:], shape, ttype, buf
        return t

    def code(op):
        oc = s.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = op, op, 1
        return oc

    bufs = [s.BufferT(), s.BufferT()]
    bufs[1].data = list(np.array([0, 3, 1, 2], np.int32).tobytes())
    sg = s.SubGraphT()
    sg.tensors = [tensor("x", [-1, h, w, c]), tensor("perm", [4], 1, s.TensorType.INT32),
                  tensor("y", [-1, c, h, w]), tensor("z", [-1, h, w, c])]
    sg.tensors[1].shape = [4]
    sg.inputs, sg.outputs = [0], [2, 3]
    tr, relu = s.OperatorT(), s.OperatorT()
    tr.opcodeIndex, tr.inputs, tr.outputs = 0, [0, 1], [2]
    tr.builtinOptionsType, tr.builtinOptions = s.BuiltinOptions.TransposeOptions, s.TransposeOptionsT()
    relu.opcodeIndex, relu.inputs, relu.outputs = 1, [0], [3]
    sg.operators = [tr, relu]
    sig = s.SignatureDefT()
    sig.signatureKey, sig.subgraphIndex = "serving_default", 0
    sig.inputs = [s.TensorMapT()]
    sig.inputs[0].name, sig.inputs[0].tensorIndex = "x", 0
    sig.outputs = [s.TensorMapT(), s.TensorMapT()]
    sig.outputs[0].name, sig.outputs[0].tensorIndex = "y", 2
    sig.outputs[1].name, sig.outputs[1].tensorIndex = "z", 3
    model = s.ModelT()
    model.version, model.operatorCodes = 3, [code(s.BuiltinOperator.TRANSPOSE), code(s.BuiltinOperator.RELU)]
    model.subgraphs, model.buffers = [sg], bufs
    model.signatureDefs = [sig] if signature else None
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _identity_relu_onnx(c=3, h=3, w=3):
    g = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"]), helper.make_node("Relu", ["x"], ["z"])],
        "id_relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", c, h, w]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", c, h, w])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


NHWC = {"layout_changed": True, "perm": [0, 2, 3, 1]}
SAME = {"layout_changed": False}


@pytest.mark.parametrize("signature", [True, False])
def test_verify_applies_report_perms_to_inputs_and_outputs(signature):
    tfl = _tiny_tflite(signature=signature)
    m = _identity_relu_onnx()
    right = {"inputs": [dict(name="x", **NHWC)],
             "outputs": [dict(name="y", **SAME), dict(name="z", **NHWC)]}
    res = liteport.verify(m, tfl, report=right)
    assert res.ok, str(res)
    assert res.backend == ("signature runner" if signature else "input/output details")
    assert [(c.name, c.batch) for c in res.checks] == [("y", 1), ("z", 1), ("y", 3), ("z", 3)]
    assert all(c.max_abs == 0.0 for c in res.checks)  # transposes and relu are exact

    # with a wrong permutation (C and H swapped; same shapes) the numbers disagree
    wrong = {"inputs": [dict(name="x", layout_changed=True, perm=[0, 3, 2, 1])],
             "outputs": [dict(name="y", **SAME), dict(name="z", **NHWC)]}
    bad = liteport.verify(m, tfl, report=wrong)
    assert not bad.ok
    assert all(c.max_abs > 0.1 for c in bad.checks)
    assert "FAIL" in str(bad)
    # and without the output permutation, output z is wrong while y stays right
    no_out = {"inputs": [dict(name="x", **NHWC)],
              "outputs": [dict(name="y", **SAME), dict(name="z", **SAME)]}
    mixed = liteport.verify(m, tfl, report=no_out)
    assert {c.name: c.ok for c in mixed.checks} == {"y": True, "z": False}


@pytest.mark.parametrize("signature", [True, False])
def test_litert_model_rejects_resizing_fixed_dims(signature):
    tfl = _tiny_tflite(c=2, h=3, w=4, signature=signature)
    report = {"inputs": [dict(name="x", **NHWC)],
              "outputs": [dict(name="y", **SAME), dict(name="z", **NHWC)]}
    model = liteport.LiteRTModel(tfl, liteport.Report(report))
    x = np.random.default_rng(0).standard_normal((5, 2, 3, 4)).astype(np.float32)
    out = model({"x": x})
    np.testing.assert_array_equal(out["y"], x)
    np.testing.assert_array_equal(out["z"], np.maximum(x, 0))
    with pytest.raises(ValueError, match="shape signature"):
        model({"x": np.zeros((1, 2, 3, 5), np.float32)})


# -- export ----------------------------------------------------------------------------------------


torch = None


def _torch():
    global torch
    import torch
    return torch


def _tiny_module():
    t = _torch()

    class Tiny(t.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = t.nn.Conv2d(3, 4, 3, padding=1)
            self.fc = t.nn.Linear(4 * 6 * 6, 5)
            self.drop = t.nn.Dropout(0.5)  # must be off after export (eval mode)

        def forward(self, x):
            x = self.drop(t.relu(self.conv(x)))
            return self.fc(x.view(x.size(0), -1))

    t.manual_seed(0)
    return Tiny().train()  # export() must switch it to eval


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_export_both_exporters(tmp_path, exporter):
    t = _torch()
    module = _tiny_module()
    x = t.randn(2, 3, 6, 6)
    out = tmp_path / "tiny.tflite"
    rep = liteport.export(module, (x,), out, exporter=exporter)
    assert not module.training
    assert out.exists() and (tmp_path / "tiny.onnx").exists()
    assert rep.onnx_path == str(tmp_path / "tiny.onnx")
    # names, dynamic batch, weights embedded (no external data files beside the model)
    m = onnx.load(str(tmp_path / "tiny.onnx"))
    assert [i.name for i in m.graph.input] == ["input"]
    assert [o.name for o in m.graph.output] == ["output"]
    assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    assert sorted(os.listdir(tmp_path)) == ["tiny.onnx", "tiny.tflite"]
    # verification ran at batch 1 and 3 and passed
    v = rep.verification
    assert v is not None and v.ok
    assert sorted(c.batch for c in v.checks) == [1, 3]
    # PyTorch itself agrees with LiteRT (through the report's layout)
    with t.no_grad():
        ref = module(x).numpy()
    got = liteport.LiteRTModel(out, rep)({"input": x.numpy()})["output"]
    assert np.max(np.abs(got - ref)) <= 1e-4 * max(1, np.max(np.abs(ref)))


def test_export_names_and_onnx_path(tmp_path):
    t = _torch()

    class TwoIO(t.nn.Module):
        def forward(self, x, y):
            return x + y, x - y

    x, y = t.randn(2, 6), t.randn(2, 6)
    rep = liteport.export(TwoIO(), (x, y), tmp_path / "m.tflite", input_names=["x", "y"],
                          output_names=["sum", "diff"], onnx_path=tmp_path / "sub" / "m.onnx",
                          exporter="torchscript")
    assert (tmp_path / "sub" / "m.onnx").exists()
    assert rep.input_names == ["x", "y"] and rep.output_names == ["sum", "diff"]
    got = liteport.LiteRTModel(tmp_path / "m.tflite", rep)([x.numpy(), y.numpy()])
    np.testing.assert_allclose(got["sum"], (x + y).numpy(), atol=1e-6)
    np.testing.assert_allclose(got["diff"], (x - y).numpy(), atol=1e-6)


# -- CLI -------------------------------------------------------------------------------------------


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "liteport", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_cli_convert_verify_inspect(conv_onnx, tmp_path):
    out = tmp_path / "cli.tflite"
    r = _cli("convert", conv_onnx, "-o", out, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["onnx_ops"]["Conv"] == 1 and d["output_size"] == out.stat().st_size

    r = _cli("convert", conv_onnx)  # default output beside the input, human report
    assert r.returncode == 0, r.stderr
    assert conv_onnx.with_suffix(".tflite").exists()
    assert "Conv" in r.stdout and "TRANSPOSE" in r.stdout

    r = _cli("verify", conv_onnx, out, "--batch-sizes", "1,2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith("ok:")
    r = _cli("verify", conv_onnx, out, "--batch-sizes", "1,2", "--json")
    assert r.returncode == 0, r.stderr
    checks = json.loads(r.stdout)["checks"]
    assert [c["batch"] for c in checks] == [1, 2]
    assert all(c["ok"] and c["max_abs"] <= c["tolerance"] for c in checks)

    r = _cli("inspect", out, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["signatures"]["serving_default"]["inputs"] == ["x"]
    assert info["size"] == out.stat().st_size
    assert -1 in info["inputs"][0]["shape"]
    assert sum(info["ops"].values()) >= 1


def test_cli_errors_one_line_exit_1(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx at all")
    r = _cli("convert", bad)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("liteport: error: ")
    assert "bad.onnx" in lines[0]
    assert not (tmp_path / "bad.tflite").exists()

    r = _cli("convert", tmp_path / "missing.onnx")
    assert r.returncode == 1 and r.stderr.startswith("liteport: error: ")


def test_cli_verify_fails_on_mismatch(tmp_path):
    # m.onnx computes y = x, z = relu(x); m.tflite is converted from a model with the same
    # inputs and outputs that computes y = relu(x): verify must report y as failing
    p = tmp_path / "m.onnx"
    onnx.save(_identity_relu_onnx(), str(p))
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Relu", ["x"], ["z"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 3, 3]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 3, 3, 3])])
    other = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    other.ir_version = 8
    liteport.convert(other, tmp_path / "m.tflite")
    r = _cli("verify", p, tmp_path / "m.tflite", "--json")
    assert r.returncode == 1
    ok = {(c["name"], c["batch"]): c["ok"] for c in json.loads(r.stdout)["checks"]}
    assert ok == {("y", 1): False, ("z", 1): True, ("y", 3): False, ("z", 3): True}


# -- demo pieces -------------------------------------------------------------------------------------


def test_demo_trains_and_litert_agrees(tmp_path):
    _torch()
    from liteport import demo

    r = subprocess.run([sys.executable, "-m", "liteport.demo", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "predictions agreeing with PyTorch: 450/450" in r.stdout
    acc = [line for line in r.stdout.splitlines() if line.startswith("PyTorch held-out accuracy")]
    assert acc and float(acc[0].split(":")[1].split("%")[0]) > 90.0
    assert (tmp_path / "digits.tflite").exists()
    x_train, x_test, _, _ = demo.load_data()
    assert x_test.shape == (450, 1, 8, 8) and x_train.shape == (1347, 1, 8, 8)
    assert 0.0 <= x_test.min() and x_test.max() <= 1.0
