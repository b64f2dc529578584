"""Channels-last output with no stray transposes (issue 3): the layout pass removes every
TRANSPOSE from convolutional models, keeps the meaning where other converters break, and every
model still matches onnxruntime with the layout pass and the fusions switched off."""
import os
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

import liteport

sys.path.insert(0, os.path.dirname(__file__))
from helpers import assert_verified, randomize, tflite_ops  # noqa: E402


def _export(model, inputs, tmp_path, name, **kw):
    torch.manual_seed(0)
    return liteport.export(model, inputs, tmp_path / f"{name}.tflite", **kw)


class ConvFlattenLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2)
        self.fc = nn.Linear(8 * 7 * 7, 10)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


def _zoo(name):
    import torchvision

    if name == "conv_flatten_linear":
        return ConvFlattenLinear(), (1, 3, 16, 16)
    return getattr(torchvision.models, name)(weights=None), (1, 3, 224, 224)


ZERO_TRANSPOSE = ["resnet18", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x0_5", "conv_flatten_linear"]


@pytest.mark.parametrize("name", ZERO_TRANSPOSE)
def test_zero_transposes_and_same_numbers_with_passes_off(name, tmp_path):
    torch.manual_seed(0)
    model, shape = _zoo(name)
    model = randomize(model, seed=3)
    x = torch.randn(*shape)
    on = _export(model, (x,), tmp_path, name)
    assert_verified(on)
    assert on.transposes == 0, dict(on.tflite_ops)
    assert on.inputs[0].layout_changed
    off = liteport.convert(on.onnx_path, str(tmp_path / f"{name}_off.tflite"), no_layout_pass=True, no_fusions=True)
    v = liteport.verify(on.onnx_path, str(tmp_path / f"{name}_off.tflite"), report=off)
    assert v.ok, str(v)
    assert off.transposes > 0 and not off.inputs[0].layout_changed
    # fusions make the model smaller, never different
    assert on.n_tflite_ops < off.n_tflite_ops


class FlattenAfterConv(nn.Module):
    """conv output [1,32,1,3] flattened into a Linear: the order of the 96 features matters."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 32, 3)
        self.fc = nn.Linear(96, 7)

    def forward(self, x):
        y = self.conv(x)
        return self.fc(y.flatten(1)), y


def _shuffle(x, groups):
    """ShuffleNet's channel shuffle as PyTorch models write it: Reshape to 5-D, Transpose, Reshape."""
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ChannelShuffle(nn.Module):
    def __init__(self, groups=4):
        super().__init__()
        self.g = groups
        self.conv0 = nn.Conv2d(8, 16, 3, padding=1)
        self.conv1 = nn.Conv2d(16, 12, 1)

    def forward(self, x):
        return self.conv1(_shuffle(self.conv0(x), self.g))


class ConstOnTheLeft(nn.Module):
    """Sub and Div with a lower-rank constant on the left (operand order must survive)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.register_buffer("c", torch.tensor([[1.5, -2.0, 3.0, 0.5, 1.0, 2.0, -1.0, 4.0]]))  # [1, W]
        self.register_buffer("k", torch.tensor([2.0, 3.0, -1.0, 0.25]).view(4, 1, 1))  # [C,1,1]

    def forward(self, x):
        y = torch.relu(self.conv(x)) + 0.5
        return self.c - y, self.k / y


class ReshapeThenChannelMul(nn.Module):
    """A Reshape from [1,C,64] to [1,C,8,8], then a conv whose output is scaled by a [C,1,1]."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(6, 6, 3, padding=1)
        self.register_buffer("scale", torch.arange(1.0, 7.0).view(6, 1, 1))

    def forward(self, x):
        y = x.reshape(x.shape[0], 6, 8, 8)
        return self.conv(y) * self.scale


class Gate(nn.Module):
    """sigmoid(conv(global_avg_pool(x))) expanded and multiplied back onto x."""

    def __init__(self):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        x = self.conv0(x)
        g = torch.sigmoid(self.fc(x.mean(dim=(2, 3), keepdim=True)))
        return x * g.expand_as(x)


class Conv1dAudio(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(1, 8, 9, stride=2, padding=4)
        self.c2 = nn.Conv1d(8, 4, 3, padding=1)

    def forward(self, x):
        return self.c2(torch.relu(self.c1(x)))


class SplitBeforeConvs(nn.Module):
    """A ShuffleNet v2 unit as the first layer: the input is split in two before any conv reads it."""

    def __init__(self):
        super().__init__()
        self.branch = nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, groups=4))
        self.head = nn.Conv2d(8, 6, 1)

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        return self.head(_shuffle(torch.cat([a, self.branch(b)], 1), 2))


CASES = {
    "split_before_convs": (SplitBeforeConvs, (1, 8, 10, 10), 0),
    "flatten_after_conv_1x3": (FlattenAfterConv, (1, 3, 3, 5), None),
    "channel_shuffle": (ChannelShuffle, (1, 8, 6, 6), 0),
    "const_on_the_left": (ConstOnTheLeft, (1, 3, 5, 8), 0),
    "reshape_then_channel_mul": (ReshapeThenChannelMul, (1, 6, 64), None),
    "gate": (Gate, (1, 3, 12, 12), 0),
    "conv1d_audio": (Conv1dAudio, (1, 1, 400), None),
}


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_cases_that_break_converters(name, exporter, tmp_path):
    cls, shape, want_transposes = CASES[name]
    torch.manual_seed(0)
    model = cls().eval()
    report = _export(model, (torch.randn(*shape),), tmp_path, name, exporter=exporter)
    assert_verified(report)
    if want_transposes is not None:
        assert report.transposes == want_transposes, dict(report.tflite_ops)
    off = liteport.convert(report.onnx_path, str(tmp_path / "off.tflite"), no_layout_pass=True, no_fusions=True)
    v = liteport.verify(report.onnx_path, str(tmp_path / "off.tflite"), report=off)
    assert v.ok, str(v)
    if name == "conv1d_audio":
        # one channel: the input keeps its ONNX layout [N, 1, samples]
        assert not report.inputs[0].layout_changed
        assert list(report.inputs[0].shape) == [-1, 1, 400]
    if name == "split_before_convs":
        # the input feeds convolutions through the split: it becomes channels-last
        assert report.inputs[0].layout_changed and list(report.inputs[0].perm) == [0, 2, 3, 1]
    if name == "flatten_after_conv_1x3":
        # the Linear reads NHWC directly (its weights are permuted), the conv output is NHWC
        assert report.transposes == 0, dict(report.tflite_ops)


def test_layout_changes_are_reported(tmp_path):
    """Every input and output whose layout changed is listed with its permutation."""
    model = Gate().eval()
    report = _export(model, (torch.randn(1, 3, 12, 12),), tmp_path, "gate")
    assert_verified(report)
    assert report.inputs[0].layout_changed and list(report.inputs[0].perm) == [0, 2, 3, 1]
    assert report.outputs[0].layout_changed and list(report.outputs[0].perm) == [0, 2, 3, 1]
    assert list(report.outputs[0].shape) == [-1, 12, 12, 8]
    kept = liteport.convert(report.onnx_path, str(tmp_path / "kept.tflite"), keep_io_layout=True)
    assert not kept.inputs[0].layout_changed and not kept.outputs[0].layout_changed
    assert list(kept.outputs[0].shape) == [-1, 8, 12, 12]


def test_hardswish_pattern_and_fused_activations(tmp_path):
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)
            self.conv2 = nn.Conv2d(8, 8, 3)

        def forward(self, x):
            y = self.conv(x)
            y = y * torch.clamp(y + 3.0, 0.0, 6.0) / 6.0  # hand-written hard swish
            return torch.relu(self.conv2(y))

    report = _export(M().eval(), (torch.randn(1, 3, 12, 12),), tmp_path, "hs")
    assert_verified(report)
    ops = tflite_ops(report)
    assert ops.get("HARD_SWISH") == 1 and "RELU" not in ops and "RELU6" not in ops and "DIV" not in ops, ops
    assert ops == {"CONV_2D": 2, "HARD_SWISH": 1}, ops


def test_identical_constants_stored_once(tmp_path):
    """Two initializers with the same bytes become one TFLite buffer (exporters often merge them
    already, so the ONNX model is written by hand)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 4, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w1"), numpy_helper.from_array(w.copy(), "w2"),
             numpy_helper.from_array(b, "b1"), numpy_helper.from_array(b.copy(), "b2")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Conv", ["r", "w2", "b2"], ["y"], pads=[1, 1, 1, 1])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    path = tmp_path / "dedup.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    report = liteport.convert(str(path), str(tmp_path / "dedup.tflite"))
    assert liteport.verify(str(path), str(tmp_path / "dedup.tflite"), report=report).ok
    assert report.shared_buffers == 2  # the second weight and bias reuse the first ones
    assert report.output_size < w.nbytes + b.nbytes + 4096


class SelfAttention(nn.Module):
    """nn.MultiheadAttention as ViT uses it (batch first): PyTorch computes it sequence-first, with
    the heads split by views and moved by transposes."""

    def __init__(self, layers=2):
        super().__init__()
        self.mha = nn.ModuleList(nn.MultiheadAttention(32, 4, batch_first=True) for _ in range(layers))
        self.ln = nn.ModuleList(nn.LayerNorm(32) for _ in range(layers))

    def forward(self, x):
        for mha, ln in zip(self.mha, self.ln):
            y, _ = mha(x, x, x, need_weights=False)
            x = ln(x + y)
        return x


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_attention_views_compose_into_one_transpose_each(exporter, tmp_path):
    """The chains batch-first -> sequence-first -> heads split -> transpose(0, 1) become one
    transpose each for q, k and v, and the output projection reads the heads merged back in
    batch-first order: 4 TRANSPOSE per attention layer (6 without the chain rewrite), with a
    dynamic batch, matching onnxruntime at batch 1 and 3."""
    torch.manual_seed(0)
    model = SelfAttention().eval()
    report = _export(model, (torch.randn(1, 10, 32),), tmp_path, "mha", exporter=exporter)
    assert_verified(report)
    assert report.transposes == 4 * 2, dict(report.tflite_ops)
    assert report.tflite_ops.get("BATCH_MATMUL", 0) == 2 * 2, dict(report.tflite_ops)


class RelativePositionBias(nn.Module):
    """Swin's relative position bias: a learned table gathered by a constant index, viewed and
    permuted to [heads, N, N], added to attention-like scores."""

    def __init__(self, window=4, heads=3):
        super().__init__()
        n = window * window
        self.table = nn.Parameter(torch.randn((2 * window - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("index", (rel[..., 0] * (2 * window - 1) + rel[..., 1]).flatten())
        self.n, self.heads = n, heads

    def forward(self, x):
        bias = self.table[self.index].view(self.n, self.n, self.heads).permute(2, 0, 1)
        return torch.softmax(x + 16 * torch.sigmoid(bias), dim=-1)


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_bias_computed_from_constants_is_folded(exporter, tmp_path):
    """Everything the bias is computed from is a constant: the .tflite stores the bias, so only
    the ADD and the SOFTMAX run (the gather, view, permute and sigmoid are folded)."""
    torch.manual_seed(0)
    model = RelativePositionBias().eval()
    report = _export(model, (torch.randn(1, 3, 16, 16),), tmp_path, "bias", exporter=exporter)
    assert_verified(report)
    assert dict(report.tflite_ops) == {"ADD": 1, "SOFTMAX": 1}, dict(report.tflite_ops)


class ConcatRelu(nn.Module):
    """ReLU after a concatenation (a grouped conv split by hand, Inception-style branches)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(4, 6, 3, padding=1)
        self.b = nn.Conv2d(4, 6, 1)

    def forward(self, x):
        return torch.relu(torch.cat([self.a(x), self.b(x)], 1)) - 0.1


def test_relu_after_concatenation_stays_an_op(tmp_path):
    """LiteRT's CONCATENATION refuses a fused activation when the interpreter is prepared, so the
    RELU is not fused into it (it was, and LiteRT refused the model)."""
    torch.manual_seed(0)
    report = _export(ConcatRelu().eval(), (torch.randn(1, 4, 8, 8),), tmp_path, "concat_relu")
    assert_verified(report)
    assert report.tflite_ops.get("RELU") == 1 and report.tflite_ops.get("CONCATENATION") == 1, dict(report.tflite_ops)


class ShuffleUnits(nn.Module):
    """A stem conv and two ShuffleNet v2 units: each shuffle follows a concat and feeds a split."""

    def __init__(self, c=12):
        super().__init__()
        h = c // 2
        self.stem = nn.Conv2d(3, c, 3, padding=1)
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(h, h, 1), nn.ReLU(), nn.Conv2d(h, h, 3, padding=1, groups=h), nn.Conv2d(h, h, 1))
            for _ in range(2))

    def forward(self, x):
        x = self.stem(x)
        for b in self.branches:
            a, r = x.chunk(2, dim=1)
            x = _shuffle(torch.cat([a, b(r)], 1), 2)
        return x.mean(dim=(2, 3))


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_channel_shuffle_after_concat_is_concatenation_and_gather(exporter, tmp_path):
    """The layout pass writes the shuffle as an interleaving concatenation of unit-axis reshapes;
    the fusions turn it into a channel CONCATENATION and a GATHER of the interleaved order, which
    LiteRT runs faster (bench/shuffle.py). With fusions off the interleaving form stays. Both match
    onnxruntime at batch 1 and 3."""
    torch.manual_seed(0)
    report = _export(ShuffleUnits().eval(), (torch.randn(1, 3, 10, 10),), tmp_path, "units", exporter=exporter)
    assert_verified(report)
    ops = tflite_ops(report)
    assert report.transposes == 0 and ops.get("GATHER") == 2 and ops.get("CONCATENATION") == 2, ops
    assert ops.get("RESHAPE", 0) <= 1, ops  # the one that writes the graph output after MEAN
    plain = liteport.convert(report.onnx_path, str(tmp_path / "plain.tflite"), no_fusions=True)
    v = liteport.verify(report.onnx_path, str(tmp_path / "plain.tflite"), report=plain)
    assert v.ok, str(v)
    pops = tflite_ops(plain)
    assert plain.transposes == 0 and "GATHER" not in pops and pops.get("CONCATENATION") == 2, pops
    assert pops.get("RESHAPE", 0) >= 6, pops


def _interleave_model(dims, k, a, dynamic_batch):
    """k inputs of shape dims, each unsqueezed at axis a, concatenated on a and reshaped back so that
    axes a-1 and a merge: the inputs interleaved along axis a-1."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    shape = ["N"] + dims[1:] if dynamic_batch else dims
    ins = [helper.make_tensor_value_info(f"x{j}", TensorProto.FLOAT, shape) for j in range(k)]
    out = dims[:a - 1] + [dims[a - 1] * k] + dims[a:]
    if dynamic_batch:
        out[0] = -1
    inits = [numpy_helper.from_array(np.array([a], np.int64), "axis"),
             numpy_helper.from_array(np.array(out, np.int64), "shape")]
    nodes = [helper.make_node("Unsqueeze", [f"x{j}", "axis"], [f"u{j}"]) for j in range(k)]
    nodes += [helper.make_node("Concat", [f"u{j}" for j in range(k)], ["c"], axis=a),
              helper.make_node("Reshape", ["c", "shape"], ["r"]), helper.make_node("Relu", ["r"], ["y"])]
    g = helper.make_graph(nodes, "interleave", ins, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_interleaving_concatenations_of_random_shapes(tmp_path):
    """The CONCATENATION + GATHER rewrite on random ranks, axes, input counts and sizes (some with a
    dynamic batch): every case becomes a GATHER and matches onnxruntime."""
    import onnx

    rng = np.random.default_rng(7)
    cases = 0
    while cases < 24:
        r = int(rng.integers(1, 5))
        dims = [int(v) for v in rng.integers(1, 6, size=r)]
        k, a = int(rng.integers(2, 6)), int(rng.integers(1, r + 1))
        dynamic = bool(rng.random() < 0.3) and a > 1
        path = tmp_path / f"i{cases}.onnx"
        onnx.save(_interleave_model(dims, k, a, dynamic), path)
        rep = liteport.convert(path, tmp_path / f"i{cases}.tflite")
        ops = tflite_ops(rep)
        assert ops.get("GATHER") == 1 and ops.get("CONCATENATION") == 1, (dims, k, a, dynamic, ops)
        v = liteport.verify(path, tmp_path / f"i{cases}.tflite", report=rep)
        assert v.ok, (dims, k, a, dynamic, str(v))
        cases += 1
