"""Whole models through the whole path: torchvision classifiers, PyTorch's super-resolution
tutorial network (opset 10 and the default opset), and hand-built ONNX graphs for what PyTorch
does not emit (DepthToSpace DCR)."""
import os
import sys

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
from onnx import TensorProto, helper

import liteport

sys.path.insert(0, os.path.dirname(__file__))
from helpers import assert_verified, randomize, tflite_ops  # noqa: E402


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "mobilenet_v3_small"])
def test_torchvision_classifier(name, tmp_path):
    import torchvision

    torch.manual_seed(0)
    model = randomize(getattr(torchvision.models, name)(weights=None), seed=1)
    report = liteport.export(model, (torch.randn(1, 3, 224, 224),), tmp_path / f"{name}.tflite")
    v = assert_verified(report)
    assert sorted({c.batch for c in v.checks}) == [1, 3]
    # the input is channels-last (an Android bitmap), the logits keep their layout
    assert report.inputs[0].layout_changed and list(report.inputs[0].shape) == [-1, 224, 224, 3]
    assert list(report.outputs[0].shape) == [-1, 1000]
    assert report.transposes == 0, dict(report.tflite_ops)


class SuperResolutionNet(nn.Module):
    """The network of PyTorch's "exporting a model to ONNX" tutorial."""

    def __init__(self, upscale_factor=3):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(32, upscale_factor**2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        return self.pixel_shuffle(self.conv4(x))


@pytest.mark.parametrize("opset,exporter", [(10, "torchscript"), (None, "dynamo"), (None, "torchscript")])
def test_super_resolution(opset, exporter, tmp_path):
    torch.manual_seed(0)
    model = SuperResolutionNet().eval()
    report = liteport.export(model, (torch.randn(1, 1, 224, 224),), tmp_path / "sr.tflite", opset=opset,
                             exporter=exporter, input_names=["input"], output_names=["output"])
    assert_verified(report)
    ops = dict(report.onnx_ops)
    if opset == 10:
        # the tutorial's pixel shuffle: Reshape -> 6-D Transpose -> Reshape
        assert "DepthToSpace" not in ops and ops.get("Transpose") == 1 and ops.get("Reshape", 0) >= 2, ops
        assert report.opset == 10
    else:
        assert ops.get("DepthToSpace") == 1, ops
    assert list(report.outputs[0].onnx_shape)[1:] == [1, 672, 672]
    off_path = str(tmp_path / "sr_off.tflite")
    off = liteport.convert(report.onnx_path, off_path, no_layout_pass=True, no_fusions=True)
    assert liteport.verify(report.onnx_path, off_path, report=off).ok


def _d2s_model(mode, dynamic):
    n = "N" if dynamic else 1
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, 8, 3, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, 2, 6, 8])
    node = helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode=mode)
    g = helper.make_graph([node], "d2s", [x], [y])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space_modes(mode, tmp_path):
    m = _d2s_model(mode, dynamic=True)
    path = tmp_path / "d2s.onnx"
    onnx.save(m, path)
    report = liteport.convert(str(path), str(tmp_path / "d2s.tflite"))
    v = liteport.verify(str(path), str(tmp_path / "d2s.tflite"), report=report)
    assert v.ok, str(v)
    assert sorted({c.batch for c in v.checks}) == [1, 3]
    assert "DEPTH_TO_SPACE" in tflite_ops(report)


def test_bilinear_resize_input_is_not_a_bitmap_without_spatial_ops(tmp_path):
    """A tabular input (no spatial op) keeps its layout; an image input becomes NHWC."""
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.fc = nn.Linear(6, 4)

        def forward(self, image, table):
            return self.conv(image).mean(dim=(2, 3)) + self.fc(table)

    torch.manual_seed(0)
    report = liteport.export(M().eval(), (torch.randn(1, 3, 9, 9), torch.randn(1, 6)), tmp_path / "two.tflite",
                             input_names=["image", "table"])
    assert_verified(report)
    by_name = {i.name: i for i in report.inputs}
    assert by_name["image"].layout_changed and list(by_name["image"].shape) == [-1, 9, 9, 3]
    assert not by_name["table"].layout_changed and list(by_name["table"].shape) == [-1, 6]


def test_keep_io_layout_option(tmp_path):
    import torchvision

    torch.manual_seed(0)
    model = randomize(torchvision.models.mobilenet_v3_small(weights=None), seed=2)
    report = liteport.export(model, (torch.randn(1, 3, 96, 96),), tmp_path / "m.tflite", keep_io_layout=True)
    assert_verified(report)
    assert not report.inputs[0].layout_changed
    assert list(report.inputs[0].shape) == [-1, 3, 96, 96]
    # exactly the one transpose that turns the NCHW input into NHWC for the first convolution
    assert report.transposes == 1, dict(report.tflite_ops)


def test_digits_model_predictions_match(tmp_path, digits):
    """The built-in default model gives the same predictions in LiteRT as in PyTorch."""
    model, (_, x_test, _, y_test) = digits
    out = tmp_path / "digits.tflite"
    report = liteport.export(model, (torch.from_numpy(x_test[:1]),), out, input_names=["image"],
                             output_names=["logits"])
    assert_verified(report)
    with torch.no_grad():
        pred_torch = model(torch.from_numpy(x_test)).argmax(1).numpy()
    lite = liteport.LiteRTModel(str(out), report)
    logits = lite({"image": x_test})["logits"]
    pred_lite = logits.argmax(1)
    assert len(pred_lite) == len(y_test) == 450
    assert (pred_lite == pred_torch).all(), f"{(pred_lite != pred_torch).sum()} predictions differ"
    assert (pred_lite == y_test).mean() > 0.9
    off_path = str(tmp_path / "digits_off.tflite")
    off = liteport.convert(report.onnx_path, off_path, no_layout_pass=True, no_fusions=True)
    assert liteport.verify(report.onnx_path, off_path, report=off).ok
    pred_off = liteport.LiteRTModel(off_path, off)({"image": x_test})["logits"].argmax(1)
    assert (pred_off == pred_torch).all()
