"""One small PyTorch module per ONNX op that liteport lowers (issue 2's list), exported with both
exporters, converted, and run in LiteRT against onnxruntime at batch 1 and 3."""
import os
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import liteport

sys.path.insert(0, os.path.dirname(__file__))
from helpers import assert_verified, randomize, tflite_ops  # noqa: E402


class Fn(nn.Module):
    """Wraps a function of the inputs (with optional submodules) as a module."""

    def __init__(self, fn, **mods):
        super().__init__()
        self.fn = fn
        for k, m in mods.items():
            setattr(self, k, m)

    def forward(self, *xs):
        return self.fn(self, *xs)


def img(c=3, h=10, w=12):
    return (torch.randn(2, c, h, w),)


CASES = {
    # name: (module factory, example inputs factory, ONNX op that must appear)
    "conv": (lambda: nn.Conv2d(3, 8, 3, padding=1), img, "Conv"),
    "conv_stride2_pad1": (lambda: nn.Conv2d(3, 8, 3, stride=2, padding=1), img, "Conv"),
    "conv_stride2_same_like": (lambda: nn.Conv2d(3, 8, 4, stride=2, padding=1), lambda: img(3, 12, 12), "Conv"),
    "conv_dilated": (lambda: nn.Conv2d(3, 8, 3, padding=2, dilation=2), img, "Conv"),
    "conv_nobias_asym_kernel": (lambda: nn.Conv2d(3, 5, (1, 3), padding=(0, 1), bias=False), img, "Conv"),
    "conv_depthwise": (lambda: nn.Conv2d(8, 8, 3, padding=1, groups=8), lambda: img(8), "Conv"),
    "conv_depthwise_multiplier": (lambda: nn.Conv2d(4, 8, 3, padding=1, groups=4), lambda: img(4), "Conv"),
    "conv_grouped": (lambda: nn.Conv2d(8, 12, 3, padding=1, groups=4), lambda: img(8), "Conv"),
    "conv1d": (lambda: nn.Conv1d(4, 6, 3, padding=1), lambda: (torch.randn(2, 4, 20),), "Conv"),
    "convtranspose": (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2), lambda: img(4, 5, 6), "ConvTranspose"),
    "convtranspose_pad_outpad": (
        lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1), lambda: img(4, 5, 6), "ConvTranspose"),
    "convtranspose_k4s2p1": (lambda: nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1), lambda: img(4, 5, 5), "ConvTranspose"),
    "conv_batchnorm_folded": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)), img, "Conv"),
    "batchnorm_alone": (lambda: nn.Sequential(nn.ReLU(), nn.BatchNorm2d(3)), img, "BatchNormalization"),
    "relu": (lambda: nn.ReLU(), img, "Relu"),
    "relu6_clip": (lambda: nn.ReLU6(), img, "Clip"),
    "clip_general": (lambda: Fn(lambda s, x: torch.clamp(x, -0.5, 0.7)), img, "Clip"),
    "clip_min_only": (lambda: Fn(lambda s, x: torch.clamp(x, min=0.25)), img, None),
    "leakyrelu": (lambda: nn.LeakyReLU(0.2), img, "LeakyRelu"),
    "hardswish": (lambda: nn.Hardswish(), img, "HardSwish"),
    "hardsigmoid": (lambda: nn.Hardsigmoid(), img, "HardSigmoid"),
    "sigmoid": (lambda: nn.Sigmoid(), img, "Sigmoid"),
    "tanh": (lambda: nn.Tanh(), img, "Tanh"),
    "add_sub_mul_div": (
        lambda: Fn(lambda s, x, y: ((x + y) * (x - y)) / (y * y + 1.0)), lambda: img() + img(), "Div"),
    "sub_div_const_left": (
        lambda: Fn(lambda s, x: (2.0 - x) / (torch.abs(x) + 1.5)), img, "Sub"),
    "mul_channel_const": (
        lambda: Fn(lambda s, x: x * s.k, k=nn.Parameter(torch.randn(3, 1, 1))), img, "Mul"),
    "maxpool": (lambda: nn.MaxPool2d(2), img, "MaxPool"),
    "maxpool_k3s2p1": (lambda: nn.MaxPool2d(3, 2, 1), img, "MaxPool"),
    "maxpool_ceil": (lambda: nn.MaxPool2d(3, 2, ceil_mode=True), lambda: img(3, 10, 11), "MaxPool"),
    "avgpool": (lambda: nn.AvgPool2d(2), img, "AveragePool"),
    "avgpool_pad_include": (lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=True), img, "AveragePool"),
    "avgpool_pad_exclude": (lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False), img, "AveragePool"),
    "avgpool_ceil_include": (
        lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=True), lambda: img(3, 10, 11), "AveragePool"),
    "avgpool_ceil_exclude": (
        lambda: nn.AvgPool2d(3, 2, 0, ceil_mode=True, count_include_pad=False), lambda: img(3, 10, 11), "AveragePool"),
    "global_avgpool": (lambda: nn.AdaptiveAvgPool2d(1), img, None),
    "linear_gemm": (lambda: nn.Linear(12, 7), lambda: (torch.randn(2, 12),), "Gemm"),
    "linear_3d_matmul": (lambda: nn.Linear(12, 7), lambda: (torch.randn(2, 5, 12),), "MatMul"),
    "matmul_two_inputs": (lambda: Fn(lambda s, x, y: x @ y), lambda: (torch.randn(2, 4, 6), torch.randn(2, 6, 5)), "MatMul"),
    "flatten": (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 8 * 10, 5)), img, None),
    "view_batch_minus1": (
        lambda: Fn(lambda s, x: s.fc(s.conv(x).view(x.size(0), -1)), conv=nn.Conv2d(3, 4, 3), fc=nn.Linear(320, 5)), img, None),
    "reshape": (lambda: Fn(lambda s, x: x.reshape(x.shape[0], 6, 60) * 2.0), img, "Reshape"),
    "concat": (lambda: Fn(lambda s, x, y: torch.cat([x, torch.relu(y), x * 2], dim=1)), lambda: img() + img(), "Concat"),
    "transpose": (lambda: Fn(lambda s, x: x.permute(0, 2, 3, 1) + 1.0), img, "Transpose"),
    "squeeze_unsqueeze": (lambda: Fn(lambda s, x: torch.unsqueeze(x.mean(dim=1), 1).squeeze(1) * 3.0), img, None),
    "softmax_last": (lambda: nn.Softmax(dim=-1), img, "Softmax"),
    "softmax_channels": (lambda: nn.Softmax(dim=1), img, "Softmax"),
    "log_softmax": (lambda: nn.LogSoftmax(dim=-1), lambda: (torch.randn(2, 10),), "LogSoftmax"),
    "identity": (lambda: nn.Sequential(nn.Identity(), nn.Tanh(), nn.Identity()), img, None),
    "dropout_eval": (lambda: nn.Sequential(nn.Dropout(0.5), nn.ReLU(), nn.Dropout2d(0.3)), img, None),
    "constant": (lambda: Fn(lambda s, x: x + torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)), img, None),
    "pad_constant": (lambda: Fn(lambda s, x: F.pad(x, (1, 2, 0, 3), value=0.5)), img, "Pad"),
    "pad_zero": (lambda: nn.ZeroPad2d((2, 1, 1, 0)), img, "Pad"),
    "pad_reflect": (lambda: nn.ReflectionPad2d(2), img, "Pad"),
    "reduce_mean": (lambda: Fn(lambda s, x: x.mean(dim=(2, 3), keepdim=True) + x.mean(dim=1, keepdim=True)), img, "ReduceMean"),
    "pixel_shuffle_crd": (lambda: nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.PixelShuffle(2)), img, None),
    "upsample_nearest": (lambda: nn.Upsample(scale_factor=2, mode="nearest"), img, "Resize"),
    "upsample_bilinear": (lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), img, "Resize"),
    "upsample_bilinear_align": (lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), img, "Resize"),
    "interpolate_size_bilinear": (
        lambda: Fn(lambda s, x: F.interpolate(x, size=(15, 7), mode="bilinear", align_corners=False)), img, "Resize"),
}

EXPORTERS = ["dynamo", "torchscript"]


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_op(name, exporter, tmp_path):
    make_module, make_inputs, onnx_op = CASES[name]
    torch.manual_seed(0)
    module = randomize(make_module())
    inputs = make_inputs()
    report = liteport.export(module, inputs, tmp_path / f"{name}.tflite", exporter=exporter)
    assert_verified(report)
    if onnx_op is not None:
        assert onnx_op in report.onnx_ops, f"{onnx_op} not in {dict(report.onnx_ops)}"
    # dynamic batch really resizes: batch 1 and 3 were both checked
    batches = sorted({c.batch for c in report.verification.checks})
    assert batches == [1, 3], batches
    # the same numbers with the layout pass and the fusions switched off
    off_path = str(tmp_path / f"{name}_off.tflite")
    off = liteport.convert(report.onnx_path, off_path, no_layout_pass=True, no_fusions=True)
    v = liteport.verify(report.onnx_path, off_path, report=off)
    assert v.ok, str(v)


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_view_size0_static_has_no_shape_op(exporter, tmp_path):
    """x.view(x.size(0), -1) with static shapes folds to a constant reshape: no SHAPE op left."""
    torch.manual_seed(0)
    m = Fn(lambda s, x: s.fc(s.conv(x).view(x.size(0), -1)), conv=nn.Conv2d(3, 4, 3), fc=nn.Linear(320, 5))
    report = liteport.export(m, img(), tmp_path / "view.tflite", exporter=exporter, dynamic_batch=False)
    assert_verified(report)
    ops = tflite_ops(report)
    assert "SHAPE" not in ops, ops
    assert report.inputs[0].shape[0] == 2


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_two_inputs_two_outputs_signature(exporter, tmp_path):
    """Signature keys are the ONNX input and output names, in ONNX order."""
    from ai_edge_litert.interpreter import Interpreter

    m = Fn(lambda s, x, y: (x + y, x - y))
    x, y = torch.randn(2, 5), torch.randn(2, 5)
    out = tmp_path / "sumdiff.tflite"
    report = liteport.export(m, (x, y), out, exporter=exporter, input_names=["x", "y"], output_names=["sum", "diff"])
    assert_verified(report)
    it = Interpreter(model_path=str(out))
    sig = it.get_signature_list()
    assert list(sig) == ["serving_default"]
    assert sig["serving_default"]["inputs"] == ["x", "y"] or sorted(sig["serving_default"]["inputs"]) == ["x", "y"]
    assert sorted(sig["serving_default"]["outputs"]) == ["diff", "sum"]
    run = it.get_signature_runner("serving_default")
    res = run(x=x.numpy(), y=y.numpy())
    np.testing.assert_allclose(res["sum"], (x + y).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res["diff"], (x - y).numpy(), rtol=1e-6, atol=1e-6)
    assert [i.name for i in report.inputs] == ["x", "y"]
    assert [o.name for o in report.outputs] == ["sum", "diff"]
