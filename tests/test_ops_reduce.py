"""Reductions, arg/top-k, scans, selection, softmax family, Einsum and Det: hand-built ONNX models
for the attribute combinations and edge cases the ONNX backend suite misses (dynamic batch,
negative axes, constant axes, integer types, runtime scalars), converted with liteport and checked
against onnxruntime (liteport.verify, or an exact comparison where infinities are expected)."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

import liteport

NP2ONNX = {np.dtype(np.float32): TP.FLOAT, np.dtype(np.float64): TP.DOUBLE, np.dtype(np.int32): TP.INT32,
           np.dtype(np.int64): TP.INT64, np.dtype(np.bool_): TP.BOOL, np.dtype(np.uint8): TP.UINT8,
           np.dtype(np.int8): TP.INT8, np.dtype(np.float16): TP.FLOAT16}


def model(nodes, inputs, outputs, inits=(), opset=18):
    """inputs: [(name, np dtype, shape with str for dynamic dims)], outputs: [(name, np dtype or None)]"""
    ins = [h.make_tensor_value_info(n, NP2ONNX[np.dtype(t)], s) for n, t, s in inputs]
    outs = [h.make_tensor_value_info(n, NP2ONNX[np.dtype(t)] if t is not None else TP.UNDEFINED, None)
            for n, t in outputs]
    g = h.make_graph(nodes, "g", ins, outs, [nh.from_array(np.asarray(v), k) for k, v in inits])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def ort_run(m, feeds):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)


def check(m, feeds, rtol=1e-4, exact=False):
    """Convert, then compare LiteRT with onnxruntime on `feeds`; returns the report."""
    rep = liteport.convert(m.SerializeToString())
    if exact:
        ref = ort_run(m, feeds)
        got = liteport.LiteRTModel(rep.tflite, rep)(feeds)
        for o, r in zip(m.graph.output, ref):
            g = got[o.name]
            assert g.dtype == r.dtype, (o.name, g.dtype, r.dtype)
            assert g.shape == r.shape, (o.name, g.shape, r.shape)
            np.testing.assert_allclose(g, r, rtol=rtol, atol=0)
        return rep
    v = liteport.verify(m.SerializeToString(), rep.tflite, inputs=feeds, report=rep, rtol=rtol)
    assert v.ok, str(v)
    # dtypes are ONNX's (e.g. int64 indices)
    ref = ort_run(m, feeds)
    got = liteport.LiteRTModel(rep.tflite, rep)(feeds)
    for o, r in zip(m.graph.output, ref):
        assert got[o.name].dtype == r.dtype, (o.name, got[o.name].dtype, r.dtype)
    return rep


rng = np.random.default_rng(0)


def randn(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- reductions

REDUCE_OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
              "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"]


@pytest.mark.parametrize("op", REDUCE_OPS)
@pytest.mark.parametrize("axes,keep", [([1], 1), ([-1], 0), ([0, 2], 0), (None, 1), (None, 0)])
def test_reduce_const_axes_dynamic_batch(op, axes, keep):
    x = np.abs(randn(3, 4, 5)) + 0.5 if op == "ReduceLogSum" else randn(3, 4, 5)
    ins = ["x"] + (["axes"] if axes is not None else [])
    inits = [("axes", np.array(axes, np.int64))] if axes is not None else []
    m = model([h.make_node(op, ins, ["y"], keepdims=keep)], [("x", np.float32, ["N", 4, 5])], [("y", np.float32)],
              inits)
    check(m, {"x": x})


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceMax", "ReduceL2", "ReduceLogSumExp"])
def test_reduce_axes_attribute_opset13(op):
    m = model([h.make_node(op, ["x"], ["y"], axes=[-2], keepdims=0)], [("x", np.float32, [2, 3, 4])],
              [("y", np.float32)], opset=13)
    check(m, {"x": randn(2, 3, 4)})


def test_reduce_sum_axes_runtime_input():
    m = model([h.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)],
              [("x", np.float32, [2, 3, 4]), ("axes", np.int64, [1])], [("y", np.float32)], opset=13)
    check(m, {"x": randn(2, 3, 4), "axes": np.array([-1], np.int64)})


@pytest.mark.parametrize("op", ["ReduceSumSquare", "ReduceL1", "ReduceLogSumExp", "ReduceMax"])
def test_reduce_noop_with_empty_axes(op):
    # noop: the reduction step is skipped, the elementwise parts stay (ONNX's reference)
    m = model([h.make_node(op, ["x"], ["y"], keepdims=1, noop_with_empty_axes=1)], [("x", np.float32, ["N", "T", 3])],
              [("y", np.float32)])
    check(m, {"x": randn(2, 4, 3)})


@pytest.mark.parametrize("op,dt", [("ReduceSum", np.int32), ("ReduceMax", np.int64), ("ReduceProd", np.int32),
                                   ("ReduceMin", np.int8), ("ReduceL1", np.int32), ("ReduceSumSquare", np.int64)])
def test_reduce_integer_types(op, dt):
    x = rng.integers(-5, 6, (3, 4)).astype(dt)
    m = model([h.make_node(op, ["x", "axes"], ["y"], keepdims=0)], [("x", dt, [3, 4])], [("y", dt)],
              [("axes", np.array([1], np.int64))])
    check(m, {"x": x}, exact=True)


@pytest.mark.parametrize("op,dt", [("ReduceLogSum", np.int32), ("ReduceLogSumExp", np.int64), ("ReduceL2", np.int32)])
def test_reduce_float_math_on_integers(op, dt):
    # computed in float and truncated back (onnxruntime does the same)
    x = rng.integers(1, 9, (3, 4)).astype(dt)
    m = model([h.make_node(op, ["x", "axes"], ["y"], keepdims=1)], [("x", dt, [3, 4])], [("y", dt)],
              [("axes", np.array([1], np.int64))])
    check(m, {"x": x}, exact=True)


def test_reduce_max_bool():
    m = model([h.make_node("ReduceMax", ["x", "axes"], ["y"], keepdims=1)], [("x", np.bool_, [3, 4])],
              [("y", np.bool_)], [("axes", np.array([1], np.int64))], opset=20)
    check(m, {"x": rng.random((3, 4)) > 0.7}, exact=True)


@pytest.mark.parametrize("op,expected", [("ReduceMax", -np.inf), ("ReduceMin", np.inf), ("ReduceProd", 1.0),
                                         ("ReduceSum", 0.0), ("ReduceLogSumExp", -np.inf)])
def test_reduce_empty_set_identity(op, expected):
    # TFLite's REDUCE_MAX would start from the lowest finite float: the identity is folded
    m = model([h.make_node(op, ["x", "axes"], ["y"], keepdims=1)], [("x", np.float32, [2, 0, 3])],
              [("y", np.float32)], [("axes", np.array([1], np.int64))])
    rep = liteport.convert(m.SerializeToString())
    got = liteport.LiteRTModel(rep.tflite, rep)({"x": np.zeros((2, 0, 3), np.float32)})["y"]
    assert got.shape == (2, 1, 3)
    assert np.all(got == expected)


def test_reduce_prod_folds_shape_arithmetic():
    # Flatten-like: the product of trailing dims is computed at conversion time
    nodes = [h.make_node("Shape", ["x"], ["s"], start=1), h.make_node("ReduceProd", ["s"], ["p"], keepdims=1),
             h.make_node("Concat", ["minus1", "p"], ["shape"], axis=0), h.make_node("Reshape", ["x", "shape"], ["y"])]
    m = model(nodes, [("x", np.float32, ["N", 3, 4])], [("y", np.float32)], [("minus1", np.array([-1], np.int64))])
    rep = check(m, {"x": randn(2, 3, 4)})
    assert "REDUCE_PROD" not in dict(rep.tflite_ops)


# ---------------------------------------------------------------- ArgMax / ArgMin / TopK

@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis,keep,last", [(1, 1, 0), (-1, 0, 1), (0, 0, 0), (2, 1, 1)])
def test_argmax_ties(op, axis, keep, last):
    x = rng.integers(0, 3, (4, 5, 6)).astype(np.float32)  # many ties
    m = model([h.make_node(op, ["x"], ["y"], axis=axis, keepdims=keep, select_last_index=last)],
              [("x", np.float32, [4, 5, 6])], [("y", np.int64)], opset=13)
    check(m, {"x": x}, exact=True)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("keep,last", [(1, 0), (0, 1)])
def test_argmax_int64_exact(op, keep, last):
    # beyond int32: a cast would reorder these values; ties test first/last index
    big = 2 ** 40
    x = np.array([[big + 1, big + 2, big + 2, -big], [3, -big, 3, -big]], np.int64)
    m = model([h.make_node(op, ["x"], ["y"], axis=1, keepdims=keep, select_last_index=last)],
              [("x", np.int64, [2, 4])], [("y", np.int64)], opset=13)
    check(m, {"x": x}, exact=True)


def test_argmax_int32_dynamic_batch():
    m = model([h.make_node("ArgMax", ["x"], ["y"], axis=-1, keepdims=0)], [("x", np.int32, ["N", 7])],
              [("y", np.int64)], opset=13)
    check(m, {"x": rng.integers(-100, 100, (3, 7)).astype(np.int32)}, exact=True)


@pytest.mark.parametrize("largest", [1, 0])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_topk_axes_constant_k(largest, axis):
    x = randn(4, 5, 6)
    m = model([h.make_node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest, sorted=1)],
              [("x", np.float32, [4, 5, 6])], [("v", np.float32), ("i", np.int64)], [("k", np.array([3], np.int64))])
    check(m, {"x": x}, exact=True)


@pytest.mark.parametrize("dt", [np.int32, np.int64, np.uint8])
def test_topk_smallest_integers_extremes(dt):
    info = np.iinfo(dt)
    x = np.array([[info.min, 3, info.max, 0, 3, info.min]], dt)  # -x would overflow at min
    m = model([h.make_node("TopK", ["x", "k"], ["v", "i"], axis=1, largest=0)], [("x", dt, [1, 6])],
              [("v", dt), ("i", np.int64)], [("k", np.array([4], np.int64))])
    check(m, {"x": x}, exact=True)


@pytest.mark.parametrize("largest", [1, 0])
def test_topk_runtime_k_dynamic_dims(largest):
    m = model([h.make_node("TopK", ["x", "k"], ["v", "i"], axis=-1, largest=largest)],
              [("x", np.float32, ["N", "T", 8]), ("k", np.int64, [1])], [("v", np.float32), ("i", np.int64)])
    check(m, {"x": randn(2, 3, 8), "k": np.array([5], np.int64)}, exact=True)


def test_topk_opset1_attribute():
    m = model([h.make_node("TopK", ["x"], ["v", "i"], k=2)], [("x", np.float32, [3, 5])],
              [("v", np.float32), ("i", np.int64)], opset=1)
    m.ir_version = 3
    check(m, {"x": randn(3, 5)}, exact=True)


# ---------------------------------------------------------------- scans

@pytest.mark.parametrize("op", ["CumSum", "CumProd"])
@pytest.mark.parametrize("excl,rev", [(0, 0), (1, 0), (0, 1), (1, 1)])
def test_scan_const_axis(op, excl, rev):
    x = (rng.random((2, 5, 3)) + 0.5).astype(np.float32)
    m = model([h.make_node(op, ["x", "axis"], ["y"], exclusive=excl, reverse=rev)],
              [("x", np.float32, [2, 5, 3])], [("y", np.float32)], [("axis", np.array(-2, np.int64))], opset=26)
    check(m, {"x": x})


@pytest.mark.parametrize("op", ["CumSum", "CumProd"])
def test_scan_runtime_axis_rank3(op):
    x = (rng.random((2, 3, 4)) + 0.5).astype(np.float32)
    m = model([h.make_node(op, ["x", "axis"], ["y"], reverse=1)],
              [("x", np.float32, [2, 3, 4]), ("axis", np.int32, [])], [("y", np.float32)], opset=26)
    for a in (0, 1, 2, -1, -3):
        check(m, {"x": x, "axis": np.array(a, np.int32)})


def test_cumsum_int64_dynamic_batch():
    m = model([h.make_node("CumSum", ["x", "axis"], ["y"])], [("x", np.int64, ["N", 6])], [("y", np.int64)],
              [("axis", np.array([1], np.int32))], opset=14)
    check(m, {"x": rng.integers(-9, 9, (3, 6)).astype(np.int64)}, exact=True)


def test_cumprod_exact_with_zero_and_negative():
    # exp(cumsum(log|x|)) would fail on zeros and signs: the unrolled product is exact
    x = np.array([[2, -3, 0, 4, -1]], np.float32)
    m = model([h.make_node("CumProd", ["x", "axis"], ["y"], exclusive=1)], [("x", np.float32, [1, 5])],
              [("y", np.float32)], [("axis", np.array(1, np.int64))], opset=26)
    check(m, {"x": x}, rtol=0, exact=True)


# ---------------------------------------------------------------- OneHot / NonZero / Trilu / Compress

@pytest.mark.parametrize("axis", [0, 1, -1])
def test_onehot_constant_depth(axis):
    idx = np.array([[0, -1, 3], [7, -8, 2]], np.int64)  # negative wrap, out of range
    m = model([h.make_node("OneHot", ["i", "depth", "values"], ["y"], axis=axis)], [("i", np.int64, [2, 3])],
              [("y", np.int64)], [("depth", np.array(5, np.int64)), ("values", np.array([-2, 9], np.int64))],
              opset=11)
    check(m, {"i": idx}, exact=True)


def test_onehot_float_indices_runtime_values():
    m = model([h.make_node("OneHot", ["i", "depth", "values"], ["y"])],
              [("i", np.float32, [4]), ("values", np.float32, [2])], [("y", np.float32)],
              [("depth", np.array([4.0], np.float32))], opset=11)
    check(m, {"i": np.array([0.7, 3.2, -1.0, 2.0], np.float32), "values": np.array([0.5, 2.5], np.float32)})


def test_nonzero_float_runtime():
    x = np.array([[0, 1.5, 0], [2, 0, -3]], np.float32)
    m = model([h.make_node("NonZero", ["x"], ["y"])], [("x", np.float32, [2, 3])], [("y", np.int64)], opset=13)
    check(m, {"x": x}, exact=True)


def test_nonzero_constant_folds():
    nodes = [h.make_node("NonZero", ["c"], ["nz"]), h.make_node("Cast", ["nz"], ["nzf"], to=TP.FLOAT),
             h.make_node("Add", ["x", "nzf"], ["y"])]
    m = model(nodes, [("x", np.float32, [2, 3])], [("y", np.float32)],
              [("c", np.array([1, 0, 2, 3], np.int32))], opset=13)
    rep = check(m, {"x": randn(1, 3)[:, :3].repeat(2, 0)})
    assert "WHERE" not in dict(rep.tflite_ops)


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, -1, 2])
def test_trilu_batched_with_inf(upper, k):
    x = randn(2, 4, 5)
    x[0, 3, 0] = np.inf
    x[1, 0, 4] = -np.inf  # masked-out infinities must become 0, not NaN
    ins = ["x"] + (["k"] if k is not None else [])
    inits = [("k", np.array(k, np.int64))] if k is not None else []
    m = model([h.make_node("Trilu", ins, ["y"], upper=upper)], [("x", np.float32, ["N", 4, 5])],
              [("y", np.float32)], inits, opset=14)
    check(m, {"x": x}, exact=True, rtol=0)


def test_trilu_runtime_k():
    m = model([h.make_node("Trilu", ["x", "k"], ["y"], upper=0)], [("x", np.int32, [3, 4]), ("k", np.int64, [])],
              [("y", np.int32)], opset=14)
    for k in (-2, 0, 1, 5):
        check(m, {"x": rng.integers(1, 9, (3, 4)).astype(np.int32), "k": np.array(k, np.int64)}, exact=True)


def test_causal_mask_and_positions_fold():
    # Trilu of a constant and CumSum of a constant are folded: no SELECT_V2 / CUMSUM remains
    nodes = [h.make_node("Trilu", ["ones", "k"], ["mask"], upper=1),
             h.make_node("CumSum", ["pos_in", "axis"], ["pos"], exclusive=1, reverse=1),
             h.make_node("Cast", ["pos"], ["posf"], to=TP.FLOAT),
             h.make_node("Add", ["x", "mask"], ["y0"]), h.make_node("Add", ["y0", "posf"], ["y"])]
    m = model(nodes, [("x", np.float32, ["N", 4, 4])], [("y", np.float32)],
              [("ones", np.ones((4, 4), np.float32) * 3), ("k", np.array(1, np.int64)),
               ("pos_in", np.array([1, 2, 0, 5], np.int64)), ("axis", np.array(0, np.int32))], opset=14)
    rep = check(m, {"x": randn(2, 4, 4)})
    ops = dict(rep.tflite_ops)
    assert "SELECT_V2" not in ops and "CUMSUM" not in ops, ops


@pytest.mark.parametrize("axis", [None, 0, -1])
def test_compress_constant_condition(axis):
    cond = np.array([True, False, True, True], np.bool_)
    kw = {} if axis is None else {"axis": axis}
    m = model([h.make_node("Compress", ["x", "c"], ["y"], **kw)], [("x", np.float32, [4, 4])],
              [("y", np.float32)], [("c", cond)], opset=11)
    rep = check(m, {"x": randn(4, 4)})
    assert "WHERE" not in dict(rep.tflite_ops)


def test_compress_runtime_condition_longer_than_axis():
    m = model([h.make_node("Compress", ["x", "c"], ["y"], axis=1)], [("x", np.float32, [2, 3]), ("c", np.bool_, [5])],
              [("y", np.float32)], opset=11)
    check(m, {"x": randn(2, 3), "c": np.array([1, 0, 1, 1, 1], np.bool_)})


def test_unique_constant_folds():
    nodes = [h.make_node("Unique", ["c"], ["u", "idx", "inv", "cnt"], sorted=1),
             h.make_node("Cast", ["cnt"], ["cf"], to=TP.FLOAT), h.make_node("Add", ["x", "u"], ["y0"]),
             h.make_node("Add", ["y0", "cf"], ["y"])]
    m = model(nodes, [("x", np.float32, [3])], [("y", np.float32)],
              [("c", np.array([4.0, 1.0, 4.0, 2.0, 1.0, 4.0], np.float32))], opset=11)
    check(m, {"x": randn(3)})


@pytest.mark.parametrize("sorted_", [1, 0])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_unique_runtime(sorted_, axis):
    x = rng.integers(0, 3, (4, 3, 2)).astype(np.int64)
    x[:, 2] = x[:, 0]  # repeated slices along axis 1
    x[3] = x[1]        # and along axis 0
    kw = {} if axis is None else {"axis": axis}
    outs = [("u", np.int64), ("idx", np.int64), ("inv", np.int64), ("cnt", np.int64)]
    m = model([h.make_node("Unique", ["x"], [o for o, _ in outs], sorted=sorted_, **kw)],
              [("x", np.int64, [4, 3, 2])], outs, opset=11)
    check(m, {"x": x}, exact=True)


def test_unique_runtime_float_lexicographic():
    x = np.array([[2.0, -1.0], [1.5, 3.0], [2.0, -1.0], [1.5, -2.0], [-0.5, 9.0]], np.float32)
    outs = [("u", np.float32), ("idx", np.int64), ("inv", np.int64), ("cnt", np.int64)]
    m = model([h.make_node("Unique", ["x"], [o for o, _ in outs], axis=0)], [("x", np.float32, [5, 2])], outs,
              opset=11)
    check(m, {"x": x}, exact=True)


def test_unique_runtime_too_large_unsupported():
    m = model([h.make_node("Unique", ["x"], ["u"])], [("x", np.float32, [4096])], [("u", np.float32)], opset=11)
    with pytest.raises(liteport.ConversionError) as e:
        liteport.convert(m.SerializeToString())
    assert e.value.status == "unsupported"


def test_reverse_sequence_rank3():
    m = model([h.make_node("ReverseSequence", ["x", "lens"], ["y"], batch_axis=1, time_axis=0)],
              [("x", np.float32, [5, 3, 2]), ("lens", np.int64, [3])], [("y", np.float32)], opset=10)
    check(m, {"x": randn(5, 3, 2), "lens": np.array([5, 1, 3], np.int64)}, exact=True)


# ---------------------------------------------------------------- softmax family

@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("opset,axis", [(11, 1), (11, 0), (11, -1), (13, 1), (13, 0)])
def test_softmax_family_axes(op, opset, axis):
    x = randn(2, 3, 4)
    if op == "Hardmax":
        x = np.round(x)  # ties: the first maximum wins
    m = model([h.make_node(op, ["x"], ["y"], axis=axis)], [("x", np.float32, [2, 3, 4])], [("y", np.float32)],
              opset=opset)
    check(m, {"x": x})


def test_softmax_opset11_dynamic_batch():
    m = model([h.make_node("Softmax", ["x"], ["y"], axis=1)], [("x", np.float32, ["N", 3, 4])],
              [("y", np.float32)], opset=11)
    check(m, {"x": randn(3, 3, 4)})


# ---------------------------------------------------------------- Einsum / Det

@pytest.mark.parametrize("eq,shapes", [
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("bij->b", [(3, 4, 5)]),
    ("ij,kj->ikj", [(3, 4), (2, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("abc,cd->", [(2, 3, 4), (4, 5)]),
])
def test_einsum_forms(eq, shapes):
    names = [f"x{i}" for i in range(len(shapes))]
    m = model([h.make_node("Einsum", names, ["y"], equation=eq)],
              [(n, np.float32, list(s)) for n, s in zip(names, shapes)], [("y", np.float32)], opset=12)
    check(m, {n: randn(*s) for n, s in zip(names, shapes)})


@pytest.mark.parametrize("eq,shapes", [
    ("bhqd,bhkd->bhqk", [("B", 2, "Q", 4), ("B", 2, "K", 4)]),  # no reshape: any dim may be dynamic
    ("bij,bkj->bik", [("B", 3, 4), ("B", 5, 4)]),
    ("bxy,bxyz->bz", [("B", 2, 3), ("B", 2, 3, 4)]),            # flattened groups, one dynamic size
    ("bi,i->b", [("B", 3), (3,)]),
])
def test_einsum_dynamic_dims(eq, shapes):
    names = [f"x{i}" for i in range(len(shapes))]
    m = model([h.make_node("Einsum", names, ["y"], equation=eq)],
              [(n, np.float32, list(s)) for n, s in zip(names, shapes)], [("y", np.float32)], opset=12)
    sizes = {"B": 2, "Q": 3, "K": 5}
    check(m, {n: randn(*[sizes.get(d, d) for d in s]) for n, s in zip(names, shapes)})


def test_einsum_broadcast_unsupported():
    m = model([h.make_node("Einsum", ["a", "b"], ["y"], equation="...ij,...jk->...ik")],
              [("a", np.float32, [1, 3, 4]), ("b", np.float32, [2, 4, 5])], [("y", np.float32)], opset=12)
    with pytest.raises(liteport.ConversionError) as e:
        liteport.convert(m.SerializeToString())
    assert e.value.status == "unsupported"


@pytest.mark.parametrize("n", [1, 2, 3])
def test_det_batched(n):
    m = model([h.make_node("Det", ["x"], ["y"])], [("x", np.float32, ["A", "B", n, n])], [("y", np.float32)], opset=11)
    check(m, {"x": randn(2, 3, n, n)})


def test_det_4x4_unsupported():
    m = model([h.make_node("Det", ["x"], ["y"])], [("x", np.float32, [4, 4])], [("y", np.float32)], opset=11)
    with pytest.raises(liteport.ConversionError) as e:
        liteport.convert(m.SerializeToString())
    assert e.value.status == "unsupported"
