"""Dynamic shapes that really resize (issue 6): models exported with dynamic batch, image size or
sequence length keep -1 in the .tflite signature and match onnxruntime in LiteRT at every size
tried; shape arithmetic that depends on run-time sizes runs on TFLite builtins in int32."""
import math
import os
import sys

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto as TP
from onnx import helper

import liteport

sys.path.insert(0, os.path.dirname(__file__))
from helpers import assert_verified, randomize  # noqa: E402


def builtin_ops(tflite):
    """The op names of a .tflite model, asserting LiteRT's builtin resolver runs every one of them
    (no Flex delegate ops, no custom ops)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=tflite,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    names = [op["op_name"] for op in it._get_ops_details()]
    bad = [n for n in names if n.startswith("Flex") or n in ("CUSTOM", "DELEGATE")]
    assert not bad, f"ops LiteRT's builtin resolver cannot run: {bad}"
    return names


def int64_ops(tflite):
    """The ops that compute an int64 tensor (reading the int64 model inputs aside): shape
    arithmetic, RANGE and indices should all be int32."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite)
    dtypes = {t["index"]: t["dtype"] for t in it.get_tensor_details()}
    return [op["op_name"] for op in it._get_ops_details() if any(dtypes[i] == np.int64 for i in op["outputs"])]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def sizes_tried(v):
    return sorted({tuple(sorted(c.sizes.items())) for c in v.checks})


# ---------------------------------------------------------------------------------------------
# classifiers: dynamic batch


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_classifier_dynamic_batch_1_3_8(name, tmp_path):
    import torchvision

    torch.manual_seed(0)
    model = randomize(getattr(torchvision.models, name)(weights=None), seed=1)
    out = tmp_path / f"{name}.tflite"
    report = liteport.export(model, (torch.randn(1, 3, 224, 224),), out, verify={"batch_sizes": (1, 3, 8)})
    v = assert_verified(report)
    assert sorted({c.batch for c in v.checks}) == [1, 3, 8]
    assert [c.shape for c in v.checks] == [[1, 1000], [3, 1000], [8, 1000]]
    # -1 on the batch of the input and the output, in the report and in the file itself
    assert list(report.inputs[0].shape) == [-1, 224, 224, 3]
    assert list(report.outputs[0].shape) == [-1, 1000]
    m = liteport.LiteRTModel(str(out), report)
    assert m.input_signature("input") == [-1, 224, 224, 3]
    sig_out = m.interpreter.get_output_details()[0]["shape_signature"]
    assert list(sig_out) == [-1, 1000]
    ops = builtin_ops(read(out))
    assert "SHAPE" not in ops and "TRANSPOSE" not in ops, ops


# ---------------------------------------------------------------------------------------------
# fully convolutional segmentation: dynamic height and width


class UNet(nn.Module):
    """A small U-Net: two stride-2 encoder stages, decoder stages upsampled bilinearly to the
    size of the skip connection (F.interpolate(size=skip.shape[-2:]), as segmentation models do)
    and one upsampled by a whole scale factor."""

    def __init__(self):
        super().__init__()
        self.e1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.e2 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.e3 = nn.Sequential(nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU())
        self.d2 = nn.Conv2d(32, 8, 3, padding=1)
        self.d1 = nn.Conv2d(16, 4, 1)
        self.aux = nn.Conv2d(16, 4, 1)

    def forward(self, x):
        a = self.e1(x)
        b = self.e2(a)
        c = self.e3(b)
        u = F.interpolate(c, size=b.shape[-2:], mode="bilinear", align_corners=False)
        d = F.relu(self.d2(torch.cat([u, b], 1)))
        u = F.interpolate(d, size=a.shape[-2:], mode="bilinear", align_corners=False)
        y = self.d1(torch.cat([u, a], 1))
        # a whole-scale upsampling of a half-size map, cropped back to the input's size
        z = F.interpolate(self.aux(b), scale_factor=2, mode="nearest")[:, :, : x.shape[2], : x.shape[3]]
        return y + z


SEG_SIZES = {"height": (224, 320, 97), "width": (224, 256, 131)}


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_unet_dynamic_height_width(exporter, tmp_path):
    torch.manual_seed(0)
    model = randomize(UNet(), seed=3)
    out = tmp_path / "unet.tflite"
    report = liteport.export(model, (torch.randn(1, 3, 64, 48),), out, exporter=exporter, dynamic_batch=False,
                             dynamic_axes={"input": {2: "height", 3: "width"}}, verify={"dim_sizes": SEG_SIZES})
    v = assert_verified(report)
    assert sizes_tried(v) == [(("height", 97), ("width", 131)), (("height", 224), ("width", 224)),
                              (("height", 320), ("width", 256))]
    assert [c.shape for c in v.checks] == [[1, 4, 224, 224], [1, 4, 320, 256], [1, 4, 97, 131]]
    assert list(report.inputs[0].shape) == [1, -1, -1, 3]
    assert list(report.outputs[0].shape) == [1, -1, -1, 4]
    ops = builtin_ops(read(out))
    assert ops.count("RESIZE_BILINEAR") == 2 and ops.count("RESIZE_NEAREST_NEIGHBOR") == 1, ops
    assert "TRANSPOSE" not in ops, ops
    # the crop's constant starts are placed at conversion time, nothing is computed in int64
    assert not {"CAST", "MAXIMUM", "MINIMUM"} & set(ops), ops
    assert int64_ops(read(out)) == [], int64_ops(read(out))


def test_lraspp_dynamic_height_width(tmp_path):
    import torchvision

    torch.manual_seed(0)
    seg = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                                    num_classes=5)

    class Out(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m(x)["out"]

    model = randomize(Out(seg), seed=4)
    out = tmp_path / "lraspp.tflite"
    report = liteport.export(model, (torch.randn(1, 3, 224, 224),), out, exporter="torchscript",
                             dynamic_batch=False, dynamic_axes={"input": {2: "height", 3: "width"}},
                             verify={"dim_sizes": SEG_SIZES})
    v = assert_verified(report)
    assert [c.shape for c in v.checks] == [[1, 5, 224, 224], [1, 5, 320, 256], [1, 5, 97, 131]]
    assert list(report.inputs[0].shape) == [1, -1, -1, 3]
    ops = builtin_ops(read(out))
    assert ops.count("RESIZE_BILINEAR") == 2 and "TRANSPOSE" not in ops, ops


# ---------------------------------------------------------------------------------------------
# transformer encoder: dynamic batch and sequence length


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)

    def forward(self, x, mask):
        B, S, D = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        # heads split by reshape: [B, S, D] -> [B, S, H, D/H] -> [B, H, S, D/H]
        q = q.view(B, S, self.h, D // self.h).transpose(1, 2)
        k = k.view(B, S, self.h, D // self.h).transpose(1, 2)
        v = v.view(B, S, self.h, D // self.h).transpose(1, 2)
        a = (q @ k.transpose(-1, -2)) / math.sqrt(D // self.h)
        a = a.masked_fill(mask.expand(B, self.h, S, S), -1e4)
        y = a.softmax(-1) @ v
        return self.o(y.transpose(1, 2).reshape(B, S, D))


class Encoder(nn.Module):
    def __init__(self, vocab=50, d=32, heads=4, layers=2, max_len=128):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        self.blocks = nn.ModuleList(
            nn.ModuleList([nn.LayerNorm(d), Attention(d, heads), nn.LayerNorm(d),
                           nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))])
            for _ in range(layers))
        self.norm = nn.LayerNorm(d)

    def forward(self, ids):
        S = ids.shape[1]
        positions = torch.arange(S, device=ids.device)           # Range over the run-time length
        x = self.emb(ids) + self.pos(positions)
        # key padding mask (token 0), broadcast to [B, H, S, S] by Expand to a run-time shape
        mask = (ids == 0)[:, None, None, :]
        for ln1, att, ln2, ff in self.blocks:
            x = x + att(ln1(x), mask)
            x = x + ff(ln2(x))
        return self.norm(x)


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_transformer_dynamic_batch_and_sequence(exporter, tmp_path):
    torch.manual_seed(0)
    model = Encoder().eval()
    out = tmp_path / "enc.tflite"
    ids = torch.randint(1, 50, (2, 9))
    report = liteport.export(model, (ids,), out, exporter=exporter, dynamic_axes={"input": {1: "sequence"}},
                             verify=False)
    # integer inputs in 0..3 make padding tokens (0) likely: the mask is exercised
    v = liteport.verify(report.onnx_path, str(out), report=report, batch_sizes=(1, 3, 2),
                        dim_sizes={"sequence": (1, 7, 64)})
    assert v.ok, str(v)
    assert [c.shape for c in v.checks] == [[1, 1, 32], [3, 7, 32], [2, 64, 32]]
    assert min(c.max_ref for c in v.checks) > 0.5
    assert list(report.inputs[0].shape) == [-1, -1]
    assert list(report.outputs[0].shape) == [-1, -1, 32]
    ops = builtin_ops(read(out))
    assert "RANGE" in ops and ("BROADCAST_TO" in ops or "SELECT_V2" in ops), ops
    assert int64_ops(read(out)) == [], int64_ops(read(out))
    # the run-time sizes are read once (from the input) and shared by every reshape and expand
    assert ops.count("SHAPE") == 1 and ops.count("CONCATENATION") <= 3, ops


# ---------------------------------------------------------------------------------------------
# run-time shape values in LiteRT


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _run(m, feeds_list, tmp_path):
    """Convert, then run onnxruntime and LiteRT on each feed dict; every output must match."""
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    rep = liteport.convert(str(path), str(tmp_path / "m.tflite"))
    builtin_ops(read(tmp_path / "m.tflite"))
    for feeds in feeds_list:
        v = liteport.verify(str(path), str(tmp_path / "m.tflite"), feeds, report=rep)
        assert v.ok, str(v)
    return rep


def test_slice_with_int64_starts_and_ends_from_inputs(tmp_path):
    """starts/ends are int64 graph inputs (run-time values, clamped like ONNX: INT64_MAX is "to
    the end", negative counts from the end) on an input whose dims are dynamic too."""
    x = helper.make_tensor_value_info("x", TP.FLOAT, ["n", "m"])
    st = helper.make_tensor_value_info("starts", TP.INT64, [2])
    en = helper.make_tensor_value_info("ends", TP.INT64, [2])
    y = helper.make_tensor_value_info("y", TP.FLOAT, None)
    m = _model([helper.make_node("Slice", ["x", "starts", "ends"], ["y"])], [x, st, en], [y])
    rng = np.random.default_rng(0)
    feeds = []
    for shape, s, e in [((5, 7), [1, 2], [4, 6]), ((3, 9), [0, -4], [2**63 - 1, -1]), ((6, 2), [-3, 0], [5, 100])]:
        feeds.append({"x": rng.standard_normal(shape).astype(np.float32),
                      "starts": np.array(s, np.int64), "ends": np.array(e, np.int64)})
    rep = _run(m, feeds, tmp_path)
    assert "STRIDED_SLICE" in dict(rep.tflite_ops)


def test_int64_shape_values_add_and_reshape(tmp_path):
    """Shape -> Gather -> Add of int64 shape values with an int64 input, as a model output and as
    the target of a Reshape (the run-time shape arrives in int32)."""
    x = helper.make_tensor_value_info("x", TP.FLOAT, ["n", "m", 4])
    k = helper.make_tensor_value_info("k", TP.INT64, [])
    s = helper.make_tensor_value_info("s", TP.INT64, [3])
    y = helper.make_tensor_value_info("y", TP.FLOAT, None)
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Add", ["shape", "k"], ["s"]),  # int64 arithmetic on run-time sizes
        helper.make_node("Gather", ["shape", "i1"], ["m"], axis=0),
        helper.make_node("Mul", ["m", "four"], ["m4"]),
        helper.make_node("Concat", ["minus1", "m4"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    inits = [helper.make_tensor("i1", TP.INT64, [1], [1]), helper.make_tensor("four", TP.INT64, [1], [4]),
             helper.make_tensor("minus1", TP.INT64, [1], [-1])]
    m = _model(nodes, [x, k], [s, y], inits)
    rng = np.random.default_rng(1)
    feeds = [{"x": rng.standard_normal((n, mm, 4)).astype(np.float32), "k": np.array(kk, np.int64)}
             for n, mm, kk in [(1, 1, 3), (2, 5, -7), (4, 3, 2**40)]]
    rep = _run(m, feeds, tmp_path)
    assert list(rep.outputs[1].shape) == [-1, -1]


def test_verify_tries_several_sizes_of_each_dynamic_dim(tmp_path):
    """Without inputs, verify() varies every dynamic dimension (batch, named and unnamed ones)."""
    x = helper.make_tensor_value_info("x", TP.FLOAT, ["batch", "seq", 3])
    z = helper.make_tensor_value_info("z", TP.FLOAT, ["batch", None])
    y = helper.make_tensor_value_info("y", TP.FLOAT, None)
    w = helper.make_tensor_value_info("w", TP.FLOAT, None)
    m = _model([helper.make_node("Softmax", ["x"], ["y"], axis=1), helper.make_node("Neg", ["z"], ["w"])],
               [x, z], [y, w])
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    rep = liteport.convert(str(path), str(tmp_path / "m.tflite"))
    v = liteport.verify(str(path), str(tmp_path / "m.tflite"), report=rep)
    assert v.ok, str(v)
    assert [c.shape for c in v.checks if c.name == "y"] == [[1, 7, 3], [3, 1, 3], [1, 16, 3]]
    assert [c.shape for c in v.checks if c.name == "w"] == [[1, 7], [3, 1], [1, 16]]
    assert "seq=7" in str(v) and "z:1=16" in str(v)
    v = liteport.verify(str(path), str(tmp_path / "m.tflite"), report=rep, batch_sizes=[2],
                        dim_sizes={"seq": [5, 6], "z:1": [4]})
    assert [c.shape for c in v.checks] == [[2, 5, 3], [2, 4], [2, 6, 3], [2, 4]]
    with pytest.raises(ValueError, match="no dynamic dimension is called 'height'"):
        liteport.verify(str(path), str(tmp_path / "m.tflite"), report=rep, dim_sizes={"height": [3]})


# ---------------------------------------------------------------------------------------------
# fixing dynamic dimensions at conversion time


def test_fix_dimensions_by_input_name_and_batch(tmp_path):
    """--input-shape name:... and --batch N (CLI, C tool and Python API alike) turn the dynamic
    encoder static: fixed signature, no run-time shape arithmetic left, still matching onnxruntime;
    a shape that contradicts the model is one clear error and writes nothing."""
    import subprocess

    torch.manual_seed(0)
    model = Encoder().eval()
    report = liteport.export(model, (torch.randint(1, 50, (2, 9)),), tmp_path / "enc.tflite", exporter="torchscript",
                             dynamic_axes={"input": {1: "sequence"}}, verify=False)
    onnx_path = report.onnx_path
    assert "SHAPE" in dict(report.tflite_ops)  # dynamic: the head split reads run-time sizes

    shaped = liteport.convert(onnx_path, tmp_path / "shaped.tflite", input_shapes={"input": (3, 5)})
    assert list(shaped.inputs[0].shape) == [3, 5] and list(shaped.outputs[0].shape) == [3, 5, 32]
    ops = builtin_ops(read(tmp_path / "shaped.tflite"))
    assert "SHAPE" not in ops and "RANGE" not in ops and "CONCATENATION" not in ops, ops
    v = liteport.verify(onnx_path, str(tmp_path / "shaped.tflite"), report=shaped)
    assert v.ok and [c.shape for c in v.checks] == [[3, 5, 32]], str(v)

    batched = liteport.convert(onnx_path, tmp_path / "batched.tflite", batch=4)
    assert list(batched.inputs[0].shape) == [4, -1] and list(batched.outputs[0].shape) == [4, -1, 32]
    v = liteport.verify(onnx_path, str(tmp_path / "batched.tflite"), report=batched, dim_sizes={"sequence": (2, 11)})
    assert v.ok and [c.shape for c in v.checks] == [[4, 2, 32], [4, 11, 32]], str(v)

    # the same options on both command lines give the same bytes as the Python API
    c_cli = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "liteport")
    for cmd in ([sys.executable, "-m", "liteport"], [c_cli]):
        for opts, want in ((["--input-shape", "input:3,5"], "shaped.tflite"), (["--batch", "4"], "batched.tflite")):
            out = tmp_path / "cli.tflite"
            r = subprocess.run([*cmd, "convert", onnx_path, "-o", str(out), *opts], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            assert read(out) == read(tmp_path / want), (cmd, opts)
            out.unlink()
        for opts, msg in ((["--input-shape", "input:3"], "rank 2"), (["--input-shape", "ids:1,5"], "'ids'"),
                          (["--batch", "2", "--input-shape", "input:3,5"], "already fixed at 2")):
            r = subprocess.run([*cmd, "convert", onnx_path, "-o", str(out), *opts], capture_output=True, text=True)
            assert r.returncode != 0 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, (opts, r.stderr)
            assert not out.exists()
