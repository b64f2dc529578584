"""Elementwise family (math, logic, bits, activations): hand-built ONNX models for what the
backend node suite misses - attribute combinations, every integer type, wrap-around and edge
values, NaN and infinity, broadcasting up to rank 5, dynamic batch, and constant folding.

Each model is converted with liteport.convert and run in LiteRT. Where onnxruntime has a kernel,
liteport.verify compares the two; every case is also compared element by element with the
reference (onnxruntime, or onnx's reference evaluator where onnxruntime has no kernel): integers
and booleans exactly, floats to a tolerance near float32 precision."""
import math
import warnings

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import liteport

NP2ONNX = {
    np.float32: onnx.TensorProto.FLOAT, np.float16: onnx.TensorProto.FLOAT16, np.float64: onnx.TensorProto.DOUBLE,
    np.int8: onnx.TensorProto.INT8, np.int16: onnx.TensorProto.INT16, np.int32: onnx.TensorProto.INT32,
    np.int64: onnx.TensorProto.INT64, np.uint8: onnx.TensorProto.UINT8, np.uint16: onnx.TensorProto.UINT16,
    np.uint32: onnx.TensorProto.UINT32, np.uint64: onnx.TensorProto.UINT64, np.bool_: onnx.TensorProto.BOOL,
}
INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32]
BIT_INTS = INTS + [np.uint64]  # no TFLite arithmetic on uint64, but the bit ops reinterpret it


def make(op, inputs, attrs=None, opset=22, out_type=None, consts=(), n_out=1):
    """A one-node model. inputs: list of (name, array) - the arrays give types and shapes (a
    leading 'N' dimension when the name ends in '@N'); names in `consts` become initializers."""
    vis, inits, names = [], [], []
    for name, a in inputs:
        dyn = name.endswith("@N")
        name = name.replace("@N", "")
        names.append(name)
        a = np.asarray(a)
        if name in consts:
            inits.append(numpy_helper.from_array(a, name))
            continue
        shape = ["N"] + list(a.shape[1:]) if dyn else list(a.shape)
        vis.append(helper.make_tensor_value_info(name, NP2ONNX[a.dtype.type], shape))
    outs = [f"y{k}" for k in range(n_out)]
    node = helper.make_node(op, names, outs, **(attrs or {}))
    ovi = [helper.make_tensor_value_info(o, out_type if out_type is not None else 0, None) for o in outs]
    g = helper.make_graph([node], "g", vis, ovi, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10
    return onnx.shape_inference.infer_shapes(m)


def reference(m, feeds, use_ort):
    if use_ort:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.log_severity_level = 3
        s = ort.InferenceSession(m.SerializeToString(), sess_options=so, providers=["CPUExecutionProvider"])
        return s.run(None, feeds)
    from onnx.reference import ReferenceEvaluator

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return [np.asarray(v) for v in ReferenceEvaluator(m).run(None, feeds)]


def check(m, feeds, rtol=2e-6, atol=1e-7, ort=True, verify_rtol=1e-5):
    """Convert, run in LiteRT and compare; returns the report."""
    rep = liteport.convert(m.SerializeToString())
    feeds = {k.replace("@N", ""): np.asarray(v) for k, v in feeds.items()}
    if ort:
        v = liteport.verify(m, rep.tflite, inputs=feeds, report=rep, rtol=verify_rtol)
        assert v.ok, str(v)
    ref = reference(m, feeds, ort)
    got = liteport.LiteRTModel(rep.tflite, rep)(feeds)
    for name, r in zip([o.name for o in m.graph.output], ref):
        g = np.asarray(got[name])
        r = np.asarray(r)
        assert g.shape == r.shape, f"{name}: shape {g.shape} != {r.shape}"
        assert g.dtype == r.dtype, f"{name}: dtype {g.dtype} != {r.dtype}"
        if r.dtype.kind in "biu":
            bad = np.flatnonzero(g.reshape(-1) != r.reshape(-1))
            assert bad.size == 0, f"{name}: {bad.size} values differ, e.g. got {g.reshape(-1)[bad[:5]]} " \
                                  f"expected {r.reshape(-1)[bad[:5]]}"
        else:
            g64, r64 = g.astype(np.float64), r.astype(np.float64)
            ok = np.isclose(g64, r64, rtol=rtol, atol=atol, equal_nan=True) | (g64 == r64)
            bad = np.flatnonzero(~ok.reshape(-1))
            assert bad.size == 0, f"{name}: {bad.size} values differ, e.g. got {g64.reshape(-1)[bad[:5]]} " \
                                  f"expected {r64.reshape(-1)[bad[:5]]}"
    return rep


def grid(lo, hi, n=2000, dtype=np.float32):
    x = np.concatenate([np.linspace(lo, hi, n), [0.0, -0.0, 1e-7, -1e-7, 1e-3, -1e-3]])
    x = x[(x >= lo) & (x <= hi)]
    return x.astype(dtype).reshape(-1, 2) if x.size % 2 == 0 else x[:-1].astype(dtype).reshape(-1, 2)


# ---------------------------------------------------------------------------------------------
# float functions: accuracy over their domains, in float32 (and via float16 / float64)

# (op, lo, hi, rtol, atol, opset, attrs). atol covers TFLite kernels that are accurate in the
# absolute sense only: SIN/COS near their zeros, EXP for large arguments, GELU (TFLite's GELU op,
# absolute error up to 6e-7, flushing to 0 below x = -5).
FLOAT_FUNCS = [
    ("Sin", -20, 20, 1e-5, 2e-7, 22, {}), ("Cos", -20, 20, 1e-5, 2e-7, 22, {}), ("Tan", -1.4, 1.4, 1e-5, 2e-7, 22, {}),
    ("Asin", -1, 1, 1e-6, 1e-7, 22, {}), ("Acos", -1, 1, 1e-6, 1e-7, 22, {}), ("Atan", -1e4, 1e4, 1e-6, 1e-7, 22, {}),
    ("Sinh", -20, 20, 2e-6, 1e-7, 22, {}), ("Cosh", -20, 20, 2e-6, 1e-7, 22, {}),
    ("Asinh", -1e6, 1e6, 1e-6, 1e-7, 22, {}), ("Acosh", 1, 1e6, 1e-6, 1e-7, 22, {}),
    ("Atanh", -0.9999, 0.9999, 1e-6, 1e-7, 22, {}), ("Erf", -5, 5, 1e-6, 1e-7, 13, {}),
    ("Round", -10, 10, 0, 0, 22, {}), ("Sign", -3, 3, 0, 0, 13, {}),
    ("Softplus", -30, 30, 2e-6, 1e-7, 22, {}), ("Mish", -30, 30, 2e-6, 1e-7, 22, {}),
    ("Softsign", -30, 30, 1e-6, 1e-7, 22, {}), ("Elu", -10, 10, 1e-6, 1e-7, 22, {}),
    ("Elu", -10, 10, 1e-6, 1e-7, 22, {"alpha": 0.3}), ("Celu", -10, 10, 1e-6, 1e-7, 12, {}),
    ("Celu", -10, 10, 1e-6, 1e-7, 12, {"alpha": 0.5}), ("Selu", -10, 10, 1e-6, 1e-7, 22, {}),
    ("Selu", -10, 10, 1e-6, 1e-7, 22, {"alpha": 1.5, "gamma": 0.8}),
    ("Gelu", -6, 6, 1e-5, 1e-6, 20, {}), ("Gelu", -6, 6, 1e-5, 1e-6, 20, {"approximate": "tanh"}),
    ("Swish", -20, 20, 1e-6, 1e-7, 24, {}), ("Swish", -20, 20, 1e-6, 1e-7, 24, {"alpha": 0.25}),
    ("ThresholdedRelu", -3, 3, 0, 0, 22, {}), ("ThresholdedRelu", -3, 3, 0, 0, 22, {"alpha": -0.5}),
    ("Shrink", -3, 3, 1e-7, 0, 9, {}), ("Shrink", -3, 3, 1e-7, 0, 9, {"lambd": 1.0, "bias": 0.25}),
    ("IsNaN", -3, 3, 0, 0, 20, {}),
]


@pytest.mark.parametrize("op,lo,hi,rtol,atol,opset,attrs", FLOAT_FUNCS,
                         ids=[f"{f[0]}{'_' + '_'.join(f'{k}{v}' for k, v in f[6].items()) if f[6] else ''}"
                              for f in FLOAT_FUNCS])
def test_float_function(op, lo, hi, rtol, atol, opset, attrs):
    x = grid(lo, hi)
    ort = op not in ("Swish",)  # onnxruntime has no opset-24 Swish kernel: the reference evaluator
    check(make(op, [("x@N", x)], attrs, opset), {"x": x}, rtol=rtol, atol=atol, ort=ort, verify_rtol=1e-4)


@pytest.mark.parametrize("op", ["Erf", "Sinh", "Cosh", "Asinh", "Atanh", "Softplus", "Mish", "Sign", "Round", "Sin",
                                "Atan", "Acos", "Elu"])
@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_float_function_other_types(op, dtype):
    """float16 and float64 are computed in float32 (TFLite's float kernels) and cast back; the
    reference evaluator computes in the input's own type."""
    x = grid(-0.99, 0.99, 200, dtype)
    tol = 2e-3 if dtype == np.float16 else 2e-6
    check(make(op, [("x", x)], {}, 13 if op in ("Erf", "Sign") else 22), {"x": x}, rtol=tol, atol=1e-7, ort=False)


SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1e30, -1e30, 3e38, -3e38, 1e-30, 4.0,
                    -4.0, 89.0, -89.0], np.float32)


@pytest.mark.parametrize("op", ["Erf", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Softplus",
                                "Softsign", "Round", "Sign", "Elu", "Selu", "ThresholdedRelu", "IsNaN"])
def test_special_values(op):
    """NaN stays NaN, infinities and overflow as ONNX; TFLite's EXP returns 0 for NaN and its LOG
    inf above 2^127, so the lowerings route around both."""
    x = SPECIAL.reshape(-1, 1)
    m = make(op, [("x", x)], {}, 13 if op in ("Erf", "Sign") else 20 if op == "IsNaN" else 22)
    # denormal results (softplus(-89)) flush to zero in TFLite: compared with an absolute tolerance
    check(m, {"x": x}, rtol=2e-6, atol=1e-37, ort=op not in ("Asin", "Acos", "Acosh", "Atanh"))


def test_round_half_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999998, 3.5000002, -3.5, 1e8 + 2, 0.49999997], np.float32)
    check(make("Round", [("x", x)]), {"x": x}, rtol=0, atol=0)


def test_erf_accuracy_fine_grid():
    """The polynomial Erf against math.erf on a fine grid: within 2.5e-7 relative everywhere."""
    x = np.concatenate([np.linspace(-6, 6, 60001), np.geomspace(1e-8, 1, 500)]).astype(np.float32)
    rep = liteport.convert(make("Erf", [("x", x)], opset=13).SerializeToString())
    got = liteport.LiteRTModel(rep.tflite, rep)({"x": x})["y0"].astype(np.float64)
    ref = np.array([math.erf(v) for v in x.astype(np.float64)])
    assert np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-30)) < 2.5e-7
    assert "EXP" in dict(rep.tflite_ops) and "ERF" not in dict(rep.tflite_ops)


@pytest.mark.parametrize("attrs", [{}, {"detect_positive": 0}, {"detect_negative": 0},
                                   {"detect_positive": 0, "detect_negative": 0}])
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_isinf(attrs, dtype):
    x = np.array([np.inf, -np.inf, np.nan, 0, 1, -1, 65504, -65504], dtype)
    if dtype == np.float64:
        x = np.concatenate([x, [1e300, -1e300, 3.5e38]]).astype(dtype)  # beyond float32: not inf
    check(make("IsInf", [("x", x)], attrs, 20), {"x": x}, ort=dtype != np.float16)


# ---------------------------------------------------------------------------------------------
# activations with parameters and integer inputs


@pytest.mark.parametrize("slope_shape", [(3, 1, 1), (1,), (), (5,), (2, 3, 4, 5)])
def test_prelu_broadcast(slope_shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    s = rng.standard_normal(slope_shape).astype(np.float32)
    check(make("PRelu", [("x@N", x), ("s", s)], opset=16, consts=("s",)), {"x": x})


def test_prelu_rank5_runtime_slope():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 2, 4, 5)).astype(np.float32)
    s = rng.standard_normal((3, 1, 1, 5)).astype(np.float32)
    check(make("PRelu", [("x", x), ("s", s)], opset=16), {"x": x, "s": s})


def test_prelu_opset6_channelwise():
    """Before numpy broadcasting (opset 7) a slope of C values applies along axis 1."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    s = np.array([0.1, -0.5, 2.0], np.float32)
    for consts in ((), ("s",)):
        m = make("PRelu", [("x", x), ("s", s)], opset=6, consts=consts)
        rep = liteport.convert(m.SerializeToString())
        got = liteport.LiteRTModel(rep.tflite, rep)({"x": x} if consts else {"x": x, "s": s})["y0"]
        np.testing.assert_allclose(got, np.where(x < 0, x * s.reshape(3, 1, 1), x), rtol=1e-7)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_prelu_int(dtype):
    x = np.array([[-5, 3, 0, -2**20], [7, -1, 2, 9]], dtype)
    s = np.array([2, -3, 4, 5], dtype)
    check(make("PRelu", [("x", x), ("s", s)], opset=16), {"x": x, "s": s})


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.float16])
def test_relu_types(dtype):
    big = 127 if dtype == np.int8 else 2**40
    x = np.array([-big - (dtype == np.int8), -5, 0, 5, big]).astype(dtype)
    check(make("Relu", [("x", x)], opset=14), {"x": x}, ort=dtype != np.int64)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.float64])
def test_abs_neg_types(dtype):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    vals = [info.min, info.min + 1, -5, 0, 7, info.max] if info is not None else [-1e300, -2.5, 0, 3.25, 1e300]
    x = np.array([v for v in vals if info is None or info.min <= v <= info.max], dtype)
    check(make("Abs", [("x", x)], opset=13), {"x": x}, rtol=0, atol=0)
    if dtype not in (np.uint8, np.uint32):
        check(make("Neg", [("x", x)], opset=13), {"x": x}, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint16, np.uint32])
def test_sign_int(dtype):
    info = np.iinfo(dtype)
    x = np.array([v for v in [info.min, -2**40, -3, 0, 5, 2**40, info.max] if info.min <= v <= info.max], dtype)
    check(make("Sign", [("x", x)], opset=13), {"x": x})


def test_sign_float64_beyond_float32():
    """float64 SIGN runs in float64: 1e-300 would be 0 in float32"""
    x = np.array([1e-300, -1e-300, 0.0, -0.0, np.nan, 5e300, -2.0], np.float64)
    check(make("Sign", [("x", x)], opset=13), {"x": x}, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8])
def test_shrink_int(dtype):
    x = np.arange(0, 12).astype(dtype) if dtype == np.uint8 else np.arange(-6, 6).astype(dtype)
    check(make("Shrink", [("x", x)], {"lambd": 2.0, "bias": 1.0}, opset=9), {"x": x})


def test_clip_int_and_partial_bounds():
    x = np.array([-100, -3, 0, 4, 100], np.int32)
    lo = np.array(-4, np.int32)
    check(make("Clip", [("x", x), ("lo", lo)], opset=13, consts=("lo",)), {"x": x})
    x8 = np.array([0, 3, 200, 255], np.uint8)
    check(make("Clip", [("x", x8), ("lo", np.array(2, np.uint8)), ("hi", np.array(250, np.uint8))], opset=13),
          {"x": x8, "lo": np.array(2, np.uint8), "hi": np.array(250, np.uint8)})


def test_hardsigmoid_leakyrelu_attrs():
    x = grid(-10, 10, 200)
    check(make("HardSigmoid", [("x", x)], {"alpha": 0.3, "beta": 0.4}), {"x": x})
    check(make("LeakyRelu", [("x", x)], {"alpha": 0.05}, opset=16), {"x": x})


# ---------------------------------------------------------------------------------------------
# arithmetic on every integer type: wrap-around, truncating division, exact int64


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul"])
@pytest.mark.parametrize("dtype", INTS)
def test_arith_wraps(op, dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(3)
    a = rng.integers(info.min, info.max, (3, 4), dtype=dtype, endpoint=True)
    b = rng.integers(info.min, info.max, (4,), dtype=dtype, endpoint=True)
    if dtype in (np.int64,) and op == "Mul":
        b = rng.integers(-3000, 3000, (4,), dtype=dtype)
    check(make(op, [("a", a), ("b", b)], opset=14), {"a": a, "b": b})


@pytest.mark.parametrize("dtype", INTS)
def test_div_truncates(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(4)
    a = rng.integers(info.min // 2, info.max // 2, (5, 6), dtype=dtype)
    b = rng.integers(1, min(info.max, 1000), (5, 6), dtype=dtype)
    if info.min < 0:
        b = (b * rng.choice([-1, 1], (5, 6))).astype(dtype)
    a[0, :4] = np.array([7, -7, 7, -7] if info.min < 0 else [7, 8, 9, 10]).astype(dtype)
    b[0, :4] = np.array([2, 2, -2, -2] if info.min < 0 else [2, 2, 2, 2]).astype(dtype)
    check(make("Div", [("a", a), ("b", b)], opset=14), {"a": a, "b": b})


def test_div_int64_large():
    """Exact int64 division (TFLite has no int64 DIV): quotients up to 2^62, divisors up to 2^40."""
    rng = np.random.default_rng(5)
    a = rng.integers(-(2**62), 2**62, (200,), dtype=np.int64)
    b = rng.integers(1, 2**40, (200,), dtype=np.int64) * rng.choice([-1, 1], 200)
    b[:50] = rng.integers(1, 50, 50) * rng.choice([-1, 1], 50)
    a[-4:] = [2**62, -(2**62), 9007199254740993, -9007199254740993]
    b[-4:] = [3, 3, 7, -7]
    check(make("Div", [("a", a), ("b", b)], opset=14), {"a": a, "b": b})
    u = rng.integers(0, 2**32 - 1, (100,), dtype=np.uint32)
    v = rng.integers(1, 2**32 - 1, (100,), dtype=np.uint32)
    v[:30] = rng.integers(1, 100, 30)
    check(make("Div", [("a", u), ("b", v)], opset=14), {"a": u, "b": v})


@pytest.mark.parametrize("base,exp", [(np.float32, np.int64), (np.int32, np.float32), (np.int64, np.int64),
                                      (np.int32, np.int32), (np.float32, np.float32), (np.float64, np.int32)])
def test_pow_mixed_types(base, exp):
    a = np.array([[1, 2, 3, 4], [5, 6, 7, 2]]).astype(base)
    b = np.array([0, 1, 2, 3]).astype(exp)
    if np.dtype(exp).kind == "f":
        b = np.array([0.5, 1.5, 2, 3]).astype(exp)
    check(make("Pow", [("a", a), ("b", b)], opset=15), {"a": a, "b": b}, rtol=1e-6)


@pytest.mark.parametrize("e", [2.0, 0.5, 3.0, -1.0])
def test_pow_scalar_exponent(e):
    x = grid(0.1, 10, 100)
    check(make("Pow", [("x@N", x), ("e", np.array(e, np.float32))], opset=15, consts=("e",)), {"x": x}, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Mod


@pytest.mark.parametrize("fmod", [0, 1])
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.float32,
                                   np.float16, np.float64])
def test_mod(fmod, dtype):
    if np.dtype(dtype).kind == "f":
        a = np.array([[5.5, -5.5, 5.5, -5.5, 0.0, 7.25], [1e6 + 0.5, -3.0, 2.0, 3.0, -0.0, 100.0]], dtype)
        b = np.array([2.0, 2.0, -2.0, -2.0, 3.0, 0.75], dtype)
        if fmod == 0:  # onnxruntime rejects fmod=0 for floats; the reference evaluator follows the spec
            check(make("Mod", [("a", a), ("b", b)], {"fmod": 0}, opset=13), {"a": a, "b": b}, rtol=1e-6, ort=False)
            return
    else:
        info = np.iinfo(dtype)
        a = np.array([[7, -7, 7, -7, 0, info.max], [info.min + 1, 13, -13, 100, 5, 3]]).clip(info.min, info.max)
        b = np.array([3, 3, -3, -3, 5, 7]).clip(max(info.min, -5) if info.min < 0 else 1, info.max)
        a, b = a.astype(dtype), b.astype(dtype)
    check(make("Mod", [("a", a), ("b", b)], {"fmod": fmod}, opset=13), {"a": a, "b": b}, rtol=1e-6)


def test_mod_float_special():
    a = np.array([np.inf, -np.inf, np.nan, 3.0, -3.0, 3.0, -3.0, 0.0, 5.0], np.float32)
    b = np.array([2.0, 2.0, 2.0, np.inf, np.inf, -np.inf, -np.inf, 2.0, np.nan], np.float32)
    for fmod in (0, 1):
        check(make("Mod", [("a", a), ("b", b)], {"fmod": fmod}, opset=28), {"a": a, "b": b}, ort=False)


# ---------------------------------------------------------------------------------------------
# comparisons, logic, variadic ops, Where: broadcasting up to rank 5


@pytest.mark.parametrize("op", ["GreaterOrEqual", "LessOrEqual", "Equal", "Less", "Greater"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint32, np.uint8, np.int16])
def test_compare(op, dtype):
    rng = np.random.default_rng(6)
    a = rng.integers(0, 4, (2, 3, 1, 4, 5)).astype(dtype)
    b = rng.integers(0, 4, (3, 2, 1, 5)).astype(dtype)
    check(make(op, [("a", a), ("b", b)], opset=16), {"a": a, "b": b})


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_logic_rank5(op):
    rng = np.random.default_rng(7)
    a = rng.integers(0, 2, (2, 1, 3, 4, 1)).astype(bool)
    b = rng.integers(0, 2, (2, 2, 1, 4, 5)).astype(bool)
    check(make(op, [("a", a), ("b", b)], opset=7), {"a": a, "b": b})
    check(make("Not", [("a", a)], opset=1), {"a": a})


@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min"])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_variadic(op, dtype):
    rng = np.random.default_rng(8)
    xs = [rng.standard_normal(s).astype(dtype) for s in [(2, 3, 4), (4,), (3, 1)]]
    feeds = {f"x{i}": x for i, x in enumerate(xs)}
    check(make(op, list(feeds.items()), opset=13), feeds, rtol=1e-3 if dtype == np.float16 else 1e-6)
    check(make(op, [("x0", xs[0])], opset=13), {"x0": xs[0]})


@pytest.mark.parametrize("op", ["Max", "Min"])
@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.uint32, np.int64])
def test_max_min_int(op, dtype):
    info = np.iinfo(dtype)
    a = np.array([info.min, -1 if info.min else 1, 0, info.max]).astype(dtype)
    b = np.array([[info.max], [info.min]]).astype(dtype)
    check(make(op, [("a", a), ("b", b)], opset=13), {"a": a, "b": b}, ort=dtype != np.uint16)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.uint16, np.uint32])
def test_where_exact_types(dtype):
    """SELECT_V2 moves any element type: float64 values are not rounded through float32"""
    c = np.array([[True, False, True], [False, True, False]])
    a = (np.arange(6).reshape(2, 3) * 1.1 + 0.123456789012345).astype(dtype)
    b = np.array([7.000000001]).astype(dtype)
    check(make("Where", [("c", c), ("a", a), ("b", b)], opset=16), {"c": c, "a": a, "b": b}, rtol=0, atol=0,
          ort=dtype != np.uint16)


def test_where_broadcast():
    c = np.array([[True], [False]])
    a = np.array([2**40, -(2**40), 3], np.int64)
    b = np.array(-1, np.int64)
    check(make("Where", [("c", c), ("a", a), ("b", b)], opset=16), {"c": c, "a": a, "b": b})
    rng = np.random.default_rng(14)  # rank 6 (SELECT_V2 keeps op version 1)
    c = rng.integers(0, 2, (2, 1, 3, 1, 2, 1)).astype(bool)
    a = rng.standard_normal((1, 2, 1, 4, 2, 3)).astype(np.float32)
    b = rng.standard_normal((2, 1, 1, 1, 1, 1)).astype(np.float32)
    check(make("Where", [("c", c), ("a", a), ("b", b)], opset=16), {"c": c, "a": a, "b": b})


# ---------------------------------------------------------------------------------------------
# bits


def full_range(dtype, shape, seed):
    info = np.iinfo(dtype)
    return np.random.default_rng(seed).integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
@pytest.mark.parametrize("dtype", BIT_INTS)
def test_bitwise(op, dtype):
    a = full_range(dtype, (3, 4, 5), 9)
    b = full_range(dtype, (4, 1), 10)
    info = np.iinfo(dtype)
    a[0, 0, :4] = [info.min, info.max, 0, info.min]
    b[0, 0] = info.min
    check(make(op, [("a", a), ("b", b)], opset=18), {"a": a, "b": b})


@pytest.mark.parametrize("dtype", BIT_INTS)
def test_bitwise_not(dtype):
    x = full_range(dtype, (2, 50), 11)
    check(make("BitwiseNot", [("x@N", x)], opset=18), {"x": x})


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32])
def test_bitshift_unsigned_opset11(direction, dtype):
    bits = np.dtype(dtype).itemsize * 8
    x = full_range(dtype, (3, bits), 12)
    y = np.arange(bits, dtype=dtype)
    check(make("BitShift", [("x", x), ("y", y)], {"direction": direction}, opset=11), {"x": x, "y": y})


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("dtype", BIT_INTS)
def test_bitshift_opset28_out_of_range(direction, dtype):
    """Opset 28: signed types; shifts that are negative or at least the bit width give the sign
    fill (-1 for a right shift of a negative value, else 0)."""
    bits = np.dtype(dtype).itemsize * 8
    x = full_range(dtype, (4, 1), 13)
    x[0, 0] = np.iinfo(dtype).min
    amounts = list(range(0, bits + 3)) + ([-1, -bits, np.iinfo(dtype).min] if np.iinfo(dtype).min < 0 else
                                          [np.iinfo(dtype).max])
    y = np.array(amounts).astype(dtype)
    check(make("BitShift", [("x", x), ("y", y)], {"direction": direction}, opset=28), {"x": x, "y": y}, ort=False)


@pytest.mark.parametrize("src,dst", [(np.float32, np.int32), (np.int32, np.float32), (np.float64, np.int64),
                                     (np.int64, np.float64), (np.uint8, np.int8), (np.bool_, np.uint8),
                                     (np.uint16, np.int16), (np.float16, np.uint16), (np.uint32, np.int32)])
def test_bitcast(src, dst):
    x = np.array([[1.5, -2.0, 0.0], [3.25, 7.0, 1.0]]).astype(src)
    if src in (np.int32, np.int64):
        x = np.array([[1069547520, -1, 0], [7, 2**30, 1]]).astype(src)
    check(make("BitCast", [("x", x)], {"to": NP2ONNX[dst]}, opset=26), {"x": x}, rtol=0, atol=0, ort=False)


# ---------------------------------------------------------------------------------------------
# casts, Size, EyeLike


@pytest.mark.parametrize("src,dst", [(np.float32, np.int32), (np.int64, np.float32), (np.bool_, np.float32),
                                     (np.float32, np.bool_), (np.float64, np.float16), (np.int32, np.uint8),
                                     (np.uint32, np.int64), (np.float16, np.float64)])
def test_castlike(src, dst):
    x = np.array([[-3.7, 0.0, 2.5], [1.0, 200.0, -0.2]]).astype(src) if np.dtype(src).kind == "f" else \
        np.array([[-3, 0, 300], [1, 2**31 - 1, 7]]).astype(src) if src != np.bool_ else np.array([[True, False, True]])
    if src == np.uint32:
        x = np.array([[0, 2**32 - 1, 5]], np.uint32)
    like = np.zeros((1,), dst)
    check(make("CastLike", [("x", x), ("like", like)], opset=21, consts=("like",)), {"x": x}, rtol=0, atol=0)


def test_size_static_and_dynamic():
    x = np.zeros((3, 4, 5), np.float32)
    rep = check(make("Size", [("x", x)], opset=21), {"x": x})
    assert "SHAPE" not in dict(rep.tflite_ops)  # a static size is a constant
    for batch in (1, 3):
        xb = np.zeros((batch, 4, 5), np.float32)
        check(make("Size", [("x@N", xb)], opset=21), {"x": xb})


@pytest.mark.parametrize("k,dtype,shape", [(0, None, (4, 4)), (1, onnx.TensorProto.FLOAT, (4, 5)),
                                           (-2, onnx.TensorProto.INT64, (5, 3)), (7, None, (3, 3))])
def test_eyelike(k, dtype, shape):
    x = np.zeros(shape, np.int32)
    attrs = {"k": k}
    if dtype is not None:
        attrs["dtype"] = dtype
    check(make("EyeLike", [("x", x)], attrs, opset=22), {"x": x})


# ---------------------------------------------------------------------------------------------
# constant folding: the reference kernels give the same values as the runtimes


@pytest.mark.parametrize("op,a,b,attrs,opset", [
    ("Mod", np.array([7, -7, 7, -7], np.int64), np.array([3, 3, -3, -3], np.int64), {"fmod": 1}, 13),
    ("Mod", np.array([7, -7, 7, -7], np.int32), np.array([3, 3, -3, -3], np.int32), {}, 13),
    ("BitShift", np.array([1, 200, 255], np.uint8), np.array([3, 1, 8], np.uint8), {"direction": "LEFT"}, 11),
    ("BitShift", np.array([-100, 64, -1], np.int32), np.array([3, 40, 31], np.int32), {"direction": "RIGHT"}, 28),
    ("BitwiseAnd", np.array([12, -7], np.int64), np.array([10, 3], np.int64), {}, 18),
    ("GreaterOrEqual", np.array([1.0, 2.0], np.float32), np.array([2.0, 2.0], np.float32), {}, 16),
    ("Div", np.array([7, -7], np.int64), np.array([2, 2], np.int64), {}, 14),
    ("PRelu", np.array([-2.0, 3.0], np.float32), np.array([0.5], np.float32), {}, 16),
])
def test_constant_folding(op, a, b, attrs, opset):
    m = make(op, [("a", a), ("b", b)], attrs, opset, consts=("a", "b"))
    rep = liteport.convert(m.SerializeToString())
    got = liteport.LiteRTModel(rep.tflite, rep)({})["y0"]
    ref = reference(m, {}, use_ort=False)[0]
    assert got.dtype == ref.dtype and np.array_equal(got, ref), (got, ref)
    assert op.upper() not in dict(rep.tflite_ops)


@pytest.mark.parametrize("op,attrs", [("Erf", {}), ("Sinh", {}), ("Atanh", {}), ("Round", {}), ("Selu", {}),
                                      ("Gelu", {"approximate": "tanh"}), ("Softplus", {}), ("Sign", {})])
def test_constant_folding_float(op, attrs):
    x = np.array([-2.5, -0.5, 0.0, 0.5, 0.75], np.float32)
    m = make(op, [("x", x)], attrs, 22 if op not in ("Gelu", "Erf", "Sign") else 20 if op == "Gelu" else 13,
             consts=("x",))
    rep = liteport.convert(m.SerializeToString())
    got = liteport.LiteRTModel(rep.tflite, rep)({})["y0"]
    ref = reference(m, {}, use_ort=False)[0]
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)
