"""Quantization (float16, dynamic-range int8, full int8 with calibration) and liteport's reference
interpreter: LiteRT loads and runs every quantized model, the int8 ones against the float model on
held-out data; the parameters LiteRT's kernels require are checked in the written flatbuffer."""
import json
import os
import subprocess
import sys

import ai_edge_litert.schema_py_generated as fbs
import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torch import nn

import liteport

sys.path.insert(0, os.path.dirname(__file__))
from helpers import randomize  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "build", "liteport")
OPS = {v: k for k, v in vars(fbs.BuiltinOperator).items() if not k.startswith("_")}
TYPES = {v: k for k, v in vars(fbs.TensorType).items() if not k.startswith("_")}


# ---------------------------------------------------------------------------------------------
# helpers


def export(module, x, path, names=("x",), outs=("y",)):
    torch.onnx.export(module.eval(), tuple(torch.from_numpy(a) for a in x), str(path), input_names=list(names),
                      output_names=list(outs), dynamic_axes={n: {0: "N"} for n in (*names, *outs)},
                      dynamo=False)
    return str(path)


def litert(path, report, inputs):
    return liteport.LiteRTModel(str(path), report)(inputs)


class Flat:
    """The written model read back with LiteRT's generated schema: ops with their version and the
    type and quantization of every tensor they touch."""

    def __init__(self, path):
        data = open(path, "rb").read()
        self.m = fbs.Model.GetRootAs(data, 0)
        self.sg = self.m.Subgraphs(0)

    def tensor(self, i):
        t = self.sg.Tensors(i)
        q = t.Quantization()
        scales = [q.Scale(k) for k in range(q.ScaleLength())] if q else []
        zps = [q.ZeroPoint(k) for k in range(q.ZeroPointLength())] if q else []
        return dict(name=t.Name().decode(), type=TYPES[t.Type()], scales=scales, zero_points=zps,
                    dim=q.QuantizedDimension() if q else 0, shape=[t.Shape(k) for k in range(t.ShapeLength())])

    def ops(self):
        res = []
        for i in range(self.sg.OperatorsLength()):
            op = self.sg.Operators(i)
            oc = self.m.OperatorCodes(op.OpcodeIndex())
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            res.append(dict(op=OPS[code], version=oc.Version(),
                            inputs=[self.tensor(k) if k >= 0 else None for k in op.InputsAsNumpy()],
                            outputs=[self.tensor(k) for k in op.OutputsAsNumpy()]))
        return res

    def versions(self):
        return {o["op"]: o["version"] for o in self.ops()}


def assert_int8_only(flat):
    """Every op between the input QUANTIZE and the output DEQUANTIZE runs on int8 tensors."""
    ops = flat.ops()
    inner = [o for o in ops if o["op"] not in ("QUANTIZE", "DEQUANTIZE")]
    assert inner
    for o in inner:
        types = {t["type"] for t in o["inputs"] + o["outputs"] if t is not None}
        assert "FLOAT32" not in types, (o["op"], types)
    # float -> int8 only at the input, int8 -> float only at the output (int8 -> int8 QUANTIZE
    # ops requantize between parameters)
    to_int = [o for o in ops if o["op"] == "QUANTIZE" and o["inputs"][0]["type"] == "FLOAT32"]
    to_float = [o for o in ops if o["op"] == "DEQUANTIZE"]
    assert len(to_int) <= 1 and len(to_float) <= 1, [o["op"] for o in ops]


def rel_err(ref, got, stat=np.max):
    """error relative to the float output's range (max by default, or mean)"""
    return float(stat(np.abs(ref - got)) / (ref.max() - ref.min()))


# ---------------------------------------------------------------------------------------------
# the reference interpreter against LiteRT's float model


class OpZoo(nn.Module):
    """The ops of typical CNNs in one network: conv, depthwise, pooling, fully connected, add/mul,
    activations, concatenation, reshape, softmax, mean, resize, pad."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.c2 = nn.Conv2d(16, 8, 1)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.prelu = nn.PReLU(8)
        self.fc = nn.Linear(8 * 4 * 4 + 8, 10)

    def forward(self, x):
        a = F.relu6(self.c1(x))
        b = F.hardswish(self.dw(a)) + torch.sigmoid(a) * torch.tanh(a)
        c = torch.cat([F.leaky_relu(b, 0.1), self.prelu(a)], 1)
        d = self.c2(F.pad(c, (1, 1, 1, 1)))
        e = F.avg_pool2d(d, 2) + F.max_pool2d(d, 3, 2, 1)
        f = F.interpolate(e, scale_factor=2, mode="bilinear", align_corners=False)
        g = F.interpolate(f, size=(4, 4), mode="nearest") * F.gelu(self.up(e)).mean(1, keepdim=True)[:, :, ::3, ::3]
        h = torch.cat([g.reshape(g.shape[0], -1), e.mean((2, 3))], 1)
        return torch.softmax(self.fc(h), 1)


class Block(nn.Module):
    """A transformer block: layer norm, attention (batch matmul, softmax), GELU."""

    def __init__(self, d=16):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.ff = nn.Linear(d, d)

    def forward(self, x):
        q, k, v = self.qkv(self.ln(x)).chunk(3, -1)
        a = torch.softmax(q @ k.transpose(1, 2) / 4.0, -1) @ v
        return x + self.ff(F.gelu(a))


@pytest.mark.parametrize("name", ["zoo", "block", "mobilenet_v2"])
def test_reference_interpreter_matches_litert(name, tmp_path):
    """liteport.run (the C reference interpreter that calibrates) against LiteRT's float32 model."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    if name == "zoo":
        module, x = OpZoo(), rng.standard_normal((3, 3, 20, 20)).astype(np.float32)
    elif name == "block":
        module, x = Block(), rng.standard_normal((3, 7, 16)).astype(np.float32)
    else:
        import torchvision

        module, x = randomize(torchvision.models.mobilenet_v2(weights=None), seed=1), rng.standard_normal(
            (2, 3, 64, 64)).astype(np.float32)
    onnx_path = export(module, [x], tmp_path / "m.onnx")
    ref = liteport.run(onnx_path, x)["y"]
    report = liteport.convert(onnx_path, tmp_path / "m.tflite")
    got = litert(tmp_path / "m.tflite", report, {"x": x})["y"]
    assert ref.shape == got.shape
    assert np.abs(ref - got).max() <= 1e-4 * max(1.0, np.abs(got).max()), np.abs(ref - got).max()
    with torch.no_grad():
        torch_out = module.eval()(torch.from_numpy(x)).numpy()
    assert np.abs(ref - torch_out).max() <= 1e-4 * max(1.0, np.abs(torch_out).max())
    assert np.abs(got).max() > 1e-3


# ---------------------------------------------------------------------------------------------
# the trained digits model: float16, dynamic, int8


def test_digits_quantized(tmp_path, digits):
    model, (x_train, x_test, _, y_test) = digits
    onnx_path = export(model, [x_test[:1]], tmp_path / "digits.onnx", names=("image",), outs=("logits",))
    rep_f = liteport.convert(onnx_path, tmp_path / "f32.tflite")
    float_logits = litert(tmp_path / "f32.tflite", rep_f, {"image": x_test})["logits"]
    float_acc = float((float_logits.argmax(1) == y_test).mean())
    assert float_acc > 0.9
    results = {}
    for mode in ("float16", "dynamic", "int8"):
        out = tmp_path / f"{mode}.tflite"
        rep = liteport.convert(onnx_path, out, quantize=mode, calibration=x_train[:300] if mode == "int8" else None,
                               eval_data=x_test)
        logits = litert(out, rep, {"image": x_test})["logits"]
        acc = float((logits.argmax(1) == y_test).mean())
        q = rep.quantization
        results[mode] = (acc, q)
        assert q.mode == mode and q.float_size == os.path.getsize(tmp_path / "f32.tflite")
        assert q.size == os.path.getsize(out)
        # the report's (simulated) error agrees with LiteRT's actual error
        actual = float(np.abs(logits - float_logits).max())
        sim = q.outputs[0].max_abs_error
        assert 0.5 * actual <= sim <= 2 * actual + 1e-3, (mode, sim, actual)
        assert abs(q.outputs[0].top1_agreement - float((logits.argmax(1) == float_logits.argmax(1)).mean())) <= 0.01
    # int8 accuracy within 1 percentage point of float
    assert results["int8"][0] >= float_acc - 0.01, (results["int8"][0], float_acc)
    assert results["float16"][0] == pytest.approx(float_acc, abs=0.003)
    assert results["dynamic"][0] >= float_acc - 0.01
    # sizes: weights 1/2, 1/4, 1/4; whole files a little more (names, signature, per-channel scales)
    w = {m: q.weights_bytes / q.weights_float_bytes for m, (_, q) in results.items()}
    assert 0.49 <= w["float16"] <= 0.51 and w["int8"] <= 0.27 and w["dynamic"] <= 0.3, w
    sizes = {m: q.size_ratio for m, (_, q) in results.items()}
    assert sizes["float16"] < 0.62 and sizes["dynamic"] < 0.45 and sizes["int8"] < 0.5, sizes
    # op versions of the hybrid and int8 kernels (LiteRT's op_version.cc)
    v = Flat(tmp_path / "dynamic.tflite").versions()
    assert v["CONV_2D"] == 5 and v["FULLY_CONNECTED"] == 12, v  # per-channel hybrid
    flat8 = Flat(tmp_path / "int8.tflite")
    assert flat8.versions() == {"QUANTIZE": 1, "CONV_2D": 3, "MAX_POOL_2D": 2, "RESHAPE": 1, "FULLY_CONNECTED": 4,
                                "DEQUANTIZE": 2}
    assert Flat(tmp_path / "float16.tflite").versions()["DEQUANTIZE"] == 3
    assert_int8_only(flat8)
    for o in flat8.ops():
        if o["op"] in ("CONV_2D", "FULLY_CONNECTED"):
            x, wt, b = o["inputs"]
            assert wt["type"] == "INT8" and len(wt["scales"]) == len(b["scales"]) > 1 and set(wt["zero_points"]) == {0}
            assert b["type"] == "INT32" and wt["dim"] == 0
            assert np.allclose(b["scales"], np.float32(x["scales"][0]) * np.array(wt["scales"], np.float32), rtol=1e-6)
        if o["op"] in ("MAX_POOL_2D", "RESHAPE"):  # shared parameters
            assert o["inputs"][0]["scales"] == o["outputs"][0]["scales"]
            assert o["inputs"][0]["zero_points"] == o["outputs"][0]["zero_points"]


@pytest.mark.parametrize("io_type", ["int8", "uint8"])
def test_integer_inputs_and_outputs(io_type, tmp_path, digits):
    model, (x_train, x_test, _, _) = digits
    onnx_path = export(model, [x_test[:1]], tmp_path / "digits.onnx", names=("image",), outs=("logits",))
    rep_f = liteport.convert(onnx_path, tmp_path / "f.tflite", quantize="int8", calibration=x_train[:100])
    rep = liteport.convert(onnx_path, tmp_path / "q.tflite", quantize="int8", calibration=x_train[:100],
                           io_type=io_type)
    assert rep.inputs[0].tflite_dtype == io_type and rep.outputs[0].tflite_dtype == io_type
    qi, qo = rep.inputs[0].quantization, rep.outputs[0].quantization
    shift = 128 if io_type == "uint8" else 0
    assert qi.scale == pytest.approx(1 / 255) and qi.zero_point == -128 + shift  # pixels in [0, 1]
    flat = Flat(tmp_path / "q.tflite")
    ops = [o["op"] for o in flat.ops()]
    assert "DEQUANTIZE" not in ops and ops.count("QUANTIZE") == (2 if io_type == "uint8" else 0)
    # the app's integers: the same logits as the float-I/O int8 model (LiteRTModel quantizes the
    # float input with the input's parameters and dequantizes the output)
    a = litert(tmp_path / "f.tflite", rep_f, {"image": x_test})["logits"]
    b = litert(tmp_path / "q.tflite", rep, {"image": x_test})["logits"]
    assert np.abs(a - b).max() <= qo.scale + 1e-6
    raw = liteport.LiteRTModel(str(tmp_path / "q.tflite"), rep, dequantize=False)({"image": x_test})["logits"]
    assert raw.dtype == np.dtype(io_type)


# ---------------------------------------------------------------------------------------------
# int8: outputs with fixed parameters, shared parameters, a typical small CNN


class SigmoidHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return torch.sigmoid(self.c(x) * 2)


class SoftmaxHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 8, 3, stride=2)
        self.fc = nn.Linear(8 * 7 * 7, 10)

    def forward(self, x):
        return torch.softmax(self.fc(F.relu(self.c(x)).flatten(1)), 1)


class WideConcat(nn.Module):
    """A [0,1] branch concatenated with a [-500,500] branch."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return torch.cat([torch.sigmoid(self.a(x)), 500 * torch.tanh(self.b(x))], 1)


class ConvReluPoolLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 8 * 8, 5)

    def forward(self, x):
        return self.fc(torch.flatten(F.max_pool2d(F.relu(self.c(x)), 2), 1))


def _int8_pair(module, tmp_path, shape=(3, 16, 16), n=32, **kw):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    cal = rng.standard_normal((n, *shape)).astype(np.float32)
    held = rng.standard_normal((16, *shape)).astype(np.float32)
    onnx_path = export(module, [cal[:1]], tmp_path / "m.onnx")
    rep_f = liteport.convert(onnx_path, tmp_path / "f.tflite")
    rep_q = liteport.convert(onnx_path, tmp_path / "q.tflite", quantize="int8", calibration=cal, eval_data=held, **kw)
    ref = litert(tmp_path / "f.tflite", rep_f, {"x": held})["y"]
    got = litert(tmp_path / "q.tflite", rep_q, {"x": held})["y"]
    return rep_q, ref, got, Flat(tmp_path / "q.tflite")


def test_int8_sigmoid_output(tmp_path):
    torch.manual_seed(0)
    rep, ref, got, flat = _int8_pair(SigmoidHead(), tmp_path)
    logistic = [o for o in flat.ops() if o["op"] == "LOGISTIC"]
    assert len(logistic) == 1 and logistic[0]["version"] == 2
    out = logistic[0]["outputs"][0]
    assert out["type"] == "INT8" and out["scales"] == [pytest.approx(1 / 256)] and out["zero_points"] == [-128]
    assert np.abs(ref - got).mean() < 0.01 and np.abs(ref - got).max() < 0.1
    assert_int8_only(flat)


def test_int8_softmax_output(tmp_path):
    torch.manual_seed(0)
    rep, ref, got, flat = _int8_pair(SoftmaxHead(), tmp_path)
    sm = [o for o in flat.ops() if o["op"] == "SOFTMAX"]
    assert len(sm) == 1 and sm[0]["version"] == 2
    out = sm[0]["outputs"][0]
    assert out["scales"] == [pytest.approx(1 / 256)] and out["zero_points"] == [-128]
    assert np.abs(ref - got).max() < 0.03
    assert (ref.argmax(1) == got.argmax(1)).mean() >= 0.9
    assert rep.quantization.outputs[0].top1_agreement >= 0.9
    assert_int8_only(flat)


def test_int8_concatenation_of_far_apart_ranges_is_warned(tmp_path):
    torch.manual_seed(0)
    rep, ref, got, flat = _int8_pair(WideConcat(), tmp_path)
    warnings = [w for w in rep.warnings if "CONCATENATION" in w]
    assert len(warnings) == 1 and "wider" in warnings[0], rep.warnings
    assert rep.quantization.warnings == rep.warnings
    (cat,) = [o for o in flat.ops() if o["op"] == "CONCATENATION"]
    assert cat["version"] == 2
    # the kernel needs one set of parameters: inputs and output share them (the sigmoid branch is
    # requantized from its fixed 1/256 to the concatenation's)
    for t in cat["inputs"]:
        assert (t["scales"], t["zero_points"]) == (cat["outputs"][0]["scales"], cat["outputs"][0]["zero_points"])
    assert cat["outputs"][0]["scales"][0] == pytest.approx(1000 / 255, rel=0.05)
    # the wide branch keeps its usual int8 error, the narrow one lost its resolution (what the
    # warning says): its error is of the order of its whole range
    assert rel_err(ref[:, 4:], got[:, 4:], np.mean) < 0.01
    assert np.abs(ref[:, :4] - got[:, :4]).mean() > 0.1
    assert_int8_only(flat)


def test_int8_conv_relu_maxpool_flatten_linear(tmp_path):
    torch.manual_seed(0)
    rep, ref, got, flat = _int8_pair(ConvReluPoolLinear(), tmp_path)
    assert rel_err(ref, got, np.mean) < 0.01 and rel_err(ref, got) < 0.05
    assert flat.versions() == {"QUANTIZE": 1, "CONV_2D": 3, "MAX_POOL_2D": 2, "RESHAPE": 1, "FULLY_CONNECTED": 4,
                               "DEQUANTIZE": 2}
    assert rep.quantization.int8_ops == 4 and not rep.quantization.float_ops
    assert_int8_only(flat)


def test_percentile_clips_an_outlier(tmp_path):
    torch.manual_seed(0)
    module = SigmoidHead()
    rng = np.random.default_rng(0)
    cal = rng.standard_normal((64, 3, 16, 16)).astype(np.float32)
    cal[0, 0, 0, 0] = 200.0  # one wild pixel
    onnx_path = export(module, [cal[:1]], tmp_path / "m.onnx")
    scales = {}
    for p in (None, 99.9):
        rep = liteport.convert(onnx_path, tmp_path / "q.tflite", quantize="int8", calibration=cal, percentile=p)
        (q,) = [o for o in Flat(tmp_path / "q.tflite").ops() if o["op"] == "QUANTIZE"]
        scales[p] = q["outputs"][0]["scales"][0]
        assert rep.quantization.percentile == p
    assert scales[None] > 200 / 255 and scales[99.9] < 10 / 255, scales


def test_unsupported_ops_stay_float_between_dequantize_and_quantize(tmp_path):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            y = self.c(x)
            return y / (y.abs() + 1)  # DIV has no int8 kernel

    torch.manual_seed(0)
    rep, ref, got, flat = _int8_pair(M(), tmp_path)
    assert dict(rep.quantization.float_ops) == {"DIV": 1}
    assert any("no int8 kernel" in w for w in rep.warnings)
    (div,) = [o for o in flat.ops() if o["op"] == "DIV"]
    assert {t["type"] for t in div["inputs"] + div["outputs"]} == {"FLOAT32"}
    # random held-out inputs beyond the calibrated range are clipped: judge the typical error
    assert rel_err(ref, got, np.mean) < 0.01 and rel_err(ref, got) < 0.15


# ---------------------------------------------------------------------------------------------
# a second trained model: super-resolution on synthetic images


def synthetic_images(n, size, rng):
    """Gray images in [0, 1]: a few smooth waves plus flat rectangles and discs with sharp edges."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    out = np.empty((n, 1, size, size), np.float32)
    for i in range(n):
        img = np.zeros((size, size), np.float32)
        for _ in range(3):
            fx, fy = rng.uniform(0.5, 4, 2)
            img += rng.uniform(0.05, 0.2) * np.sin(2 * np.pi * (fx * xx + fy * yy) + rng.uniform(0, 2 * np.pi))
        for _ in range(4):
            x0, y0 = rng.uniform(-0.2, 0.9, 2)
            w, h = rng.uniform(0.1, 0.5, 2)
            img[(xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h)] += rng.uniform(-0.4, 0.4)
        for _ in range(2):
            cx, cy, r = *rng.uniform(0, 1, 2), rng.uniform(0.05, 0.3)
            img[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] += rng.uniform(-0.4, 0.4)
        out[i, 0] = np.clip(img + 0.5, 0, 1)
    return out


def psnr(ref, got):
    """PSNR in dB of images in [0, 1]"""
    return float(10 * np.log10(1.0 / np.mean((np.clip(got, 0, 1) - ref) ** 2)))


def train_super_resolution(steps=200, n=256, seed=0):
    """PyTorch's tutorial network (x3) trained on synthetic 48x48 images from their 3x3 area
    averages: (model, (low_train, low_test, high_test)), the last 64 images held out."""
    from test_models import SuperResolutionNet

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    high = synthetic_images(n, 48, rng)
    low = F.avg_pool2d(torch.from_numpy(high), 3).numpy()
    model = SuperResolutionNet()
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: threads only contend on a shared machine
    try:
        for _ in range(steps):
            idx = rng.integers(0, n - 64, 16)
            loss = F.mse_loss(model(torch.from_numpy(low[idx])), torch.from_numpy(high[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval(), (low[: n - 64], low[n - 64:], high[n - 64:])


def test_super_resolution_int8_psnr(tmp_path):
    model, (low_train, low_test, high_test) = train_super_resolution()
    onnx_path = export(model, [low_test[:1]], tmp_path / "sr.onnx", names=("input",), outs=("output",))
    rep_f = liteport.convert(onnx_path, tmp_path / "f.tflite")
    rep_q = liteport.convert(onnx_path, tmp_path / "q.tflite", quantize="int8", calibration=low_train[:64],
                             eval_data=low_test)
    ref = litert(tmp_path / "f.tflite", rep_f, {"input": low_test})["output"]
    got = litert(tmp_path / "q.tflite", rep_q, {"input": low_test})["output"]
    assert_int8_only(Flat(tmp_path / "q.tflite"))
    nearest = np.repeat(np.repeat(low_test, 3, axis=2), 3, axis=3)
    p_float, p_int8, p_nearest = psnr(high_test, ref), psnr(high_test, got), psnr(high_test, nearest)
    assert p_float > p_nearest + 1, (p_float, p_nearest)  # it learned something
    assert p_float - p_int8 < 0.2, (p_float, p_int8)  # measured: 0.01 dB
    # the report's PSNR of the int8 output against the float one (peak: the float output's range)
    sim = rep_q.quantization.outputs[0].psnr_db
    actual = 20 * np.log10((ref.max() - ref.min()) / np.sqrt(np.mean((got - ref) ** 2)))
    assert abs(sim - actual) < 3, (sim, actual)


# ---------------------------------------------------------------------------------------------
# torchvision models: only int8 kernels


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18"])
def test_torchvision_int8(name, tmp_path):
    import torchvision

    torch.manual_seed(0)
    module = randomize(getattr(torchvision.models, name)(weights=None), seed=1)
    rng = np.random.default_rng(0)
    cal = rng.standard_normal((4, 3, 64, 64)).astype(np.float32)
    held = rng.standard_normal((3, 3, 64, 64)).astype(np.float32)
    onnx_path = export(module, [cal[:1]], tmp_path / "m.onnx")
    rep_f = liteport.convert(onnx_path, tmp_path / "f.tflite")
    rep = liteport.convert(onnx_path, tmp_path / "q.tflite", quantize="int8", calibration=cal, eval_data=held)
    flat = Flat(tmp_path / "q.tflite")
    assert_int8_only(flat)
    assert not rep.quantization.float_ops and not rep.warnings
    assert rep.quantization.size_ratio < 0.3
    ref = litert(tmp_path / "f.tflite", rep_f, {"x": held})["y"]
    got = litert(tmp_path / "q.tflite", rep, {"x": held})["y"]
    assert rel_err(ref, got) < 0.1
    for o in flat.ops():
        if o["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            assert o["version"] == 3
            w = o["inputs"][1]
            assert len(w["scales"]) > 1 and w["dim"] == (3 if o["op"] == "DEPTHWISE_CONV_2D" else 0)


def test_dynamic_range_hybrid_kernels(tmp_path):
    """Dynamic range: per-channel int8 weights in CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED
    (LiteRT's hybrid versions 5, 6 and 12), float activations, small weights left in float32."""
    torch.manual_seed(0)
    module = nn.Sequential(nn.Conv2d(3, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=1, groups=128),
                           nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 16), nn.ReLU(),
                           nn.Linear(16, 4))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3, 12, 12)).astype(np.float32)
    onnx_path = export(module, [x[:1]], tmp_path / "m.onnx")
    rep_f = liteport.convert(onnx_path, tmp_path / "f.tflite")
    rep = liteport.convert(onnx_path, tmp_path / "q.tflite", quantize="dynamic", eval_data=x)
    flat = Flat(tmp_path / "q.tflite")
    ops = {o["op"] + str(o["inputs"][1]["shape"][-1] if o["op"] == "FULLY_CONNECTED" else ""): o
           for o in flat.ops() if o["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")}
    assert (ops["CONV_2D"]["version"], ops["DEPTHWISE_CONV_2D"]["version"], ops["FULLY_CONNECTED128"]["version"]) \
        == (5, 6, 12)
    for key, dim, channels in (("CONV_2D", 0, 128), ("DEPTHWISE_CONV_2D", 3, 128), ("FULLY_CONNECTED128", 0, 16)):
        o = ops[key]
        w = o["inputs"][1]
        assert w["type"] == "INT8" and len(w["scales"]) == channels, (key, w["type"], len(w["scales"]))
        assert w["dim"] == dim and set(w["zero_points"]) == {0}
        assert o["inputs"][0]["type"] == "FLOAT32" and o["outputs"][0]["type"] == "FLOAT32"
    # 16 x 4 = 64 weights: below the threshold, float32 like TensorFlow's converter does
    assert ops["FULLY_CONNECTED16"]["inputs"][1]["type"] == "FLOAT32"
    assert rep.quantization.hybrid_ops == 3
    ref = litert(tmp_path / "f.tflite", rep_f, {"x": x})["y"]
    got = litert(tmp_path / "q.tflite", rep, {"x": x})["y"]
    assert rel_err(ref, got) < 0.03


# ---------------------------------------------------------------------------------------------
# float16


def test_float16_keeps_mask_constants_finite(tmp_path):
    """`(1 - mask) * 1e30` in float16 would be 0 * inf = NaN: such constants stay float32."""
    rng = np.random.default_rng(0)
    d = 32
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", d])
    m = helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", d])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", d])
    big = numpy_helper.from_array(np.full(d, 1e30, np.float32), "big")
    w = numpy_helper.from_array(rng.standard_normal((d, d)).astype(np.float32), "w")
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Sub", ["one", "mask"], ["inv"]),
        helper.make_node("Mul", ["inv", "big"], ["pen"]),
        helper.make_node("Sub", ["h", "pen"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["y"], axis=-1),
    ]
    model = helper.make_model(helper.make_graph(nodes, "masked", [x, m], [y], [big, w, one]),
                              opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "masked.onnx"
    onnx.save(model, path)
    xs = rng.standard_normal((4, d)).astype(np.float32)
    mask = (rng.random((4, d)) > 0.3).astype(np.float32)
    rep_f = liteport.convert(str(path), tmp_path / "f.tflite")
    rep = liteport.convert(str(path), tmp_path / "h.tflite", quantize="float16", eval_data={"x": xs, "mask": mask})
    assert rep.quantization.kept_float32 == 1 and rep.quantization.weights_converted == 1
    assert any("65504" in w for w in rep.warnings)
    ref = litert(tmp_path / "f.tflite", rep_f, {"x": xs, "mask": mask})["y"]
    got = litert(tmp_path / "h.tflite", rep, {"x": xs, "mask": mask})["y"]
    assert np.isfinite(got).all() and np.isfinite(ref).all()
    assert np.abs(ref - got).max() < 1e-2
    assert (got[mask == 0] == 0).all()
    ops = Flat(tmp_path / "h.tflite").ops()
    (deq,) = [o for o in ops if o["op"] == "DEQUANTIZE"]
    assert deq["inputs"][0]["type"] == "FLOAT16" and deq["version"] == 3  # the matmul weights
    consts = {t["name"]: t["type"] for o in ops for t in o["inputs"] if t and t["name"] == "big"}
    assert consts == {"big": "FLOAT32"}


# ---------------------------------------------------------------------------------------------
# calibration data: images, .npy folders, several inputs, the C command line


def _images(folder, rng, n=3, size=(20, 24)):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    arrays = []
    for k in range(n):
        img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        arrays.append(img)
        ext = ["png", "bmp", "ppm"][k % 3]
        Image.fromarray(img).save(os.path.join(folder, f"{k:02d}.{ext}"))
    return arrays


class Pix(nn.Module):
    def forward(self, x):
        return x * 1.0


def test_images_feed_the_model_like_numpy(tmp_path):
    """PNG/BMP/PPM pixels at the input size: (pixel / 255 - mean) / std, RGB, NCHW."""
    rng = np.random.default_rng(0)
    imgs = _images(tmp_path / "img", rng)
    onnx_path = export(Pix(), [np.zeros((1, 3, 20, 24), np.float32)], tmp_path / "pix.onnx")
    # a fixed input size, as image models have
    m = onnx.load(onnx_path)
    for d, v in zip(m.graph.input[0].type.tensor_type.shape.dim[1:], (3, 20, 24)):
        d.dim_value = v
    onnx.save(m, onnx_path)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    got = liteport.run(onnx_path, str(tmp_path / "img"), mean=mean, std=std)["y"]
    want = np.stack([((a / 255.0 - mean) / std).transpose(2, 0, 1) for a in imgs]).astype(np.float32)
    assert got.shape == (3, 3, 20, 24)
    assert np.abs(got - want).max() < 1e-5
    # JPEG decodes like Pillow (libjpeg) up to IDCT rounding without chroma subsampling, and close
    # to it with 4:2:0 chroma on a smooth image (we repeat chroma samples, libjpeg interpolates)
    from PIL import Image

    Image.fromarray(imgs[0]).save(tmp_path / "one.jpg", quality=95, subsampling=0)
    yy, xx = np.mgrid[0:20, 0:24]
    smooth = np.stack([128 + 100 * np.sin(xx / 5.0), 128 + 100 * np.cos(yy / 4.0), 128 + 80 * np.sin((xx + yy) / 6.0)], -1)
    Image.fromarray(smooth.astype(np.uint8)).save(tmp_path / "two.jpg", quality=95)
    for f, mean_tol, max_tol in (("one.jpg", 1.0, 3), ("two.jpg", 2.0, 24)):
        got_j = liteport.run(onnx_path, str(tmp_path / f))["y"][0] * 255
        pil = np.asarray(Image.open(tmp_path / f).convert("RGB"), np.float32).transpose(2, 0, 1)
        assert np.abs(got_j - pil).mean() < mean_tol and np.abs(got_j - pil).max() <= max_tol, f


def test_images_are_resized_and_cropped(tmp_path):
    from PIL import Image

    onnx_path = export(Pix(), [np.zeros((1, 3, 8, 8), np.float32)], tmp_path / "pix.onnx")
    m = onnx.load(onnx_path)
    for d, v in zip(m.graph.input[0].type.tensor_type.shape.dim[1:], (3, 8, 8)):
        d.dim_value = v
    onnx.save(m, onnx_path)
    # 32 x 16 (w x h): left half red, right half blue
    img = np.zeros((16, 32, 3), np.uint8)
    img[:, :16, 0] = 255
    img[:, 16:, 2] = 255
    Image.fromarray(img).save(tmp_path / "a.png")
    stretch = liteport.run(onnx_path, str(tmp_path / "a.png"))["y"][0]
    crop = liteport.run(onnx_path, str(tmp_path / "a.png"), image_crop=True)["y"][0]
    # stretched: half red, half blue; centre crop of a 2:1 image: still both halves, no resampling
    # across the edge beyond the filter's reach
    assert stretch[0, :, :3].min() > 0.99 and stretch[2, :, 5:].min() > 0.99
    assert crop[0, :, :3].min() > 0.99 and crop[2, :, 5:].min() > 0.99
    assert np.abs(stretch.sum() - crop.sum()) < 1.0


def test_several_inputs_from_sub_folders(tmp_path):
    class Two(nn.Module):
        def forward(self, a, b):
            return a * 2 + b

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((5, 4)).astype(np.float32)
    onnx_path = export(Two(), [a[:1], b[:1]], tmp_path / "two.onnx", names=("a", "b"))
    out = liteport.run(onnx_path, {"a": a, "b": b})["y"]
    assert np.allclose(out, a * 2 + b)
    out2 = liteport.run(onnx_path, [{"a": a[i:i + 1], "b": b[i:i + 1]} for i in range(5)])["y"]
    assert np.allclose(out2, a * 2 + b)
    rep = liteport.convert(onnx_path, tmp_path / "q.tflite", quantize="int8", calibration={"a": a, "b": b})
    got = litert(tmp_path / "q.tflite", rep, {"a": a, "b": b})["y"]
    assert rel_err(a * 2 + b, got) < 0.02
    # a folder without the sub-folders is refused by name
    np.save(tmp_path / "x.npy", a)
    with pytest.raises(liteport.ConversionError, match="no sub-folder for input 'a'"):
        liteport.convert(onnx_path, tmp_path / "q2.tflite", quantize="int8", calibration=str(tmp_path))
    assert not (tmp_path / "q2.tflite").exists()


def test_command_line(tmp_path, digits):
    model, (x_train, x_test, _, _) = digits
    onnx_path = export(model, [x_test[:1]], tmp_path / "digits.onnx", names=("image",), outs=("logits",))
    os.makedirs(tmp_path / "cal")
    np.save(tmp_path / "cal" / "train.npy", x_train[:100])
    out = tmp_path / "d.tflite"
    r = subprocess.run([CLI, "convert", onnx_path, "-o", str(out), "--quantize", "int8", "--calibration",
                        str(tmp_path / "cal"), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["quantization"]["mode"] == "int8" and rep["quantization"]["int8_ops"] == 5
    assert rep["quantization"]["outputs"][0]["top1_agreement"] > 0.95
    # verify against the float ONNX model fails at the default tolerance and says why
    r = subprocess.run([sys.executable, "-m", "liteport", "verify", onnx_path, str(out)], capture_output=True,
                       text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode == 1 and "quantized" in r.stderr and "--rtol" in r.stderr, r.stderr
    # liteport run (C) writes the float model's outputs, into a folder it makes ("out/": no "//")
    r = subprocess.run([CLI, "run", onnx_path, "--data", str(tmp_path / "cal"), "-o", str(tmp_path / "out") + "/"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "//" not in r.stdout and "TFLite ops 0," not in r.stdout, r.stdout
    ran = np.load(tmp_path / "out" / "logits.npy")
    # a run that fails removes the folder it made
    r = subprocess.run([CLI, "run", onnx_path, "--data", str(tmp_path / "nothing"), "-o", str(tmp_path / "out2")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "out2").exists()
    with torch.no_grad():
        assert np.abs(ran - model(torch.from_numpy(x_train[:100])).numpy()).max() < 1e-4
    # the Python command line takes the same options
    r = subprocess.run([sys.executable, "-m", "liteport", "convert", onnx_path, "-o", str(tmp_path / "p.tflite"),
                        "--quantize", "int8", "--calibration", str(tmp_path / "cal"), "--percentile", "99.99",
                        "--io-type", "uint8"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode == 0, r.stderr
    assert "quantized int8 (inputs/outputs uint8)" in r.stdout and "99.99 percentile" in r.stdout


# ---------------------------------------------------------------------------------------------
# bad input: one clear error, no output file


def _tiny(tmp_path):
    return export(ConvReluPoolLinear(), [np.zeros((1, 3, 16, 16), np.float32)], tmp_path / "m.onnx")


@pytest.mark.parametrize("case", [
    "no_calibration", "missing", "empty", "wrong_shape", "not_npy", "fortran", "truncated_png", "garbage_png",
    "progressive_jpeg", "dynamic_io", "percentile", "mean", "image_for_vector", "f16_percentile",
])
def test_bad_quantization_input(case, tmp_path):
    from PIL import Image

    onnx_path = _tiny(tmp_path)
    cal = tmp_path / "cal"
    os.makedirs(cal)
    kw = dict(quantize="int8", calibration=str(cal))
    rng = np.random.default_rng(0)
    good = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
    if case == "no_calibration":
        kw.pop("calibration")
        match = "needs calibration data"
    elif case == "missing":
        kw["calibration"] = str(tmp_path / "nowhere")
        match = "nowhere"
    elif case == "empty":
        match = "no samples"
    elif case == "wrong_shape":
        np.save(cal / "a.npy", rng.standard_normal((2, 3, 15, 16)).astype(np.float32))
        match = r"does not fit input 'x' \[\?,3,16,16\]"
    elif case == "not_npy":
        (cal / "a.npy").write_bytes(b"hello")
        match = "not a .npy file"
    elif case == "fortran":
        np.save(cal / "a.npy", np.asfortranarray(good[0]))
        match = "Fortran-order"
    elif case == "truncated_png":
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(cal / "a.png")
        data = (cal / "a.png").read_bytes()
        (cal / "a.png").write_bytes(data[: len(data) // 2])
        match = "a.png: truncated PNG"
    elif case == "garbage_png":
        (cal / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, 300, dtype=np.uint8)))
        match = "a.png"
    elif case == "progressive_jpeg":
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(cal / "a.jpg", progressive=True)
        match = "progressive JPEG is not supported"
    elif case == "dynamic_io":
        kw = dict(quantize="dynamic", io_type="int8")
        match = "need full int8"
    elif case == "percentile":
        np.save(cal / "a.npy", good)
        kw["percentile"] = 101
        match = "percentile"
    elif case == "mean":
        np.save(cal / "a.npy", good)
        kw["mean"], kw["std"] = (0.5, 0.5, 0.5), (0.0, 1.0, 1.0)
        match = "std"
    elif case == "image_for_vector":
        onnx_path = export(nn.Linear(4, 2), [np.zeros((1, 4), np.float32)], tmp_path / "lin.onnx")
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(cal / "a.png")
        match = "images feed 4-D inputs"
    elif case == "f16_percentile":
        kw = dict(quantize="float16", percentile=99.9)
        match = "percentile applies to int8"
    out = tmp_path / "out.tflite"
    with pytest.raises(liteport.ConversionError, match=match):
        liteport.convert(onnx_path, out, **kw)
    assert not out.exists()
    # the C tool says the same in one line
    if isinstance(kw.get("calibration"), str) and case not in ("percentile", "mean"):
        r = subprocess.run([CLI, "convert", onnx_path, "-o", str(out), "--quantize", "int8", "--calibration",
                            kw["calibration"]], capture_output=True, text=True)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "liteport: error:" in r.stderr, r.stderr
        assert not out.exists()


def test_quantization_under_sanitizers(tmp_path):
    """build-asan/liteport quantizes like build/liteport (byte-identical output) with images of
    every format as calibration data, and broken images (truncated, bit-flipped) give the same
    one-line error in both, with no sanitizer report."""
    import random

    from PIL import Image

    asan = os.path.join(ROOT, "build-asan", "liteport")
    assert os.path.exists(asan), f"{asan} is missing: `make test` builds it first"
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
    onnx_path = _tiny(tmp_path)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:20, 0:24]
    pix = np.stack([xx * 10, yy * 12, (xx + yy) * 5], -1).astype(np.uint8) + rng.integers(0, 20, (20, 24, 3),
                                                                                           dtype=np.uint8)
    good = tmp_path / "good"
    os.makedirs(good)
    Image.fromarray(pix).save(good / "a.png")
    Image.fromarray(pix).save(good / "b.jpg", quality=90)  # 4:2:0 chroma
    Image.fromarray(pix[..., 0]).save(good / "c.jpg", quality=90)
    Image.fromarray(pix).save(good / "d.bmp")
    Image.fromarray(pix).save(good / "e.ppm")
    Image.fromarray(pix).convert("LA").save(good / "f.png")

    def both(args):
        res = []
        for i, cli in enumerate((CLI, asan)):
            out = tmp_path / f"out{i}.tflite"
            if out.exists():
                out.unlink()
            r = subprocess.run([cli, "convert", onnx_path, "-o", str(out), "-q", *args], capture_output=True,
                               text=True, env=env)
            res.append((r, out.read_bytes() if out.exists() else None))
        (ra, a), (rb, b) = res
        assert "Sanitizer" not in rb.stderr and "runtime error" not in rb.stderr, rb.stderr[-3000:]
        assert ra.returncode == rb.returncode and ra.stderr == rb.stderr and a == b, (ra.stderr, rb.stderr[-2000:])
        return ra

    for args in (["--quantize", "int8", "--calibration", str(good), "--mean", "0.5,0.4,0.3", "--std", "1,1,1", "--crop"],
                 ["--quantize", "int8", "--calibration", str(good), "--io-type", "uint8", "--percentile", "99"],
                 ["--quantize", "float16"], ["--quantize", "dynamic"]):
        assert both(args).returncode == 0
    # broken images: a clean error each time (some bit flips land in pixel data and still decode)
    r = random.Random(0)
    errors = 0
    for name in ("a.png", "b.jpg", "d.bmp", "e.ppm"):
        data = (good / name).read_bytes()
        cases = [data[:k] for k in sorted({1, 8, 30, len(data) // 2, len(data) - 1})]
        for _ in range(6):
            b = bytearray(data)
            for _ in range(r.randint(1, 6)):
                b[r.randrange(len(b))] ^= 1 << r.randrange(8)
            cases.append(bytes(b))
        bad = tmp_path / "bad"
        os.makedirs(bad, exist_ok=True)
        for c in cases:
            for f in os.listdir(bad):
                os.unlink(bad / f)
            (bad / name).write_bytes(c)
            res = both(["--quantize", "int8", "--calibration", str(bad)])
            if res.returncode:
                errors += 1
                assert res.returncode == 1 and res.stderr.count("\n") == 1 and name in res.stderr, res.stderr
    assert errors >= 20
