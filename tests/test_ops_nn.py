"""The nn family (convolution, pooling, normalisation, matmul, quantisation) on hand-built ONNX
models: the attribute combinations and edge cases the ONNX backend suite misses (dynamic batch,
run-time weights, groups with dilations, 3-D, negative axes, broadcasting, integer types, rounding
ties, chunked integer sums). Each model is converted and run in LiteRT against onnxruntime."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import liteport

NP2ONNX = {np.float32: TensorProto.FLOAT, np.float16: TensorProto.FLOAT16, np.int8: TensorProto.INT8,
           np.uint8: TensorProto.UINT8, np.int16: TensorProto.INT16, np.uint16: TensorProto.UINT16,
           np.int32: TensorProto.INT32, np.int64: TensorProto.INT64}


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, NP2ONNX[dtype], shape)


def model(nodes, inputs, outputs, inits=(), opset=21):
    """inputs/outputs: [(name, numpy dtype, shape or None)]; inits: {name: array}."""
    g = helper.make_graph(nodes, "g", [vi(*i) for i in inputs], [vi(*o) for o in outputs],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(inits).items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    return m


def check(m, feeds=None, *, nontrivial=True, rtol=1e-4, batch_sizes=None):
    """Convert, run LiteRT and onnxruntime on the same inputs, compare every output."""
    rep = liteport.convert(m)
    res = liteport.verify(m, rep.tflite, inputs=feeds, report=rep, rtol=rtol, batch_sizes=batch_sizes)
    assert res.ok, f"LiteRT differs from onnxruntime:\n{res}"
    if nontrivial:
        for c in res.checks:
            assert c.max_ref > 0, f"output {c.name} is all zeros: a vacuous check\n{res}"
    return rep


def check_ref(m, feeds, rtol=1e-4, expected=None):
    """For what onnxruntime does not run (or runs differently from the ONNX spec): compare with
    ONNX's reference implementation, or with `expected` (a list of arrays in output order) where
    the reference cannot run the case either."""
    from onnx.reference import ReferenceEvaluator

    rep = liteport.convert(m)
    got = liteport.LiteRTModel(rep.tflite, rep)(feeds)
    ref = expected if expected is not None else ReferenceEvaluator(m).run(None, feeds)
    for o, want in zip(m.graph.output, ref):
        g = np.asarray(got[o.name])
        assert g.shape == want.shape, (o.name, g.shape, want.shape)
        assert np.abs(want).max() > 0, f"output {o.name} is all zeros: a vacuous check"
        if want.dtype.kind in "iu":
            np.testing.assert_array_equal(g, want)
        else:
            np.testing.assert_allclose(g, want, rtol=rtol, atol=rtol * max(1.0, float(np.abs(want).max())))
    return rep


def rnd(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def ints(lo, hi, *shape, seed=0, dtype=np.uint8):
    return np.random.default_rng(seed).integers(lo, hi + 1, size=shape).astype(dtype)


# ------------------------------------------------------------------------------------------
# Conv


@pytest.mark.parametrize("attrs,wshape", [
    (dict(group=2, pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2]), (6, 2, 3, 3)),
    (dict(auto_pad="SAME_LOWER", strides=[2, 2]), (5, 4, 2, 2)),   # odd total padding: explicit PAD
    (dict(group=4), (8, 1, 3, 3)),                                   # depthwise, multiplier 2
])
def test_conv_runtime_weight(attrs, wshape):
    x, w = rnd(2, 4, 9, 8), rnd(*wshape, seed=1)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)
    m = model([node], [("x", np.float32, ["n", 4, 9, 8]), ("w", np.float32, list(wshape))],
              [("y", np.float32, None)], {"b": rnd(wshape[0], seed=2)})
    check(m, {"x": x, "w": w})


def test_conv1d_dilated_dynamic_batch():
    node = helper.make_node("Conv", ["x", "w"], ["y"], dilations=[3], pads=[2, 4], strides=[2])
    m = model([node], [("x", np.float32, ["n", 3, 20])], [("y", np.float32, None)], {"w": rnd(4, 3, 3)})
    check(m)


@pytest.mark.parametrize("group", [1, 2])
def test_conv3d(group):
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], group=group, pads=[1, 0, 1, 0, 1, 1],
                            strides=[1, 2, 1], dilations=[2, 1, 1])
    m = model([node], [("x", np.float32, ["n", 4, 6, 7, 5])], [("y", np.float32, None)],
              {"w": rnd(6, 4 // group, 2, 3, 2), "b": rnd(6, seed=3)})
    check(m)


def test_conv3d_runtime_weight_grouped():
    node = helper.make_node("Conv", ["x", "w"], ["y"], group=2, auto_pad="SAME_UPPER")
    m = model([node], [("x", np.float32, [1, 4, 5, 6, 4]), ("w", np.float32, [4, 2, 3, 3, 3])],
              [("y", np.float32, None)])
    check(m, {"x": rnd(1, 4, 5, 6, 4), "w": rnd(4, 2, 3, 3, 3, seed=4)})


# ------------------------------------------------------------------------------------------
# ConvTranspose


@pytest.mark.parametrize("runtime_w", [False, True])
def test_convtranspose_group_dilation(runtime_w):
    attrs = dict(group=3, dilations=[2, 3], strides=[2, 1], pads=[1, 0, 0, 2], output_padding=[1, 0])
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attrs)
    w = rnd(6, 2, 3, 2, seed=5)
    ins = [("x", np.float32, ["n", 6, 4, 5])]
    inits = {"b": rnd(6, seed=6)}
    if runtime_w:
        ins.append(("w", np.float32, [6, 2, 3, 2]))
    else:
        inits["w"] = w
    m = model([node], ins, [("y", np.float32, None)], inits)
    check(m, {"x": rnd(2, 6, 4, 5), "w": w} if runtime_w else None)


@pytest.mark.parametrize("attrs", [dict(auto_pad="SAME_LOWER"), dict(auto_pad="SAME_UPPER"), dict(output_shape=[19])])
def test_convtranspose_1d_odd_total_padding(attrs):
    # total padding 1 (SAME_*) or 3 (output_shape): where the odd pixel goes
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[3], **attrs)
    m = model([node], [("x", np.float32, [2, 3, 7])], [("y", np.float32, None)], {"w": rnd(3, 2, 4)})
    check(m)


def test_convtranspose_3d_bias_pads():
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 1, 2], pads=[1, 0, 0, 0, 1, 1])
    m = model([node], [("x", np.float32, ["n", 2, 3, 4, 3])], [("y", np.float32, None)],
              {"w": rnd(2, 3, 3, 2, 3, seed=7), "b": rnd(3, seed=8)})
    check(m)


def test_convtranspose_output_shape_grows():
    # output_shape larger than the full result: ONNX's formula gives negative pads, i.e. zeros
    # around the full result (total -2 on H: one row before and one after; total -1 on W: one
    # column after). onnxruntime refuses the model and the reference cannot run it: numpy here.
    x, w = rnd(1, 2, 3, 4, seed=1), rnd(2, 3, 3, 3)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], output_shape=[9, 10])
    m = model([node], [("x", np.float32, [1, 2, 3, 4])], [("y", np.float32, None)], {"w": w})
    full = np.zeros((1, 3, 7, 9), np.float32)
    for i in range(3):
        for j in range(4):
            full[0, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] += np.einsum("c,cmhw->mhw", x[0, :, i, j], w)
    want = np.pad(full, ((0, 0), (0, 0), (1, 1), (0, 1)))
    check_ref(m, {"x": x}, expected=[want])


# ------------------------------------------------------------------------------------------
# pooling


@pytest.mark.parametrize("op,attrs,shape", [
    ("MaxPool", dict(kernel_shape=[3, 2], dilations=[2, 2], pads=[1, 1, 2, 0], ceil_mode=1, strides=[2, 1]), [2, 3, 11, 9]),
    ("AveragePool", dict(kernel_shape=[2, 3], dilations=[3, 1], pads=[1, 1, 1, 1], count_include_pad=1), [2, 3, 10, 9]),
    ("AveragePool", dict(kernel_shape=[3, 3], dilations=[2, 2], strides=[2, 2], ceil_mode=1), [2, 3, 10, 11]),
    ("MaxPool", dict(kernel_shape=[3], dilations=[2], strides=[2]), [2, 3, 15]),
    ("MaxPool", dict(kernel_shape=[2, 3, 2], pads=[1, 0, 1, 0, 1, 1], strides=[2, 1, 2], ceil_mode=1), [2, 3, 5, 6, 7]),
    ("AveragePool", dict(kernel_shape=[3, 2, 2], pads=[1, 1, 0, 1, 0, 1], strides=[2, 2, 1]), [2, 3, 6, 5, 4]),
    ("AveragePool", dict(kernel_shape=[3, 2, 2], pads=[1, 1, 0, 1, 0, 1], count_include_pad=1), [2, 3, 6, 5, 4]),
    ("AveragePool", dict(kernel_shape=[2, 2, 2], dilations=[1, 2, 1]), [1, 2, 5, 6, 4]),
    ("LpPool", dict(kernel_shape=[3, 2], p=3, pads=[1, 0, 1, 1], strides=[2, 2]), [2, 3, 8, 7]),
    ("LpPool", dict(kernel_shape=[3], p=1, strides=[2]), [2, 3, 9]),
    ("LpPool", dict(kernel_shape=[2, 2, 2], p=2, pads=[0, 1, 0, 1, 0, 1]), [1, 2, 4, 5, 3]),
])
def test_pool(op, attrs, shape):
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    check(model([node], [("x", np.float32, shape)], [("y", np.float32, None)], opset=19))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_maxpool_small_ints(dtype):
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    m = model([node], [("x", dtype, [1, 2, 7, 8])], [("y", dtype, None)])
    check(m, {"x": ints(-128 if dtype == np.int8 else 0, 127, 1, 2, 7, 8, dtype=dtype)})


@pytest.mark.parametrize("storage_order", [0, 1])
def test_maxpool_indices(storage_order):
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                            storage_order=storage_order)
    m = model([node], [("x", np.float32, [2, 3, 7, 6])], [("y", np.float32, None), ("i", np.int64, None)])
    check(m)


def test_maxpool_unpool_overlapping():
    # overlapping windows repeat indices: MaxUnpool must not add them up
    pool = helper.make_node("MaxPool", ["x"], ["p", "i"], kernel_shape=[3, 3], strides=[2, 2])
    unpool = helper.make_node("MaxUnpool", ["p", "i", "shape"], ["y"], kernel_shape=[3, 3], strides=[2, 2])
    m = model([pool, unpool], [("x", np.float32, [1, 2, 9, 8])], [("y", np.float32, None)],
              {"shape": np.array([1, 2, 9, 8], np.int64)})
    check(m)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_global_lp_pool(p):
    node = helper.make_node("GlobalLpPool", ["x"], ["y"], p=p)
    check(model([node], [("x", np.float32, ["n", 3, 5, 4])], [("y", np.float32, None)]))


# ------------------------------------------------------------------------------------------
# normalisation


def test_layernorm_three_outputs_dynamic_batch():
    node = helper.make_node("LayerNormalization", ["x", "s", "b"], ["y", "mean", "inv"], axis=-2, epsilon=1e-3)
    m = model([node], [("x", np.float32, ["n", 3, 4, 5])],
              [("y", np.float32, None), ("mean", np.float32, None), ("inv", np.float32, None)],
              {"s": rnd(4, 5, seed=1), "b": rnd(5, seed=2)}, opset=17)
    check(m)


def test_layernorm_float16():
    node = helper.make_node("LayerNormalization", ["x", "s"], ["y"], axis=1)
    m = model([node], [("x", np.float16, [2, 8])], [("y", np.float16, None)],
              {"s": rnd(8, seed=1, dtype=np.float16)}, opset=17)
    check(m, rtol=2e-3)


def test_rmsnorm_axis():
    node = helper.make_node("RMSNormalization", ["x", "s"], ["y"], axis=-2, epsilon=1e-2)
    m = model([node], [("x", np.float32, ["n", 3, 4, 5])], [("y", np.float32, None)], {"s": rnd(1, 5, seed=1)},
              opset=23)
    check(m)


@pytest.mark.parametrize("opset,sshape", [(18, 2), (21, 6)])
def test_groupnorm(opset, sshape):
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2, epsilon=1e-4)
    m = model([node], [("x", np.float32, ["n", 6, 4, 3])], [("y", np.float32, None)],
              {"s": rnd(sshape, seed=1), "b": rnd(sshape, seed=2)}, opset=opset)
    check(m)


def test_instancenorm_1d_runtime_params():
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-3)
    m = model([node], [("x", np.float32, [2, 3, 7]), ("s", np.float32, [3]), ("b", np.float32, [3])],
              [("y", np.float32, None)])
    check(m, {"x": rnd(2, 3, 7), "s": rnd(3, seed=1), "b": rnd(3, seed=2)})


@pytest.mark.parametrize("p,axis", [(1, 0), (2, -1), (2, 1)])
def test_lpnorm_with_zero_vectors(p, axis):
    x = rnd(3, 4, 5)
    x[1] = 0
    x[:, 2, :] = 0
    x[..., 3] = 0
    node = helper.make_node("LpNormalization", ["x"], ["y"], p=p, axis=axis)
    m = model([node], [("x", np.float32, [3, 4, 5])], [("y", np.float32, None)], opset=22)
    check(m, {"x": x})


def test_mvn_axes():
    node = helper.make_node("MeanVarianceNormalization", ["x"], ["y"], axes=[1, -1])
    check(model([node], [("x", np.float32, ["n", 3, 4, 5])], [("y", np.float32, None)]))


@pytest.mark.parametrize("size,shape", [(3, [2, 6, 4, 5]), (5, [1, 4, 2, 3])])
def test_lrn(size, shape):
    node = helper.make_node("LRN", ["x"], ["y"], size=size, alpha=0.5, beta=0.6, bias=1.5)
    check(model([node], [("x", np.float32, shape)], [("y", np.float32, None)]))


@pytest.mark.parametrize("size,shape", [(4, [6, 6, 4, 5]), (2, [5, 5, 4, 3])])
def test_lrn_even_size(size, shape):
    # onnxruntime only runs odd sizes; ONNX sums channels [c - floor((size-1)/2), c + ceil((size-1)/2)]
    # (N == C: ONNX's reference loops over the batch size where it means the channels)
    node = helper.make_node("LRN", ["x"], ["y"], size=size, alpha=0.5, beta=0.6, bias=1.5)
    check_ref(model([node], [("x", np.float32, shape)], [("y", np.float32, None)]), {"x": rnd(*shape)})


def test_batchnorm_runtime_params():
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)
    m = model([node], [("x", np.float32, ["n", 3, 4]), ("s", np.float32, [3]), ("b", np.float32, [3]),
                       ("m", np.float32, [3]), ("v", np.float32, [3])], [("y", np.float32, None)], opset=15)
    check(m, {"x": rnd(2, 3, 4), "s": rnd(3, seed=1), "b": rnd(3, seed=2), "m": rnd(3, seed=3),
              "v": np.abs(rnd(3, seed=4)) + 0.1})


# ------------------------------------------------------------------------------------------
# Gemm / MatMul


@pytest.mark.parametrize("ashape,bshape,const_b", [
    ([4], [2, 4, 3], False), ([2, 3, 4], [4], False), ([2, 1, 3, 4], [5, 4, 2], False), ([4], [4, 3], True),
    (["n", 3, 4], [4], True),
])
def test_matmul_ranks(ashape, bshape, const_b):
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    ins = [("a", np.float32, ashape)]
    inits = {}
    if const_b:
        inits["b"] = rnd(*bshape, seed=1)
    else:
        ins.append(("b", np.float32, bshape))
    check(model([node], ins, [("y", np.float32, None)], inits))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_matmul_integer_types(dtype):
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    m = model([node], [("a", dtype, [2, 3, 5]), ("b", dtype, [5, 4])], [("y", dtype, None)])
    check(m, {"a": ints(-1000, 1000, 2, 3, 5, dtype=dtype), "b": ints(-1000, 1000, 5, 4, seed=1, dtype=dtype)})


@pytest.mark.parametrize("cshape,const_b", [([5], True), ([3, 1], True), ([1, 5], False), ([], False)])
def test_gemm(cshape, const_b):
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transA=1, transB=1, alpha=0.7, beta=-1.3)
    ins = [("a", np.float32, [4, 3]), ("c", np.float32, cshape)]
    inits = {}
    if const_b:
        inits["b"] = rnd(5, 4, seed=1)
    else:
        ins.append(("b", np.float32, [5, 4]))
    check(model([node], ins, [("y", np.float32, None)], inits, opset=13))


def test_gemm_int32():
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1)
    m = model([node], [("a", np.int32, [3, 4]), ("b", np.int32, [5, 4]), ("c", np.int32, [5])], [("y", np.int32, None)],
              opset=13)
    check_ref(m, {"a": ints(-50, 50, 3, 4, dtype=np.int32), "b": ints(-50, 50, 5, 4, seed=1, dtype=np.int32),
              "c": ints(-50, 50, 5, seed=2, dtype=np.int32)})


# ------------------------------------------------------------------------------------------
# quantisation


def test_quantize_ties_and_saturation():
    # x / scale lands on .5 ties (half to even), and beyond the int8 range
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.49, 300, -300, 0.0, 7.5, -7.5], np.float32)
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])
    m = model([node], [("x", np.float32, [12])], [("y", np.int8, None)],
              {"s": np.array(1.0, np.float32), "z": np.array(3, np.int8)})
    check(m, {"x": x})


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
def test_quantize_per_axis(dtype):
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], axis=-2)
    zp = np.array([1, 2, 3], dtype)
    m = model([node], [("x", np.float32, ["n", 3, 4])], [("y", dtype, None)],
              {"s": np.array([0.02, 0.05, 0.1], np.float32), "z": zp}, opset=21)
    check(m, {"x": rnd(2, 3, 4) * 4})


def test_quantize_blocked_runtime_scale():
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], axis=1, block_size=3)
    m = model([node], [("x", np.float32, [2, 7]), ("s", np.float32, [2, 3]), ("z", np.uint8, [2, 3])],
              [("y", np.uint8, None)])
    check(m, {"x": rnd(2, 7) * 3, "s": np.array([[0.1, 0.2, 0.05], [0.3, 0.02, 0.1]], np.float32),
              "z": np.array([[128, 100, 3], [0, 255, 7]], np.uint8)})


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32])
def test_dequantize_per_axis(dtype):
    node = helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], axis=0)
    lo, hi = (-1000, 1000) if dtype == np.int32 else (np.iinfo(dtype).min, np.iinfo(dtype).max)
    m = model([node], [("x", dtype, [3, 5])], [("y", np.float32, None)],
              {"s": np.array([0.5, 0.25, 2.0], np.float32), "z": np.array([0, 1, 2], dtype)}, opset=13)
    check(m, {"x": ints(lo, hi, 3, 5, dtype=dtype)})


def test_dequantize_blocked_const():
    node = helper.make_node("DequantizeLinear", ["x", "s"], ["y"], axis=0, block_size=2)
    m = model([node], [("x", np.int8, [5, 2])], [("y", np.float32, None)],
              {"s": np.array([[0.5, 1.0], [2.0, 0.25], [3.0, 4.0]], np.float32)})
    check(m, {"x": ints(-128, 127, 5, 2, dtype=np.int8)})


@pytest.mark.parametrize("x", [np.array([-3.0, -1.0, -0.5], np.float32), np.zeros(4, np.float32),
                               np.array([0.1, 7.3, 2.2, 9.9], np.float32)])
def test_dynamic_quantize_edges(x):
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])
    m = model([node], [("x", np.float32, list(x.shape))], [("y", np.uint8, None), ("s", np.float32, None),
                                                           ("z", np.uint8, None)], opset=11)
    check(m, {"x": x}, nontrivial=False)


@pytest.mark.parametrize("const_b", [False, True])
def test_matmul_integer_chunked(const_b):
    # K = 600: sums of 8-bit products can pass 2^24, so the inner axis is split
    a, b = ints(0, 255, 3, 600), ints(0, 255, 600, 4, seed=1)
    node = helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["y"])
    ins = [("a", np.uint8, [3, 600])]
    inits = {"az": np.array(5, np.uint8), "bz": np.array(250, np.uint8)}
    if const_b:
        inits["b"] = b
    else:
        ins.append(("b", np.uint8, [600, 4]))
    m = model([node], ins, [("y", np.int32, None)], inits, opset=10)
    check(m, {"a": a, "b": b} if not const_b else {"a": a})


def test_matmul_integer_per_row_column_zero_points():
    # per-row (A: [M]) and per-column (B: [N]) zero points: onnxruntime takes only scalars and
    # ONNX's reference does not reshape a per-row vector, so numpy gives the expected values
    a, b = ints(-128, 127, 3, 300, dtype=np.int8), ints(-128, 127, 300, 4, seed=1, dtype=np.int8)
    az, bz = np.array([5, -100, 0], np.int8), np.array([0, 127, -17, -128], np.int8)
    node = helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["y"])
    m = model([node], [("a", np.int8, [3, 300]), ("b", np.int8, [300, 4])], [("y", np.int32, None)],
              {"az": az, "bz": bz}, opset=10)
    want = (a.astype(np.int32) - az.astype(np.int32)[:, None]) @ (b.astype(np.int32) - bz.astype(np.int32))
    check_ref(m, {"a": a, "b": b}, expected=[want])


@pytest.mark.parametrize("wz", [np.array(-2, np.int8), np.array([0, -2, 5], np.int8)])
def test_conv_integer_chunked(wz):
    x, w = ints(0, 255, 1, 40, 5, 5), ints(-128, 127, 3, 40, 3, 3, seed=1, dtype=np.int8)
    node = helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], pads=[1, 1, 1, 1])
    m = model([node], [("x", np.uint8, [1, 40, 5, 5]), ("w", np.int8, [3, 40, 3, 3])], [("y", np.int32, None)],
              {"xz": np.array(3, np.uint8), "wz": wz}, opset=10)
    # onnxruntime has no per-channel weight zero point
    (check if wz.ndim == 0 else check_ref)(m, {"x": x, "w": w})


def test_qlinearconv_per_channel_bias():
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                            pads=[1, 1, 1, 1], strides=[2, 2], group=2)
    m = model([node], [("x", np.int8, [1, 4, 7, 6])], [("y", np.int8, None)],
              {"xs": np.array(0.05, np.float32), "xz": np.array(-3, np.int8), "w": ints(-100, 100, 6, 2, 3, 3, dtype=np.int8),
               "ws": np.array([0.01, 0.02, 0.015, 0.03, 0.01, 0.05], np.float32), "wz": np.zeros(6, np.int8),
               "ys": np.array(0.08, np.float32), "yz": np.array(5, np.int8),
               "b": ints(-200, 200, 6, seed=2, dtype=np.int32)}, opset=10)
    check(m, {"x": ints(-128, 127, 1, 4, 7, 6, seed=3, dtype=np.int8)})


def test_qlinearmatmul_broadcast():
    node = helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])
    m = model([node], [("a", np.uint8, [2, 3, 8]), ("b", np.uint8, [8, 5])], [("y", np.uint8, None)],
              {"as": np.array(0.02, np.float32), "az": np.array(120, np.uint8), "bs": np.array(0.03, np.float32),
               "bz": np.array(130, np.uint8), "ys": np.array(0.05, np.float32), "yz": np.array(128, np.uint8)}, opset=10)
    check(m, {"a": ints(0, 255, 2, 3, 8), "b": ints(0, 255, 8, 5, seed=1)})


# ------------------------------------------------------------------------------------------
# DeformConv


@pytest.mark.parametrize("with_mask", [False, True])
def test_deform_conv_groups(with_mask):
    # group 2, offset_group 2, stride, dilation, pads; offsets large enough to leave the image
    n, c, h, w, m = 2, 4, 6, 7, 6
    attrs = dict(group=2, offset_group=2, strides=[2, 1], dilations=[1, 2], pads=[1, 0, 1, 2], kernel_shape=[3, 2])
    oh, ow = (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 1 + 1
    ins = ["x", "w", "off", "b"] + (["mask"] if with_mask else [])
    node = helper.make_node("DeformConv", ins, ["y"], **attrs)
    inputs = [("x", np.float32, [n, c, h, w]), ("off", np.float32, [n, 2 * 6 * 2, oh, ow])]
    feeds = {"x": rnd(n, c, h, w), "off": rnd(n, 24, oh, ow, seed=1) * 2}
    if with_mask:
        inputs.append(("mask", np.float32, [n, 2 * 6, oh, ow]))
        feeds["mask"] = np.random.default_rng(2).random((n, 12, oh, ow)).astype(np.float32)
    m_ = model([node], inputs, [("y", np.float32, None)], {"w": rnd(m, 2, 3, 2, seed=3), "b": rnd(m, seed=4)}, opset=19)
    check(m_, feeds)


@pytest.mark.parametrize("size", [3, 4])
def test_lrn_3d_input(size):
    # [N, C, L] (onnxruntime and the reference take 4-D only): the spec's formula in numpy
    x = rnd(2, 5, 6)
    lo, hi = (size - 1) // 2, size // 2
    sq = np.pad(x * x, ((0, 0), (lo, hi), (0, 0)))
    s = sum(sq[:, j:j + 5] for j in range(size))
    want = x / (2.0 + 0.3 / size * s) ** 0.7
    node = helper.make_node("LRN", ["x"], ["y"], size=size, alpha=0.3, beta=0.7, bias=2.0)
    check_ref(model([node], [("x", np.float32, [2, 5, 6])], [("y", np.float32, None)]), {"x": x}, expected=[want])


# ------------------------------------------------------------------------------------------
# QDQ models: quantized constant weights are folded (the convolution gets a float constant)


def test_qdq_conv_weights_folded():
    w = ints(-127, 127, 6, 3, 3, 3, dtype=np.int8)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w", "ws"], ["wd"], axis=0),
        helper.make_node("Conv", ["xd", "wd", "b"], ["y"], pads=[1, 1, 1, 1]),
    ]
    m = model(nodes, [("x", np.float32, ["n", 3, 8, 8])], [("y", np.float32, None)],
              {"xs": np.array(0.05, np.float32), "xz": np.array(10, np.int8), "w": w,
               "ws": np.linspace(0.01, 0.03, 6).astype(np.float32), "b": rnd(6, seed=1)}, opset=13)
    rep = check(m)
    ops = dict(rep.tflite_ops)
    # a run-time weight would need its own TRANSPOSE; the one left is the input's (the layout
    # pass does not move it through the quantize/dequantize arithmetic to the graph input)
    assert "CONV_2D" in ops and ops.get("TRANSPOSE", 0) <= 1, ops


def test_qdq_blocked_constant_weights_folded():
    w = ints(-8, 7, 5, 6, dtype=np.int8)
    nodes = [helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], axis=1, block_size=4),
             helper.make_node("QuantizeLinear", ["c", "cs"], ["cq"]),
             helper.make_node("DequantizeLinear", ["cq", "cs"], ["cd"]),
             helper.make_node("MatMul", ["x", "wd"], ["t"]),
             helper.make_node("Add", ["t", "cd"], ["y"])]
    m = model(nodes, [("x", np.float32, ["n", 5])], [("y", np.float32, None)],
              {"w": w, "ws": np.abs(rnd(5, 2, seed=2)) + 0.1, "wz": ints(-2, 2, 5, 2, seed=3, dtype=np.int8),
               "c": np.array([0.25, -0.75, 1.5, 2.5, -2.5, 0.0], np.float32), "cs": np.array(0.5, np.float32)})
    rep = check(m)
    assert set(dict(rep.tflite_ops)) <= {"FULLY_CONNECTED", "ADD"}, rep.tflite_ops


# ------------------------------------------------------------------------------------------
# older opsets


@pytest.mark.parametrize("opset,node,shape,inits", [
    (7, helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3), [2, 3, 4, 5],
     {"s": rnd(3, seed=1), "b": rnd(3, seed=2), "m": rnd(3, seed=3), "v": np.abs(rnd(3, seed=4)) + 0.5}),
    (7, helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], spatial=0), [2, 3, 4],
     {"s": rnd(3, 4, seed=1), "b": rnd(3, 4, seed=2), "m": rnd(3, 4, seed=3), "v": np.abs(rnd(3, 4, seed=4)) + 0.5}),
    (9, helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"]), [2, 3, 4],
     {"s": rnd(3, seed=1), "b": rnd(3, seed=2), "m": rnd(3, seed=3), "v": np.abs(rnd(3, seed=4)) + 0.5}),
    (8, helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]), [1, 2, 7, 7], {}),
    (10, helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1), [1, 2, 7, 7], {}),
    (7, helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1),
     [1, 2, 6, 5], {}),
    (10, helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1), [1, 2, 8, 8], {}),
    (7, helper.make_node("Gemm", ["x", "w", "c"], ["y"], transB=1, beta=0.5), [3, 4], {"w": rnd(5, 4, seed=1), "c": rnd(5, seed=2)}),
    (9, helper.make_node("Gemm", ["x", "w", "c"], ["y"], alpha=2.0), [3, 4], {"w": rnd(4, 5, seed=1), "c": rnd(3, 1, seed=2)}),
    (7, helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"]), [2, 3, 4, 5], {"s": rnd(3, seed=1), "b": rnd(3, seed=2)}),
    (7, helper.make_node("LpNormalization", ["x"], ["y"], axis=1, p=1), [2, 3, 4], {}),
    (7, helper.make_node("LRN", ["x"], ["y"], size=5), [1, 7, 3, 3], {}),
    (9, helper.make_node("MeanVarianceNormalization", ["x"], ["y"]), [2, 3, 4, 5], {}),
    (7, helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], output_padding=[1, 1]), [1, 2, 3, 4],
     {"w": rnd(2, 3, 3, 3, seed=1)}),
    (7, helper.make_node("GlobalLpPool", ["x"], ["y"], p=3), [2, 3, 4, 5], {}),
    (11, helper.make_node("LpPool", ["x"], ["y"], kernel_shape=[2, 2], p=2, strides=[2, 2]), [2, 3, 4, 6], {}),
])
def test_old_opsets(opset, node, shape, inits):
    check(model([node], [("x", np.float32, shape)], [("y", np.float32, None)], inits, opset=opset))


# ------------------------------------------------------------------------------------------
# more dynamic shapes


def test_groupnorm_dynamic_length():
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=3)
    m = model([node], [("x", np.float32, [2, 6, "l"])], [("y", np.float32, None)],
              {"s": rnd(6, seed=1), "b": rnd(6, seed=2)})
    check(m, {"x": rnd(2, 6, 11)})


@pytest.mark.parametrize("op,attrs", [
    ("AveragePool", dict(kernel_shape=[2, 3, 2], strides=[2, 1, 2], pads=[0, 1, 1, 1, 1, 0])),
    ("MaxPool", dict(kernel_shape=[3, 3, 3], strides=[2, 2, 2], ceil_mode=1)),
    ("LpPool", dict(kernel_shape=[2, 2, 2], p=3, strides=[1, 2, 1])),
])
def test_pool3d_dynamic_batch(op, attrs):
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    check(model([node], [("x", np.float32, ["n", 3, 6, 7, 5])], [("y", np.float32, None)], opset=19))


@pytest.mark.parametrize("runtime_w", [False, True])
def test_convtranspose_3d_grouped_dilated(runtime_w):
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], group=2, dilations=[2, 1, 2], strides=[1, 2, 1],
                            pads=[1, 0, 0, 0, 1, 1])
    w = rnd(4, 3, 2, 2, 3, seed=9)
    ins = [("x", np.float32, ["n", 4, 3, 4, 3])] + ([("w", np.float32, [4, 3, 2, 2, 3])] if runtime_w else [])
    m = model([node], ins, [("y", np.float32, None)], {} if runtime_w else {"w": w})
    check(m, {"x": rnd(2, 4, 3, 4, 3), "w": w} if runtime_w else None)
