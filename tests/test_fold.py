"""Constant folding of the lowered graph (src/passes/fold.c): TFLite ops whose inputs are all
constants are computed at conversion time by the reference interpreter; each case is checked
against onnxruntime, and the ops that must (or must not) remain are counted."""
import os
import sys

import numpy as np
from onnx import TensorProto, helper

import liteport

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_ops_movement import check, const, model, vi  # noqa: E402

F = TensorProto.FLOAT


def _ops(rep):
    return dict(rep.tflite_ops)


def test_scatter_of_constants_becomes_a_constant():
    """Swin's shifted-window mask: ScatterND into a constant (no reference kernel at the ONNX level,
    so it is lowered), then Equal/Where on the result; only the Add with the input remains."""
    idx = np.array([[1], [3]], np.int64)
    upd = np.arange(8, dtype=np.float32).reshape(2, 4) + 1
    nodes = [
        helper.make_node("ScatterND", ["base", "idx", "upd"], ["mask"]),
        helper.make_node("Equal", ["mask", "zero"], ["is0"]),
        helper.make_node("Where", ["is0", "big", "mask"], ["m2"]),
        helper.make_node("Add", ["x", "m2"], ["y"]),
    ]
    m = model(nodes, [vi("x", F, [2, 5, 4])], [vi("y", F, [2, 5, 4])],
              [const("base", np.zeros((5, 4), np.float32)), const("idx", idx), const("upd", upd),
               const("zero", np.float32(0)), const("big", np.float32(-100.0))])
    rep = check(m)
    assert _ops(rep) == {"ADD": 1}, _ops(rep)


def test_large_broadcast_of_a_constant_stays_an_op():
    """Folding never makes the file much bigger: a scalar expanded to 4M elements stays a
    BROADCAST_TO (or is absorbed by the add's broadcasting), not a 16 MB constant."""
    nodes = [helper.make_node("Expand", ["c", "shape"], ["e"]), helper.make_node("Add", ["x", "e"], ["y"])]
    m = model(nodes, [vi("x", F, [1, 64, 256, 256])], [vi("y", F, [1, 64, 256, 256])],
              [const("c", np.array([0.5], np.float32)), const("shape", np.array([1, 64, 256, 256], np.int64))])
    data = m.SerializeToString()
    rep = liteport.convert(data)
    assert rep.output_size < 1 << 20, rep.output_size
    x = np.random.default_rng(0).standard_normal((1, 64, 256, 256)).astype(np.float32)
    res = liteport.verify(data, rep.tflite, {"x": x}, report=rep)
    assert res.ok, str(res)
