"""NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (src/ops/loss.c) on hand-built ONNX
models: int32 targets, an ignore_index that is a real class, weights with every reduction,
dynamic batch, float64 and 2-D inputs, compared with onnxruntime in LiteRT."""
import os
import sys

import numpy as np
import pytest
from onnx import TensorProto as TP
from onnx import helper

sys.path.insert(0, os.path.dirname(__file__))
from test_ops_attention import check, make_model  # noqa: E402

RNG = np.random.default_rng(11)


@pytest.mark.parametrize("op", ["NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_ignore_index_weights_dynamic_batch(op, reduction, weighted):
    ins = [("x", TP.FLOAT, ["N", 5, 3, 2]), ("t", TP.INT32, ["N", 3, 2])]
    if weighted:
        ins.append(("w", TP.FLOAT, [5]))
    outs = ["loss", "log_prob"] if op == "SoftmaxCrossEntropyLoss" else ["loss"]
    m = make_model(op, ins, outs, {"reduction": reduction, "ignore_index": 2}, opset=13)
    feeds = []
    for n in (1, 4):
        t = RNG.integers(0, 5, (n, 3, 2)).astype(np.int32)
        t.flat[0] = 2  # at least one ignored sample
        f = {"x": RNG.standard_normal((n, 5, 3, 2)).astype(np.float32), "t": t}
        if weighted:
            f["w"] = RNG.random(5).astype(np.float32) + 0.5
        feeds.append(f)
    check(m, *feeds)


def test_nll_negative_ignore_index_out_of_class_range():
    m = make_model("NegativeLogLikelihoodLoss", [("x", TP.FLOAT, [4, 3]), ("t", TP.INT64, [4])], ["loss"],
                   {"reduction": "sum", "ignore_index": -1}, opset=22)
    check(m, {"x": RNG.standard_normal((4, 3)).astype(np.float32), "t": np.array([0, -1, 2, 1])})


def test_sce_float64_mean_2d():
    m = make_model("SoftmaxCrossEntropyLoss", [("x", TP.DOUBLE, [6, 4]), ("t", TP.INT64, [6])],
                   ["loss", "log_prob"], {"reduction": "mean"}, opset=13)
    check(m, {"x": RNG.standard_normal((6, 4)), "t": RNG.integers(0, 4, 6)})


def test_sce_constant_weights_folded_into_graph():
    w = helper.make_tensor("w", TP.FLOAT, [3], [0.2, 1.0, 3.0])
    m = make_model("SoftmaxCrossEntropyLoss", [("x", TP.FLOAT, ["N", 3]), ("t", TP.INT64, ["N"]),
                                               ("w", TP.FLOAT, [3])], ["loss"], {"reduction": "mean"},
                   opset=13, inits=[w])
    check(m, *[{"x": RNG.standard_normal((n, 3)).astype(np.float32), "t": RNG.integers(0, 3, n)} for n in (2, 5)])
