"""Attention, RotaryEmbedding, LinearAttention, CausalConvWithState and SwiGLU (src/ops/attention.c)
on hand-built ONNX models: the combinations the backend node tests miss (dynamic batch, broadcast
and short masks, causal attention over a cache, softcap with the debug output, GQA with a cache,
float16), each converted by liteport and compared with onnxruntime in LiteRT."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper

import liteport

RNG = np.random.default_rng(7)


def make_model(op, inputs, outputs, attrs=None, opset=23, inits=()):
    """One `op` node; inputs are (name, elem type, shape) with str dims for dynamic ones, '' for
    an omitted optional input; output types come from ONNX shape inference."""
    node = helper.make_node(op, [i[0] for i in inputs], outputs, **(attrs or {}))
    init_names = {t.name for t in inits}
    vis = [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs if n and n not in init_names]
    g = helper.make_graph([node], "g", vis, [helper.make_value_info(o, onnx.TypeProto()) for o in outputs if o],
                          initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    inferred = onnx.shape_inference.infer_shapes(m)
    types = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    del m.graph.output[:]
    m.graph.output.extend(types[o] for o in outputs if o)
    return m


def check(m, *feeds, rtol=1e-4, min_ref=1e-3):
    """Convert once; every feed (a dict) must match onnxruntime in LiteRT, on outputs that are
    not all tiny (a vacuous check)."""
    rep = liteport.convert(m)
    for feed in feeds:
        v = liteport.verify(m, rep.tflite, feed, report=rep, rtol=rtol)
        assert v.ok, str(v)
        for c in v.checks:
            assert c.max_ref >= min_ref, f"output {c.name} is ~0: a vacuous check\n{v}"
    return rep


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


# ---------------- Attention ----------------


def test_attention_4d_gqa_dynamic_batch_broadcast_mask():
    m = make_model("Attention", [("Q", TP.FLOAT, ["B", 4, 5, 8]), ("K", TP.FLOAT, ["B", 2, 7, 8]),
                                 ("V", TP.FLOAT, ["B", 2, 7, 6]), ("mask", TP.FLOAT, [1, 5, 7])], ["Y"])
    feeds = [{"Q": rand(b, 4, 5, 8), "K": rand(b, 2, 7, 8), "V": rand(b, 2, 7, 6), "mask": rand(1, 5, 7)}
             for b in (1, 3)]
    check(m, *feeds)


def reference(m, feed):
    """The ONNX reference evaluator, for what onnxruntime does not run."""
    from onnx.reference import ReferenceEvaluator

    return ReferenceEvaluator(m).run(None, feed)


def test_attention_3d_causal_with_cache_bool_mask_and_bias_output():
    # total length 4 + 3 = 7; the debug output (mode 2) holds -inf where keys are masked
    m = make_model("Attention", [("Q", TP.FLOAT, ["B", 3, 16]), ("K", TP.FLOAT, ["B", 3, 8]),
                                 ("V", TP.FLOAT, ["B", 3, 8]), ("mask", TP.BOOL, [3, 7]),
                                 ("pk", TP.FLOAT, ["B", 2, 4, 4]), ("pv", TP.FLOAT, ["B", 2, 4, 4])],
                   ["Y", "present_key", "present_value", "qk"],
                   {"q_num_heads": 4, "kv_num_heads": 2, "is_causal": 1, "qk_matmul_output_mode": 2})
    mask = np.ones((3, 7), bool)
    mask[1, 0] = False
    rep = liteport.convert(m)
    for b in (1, 2):
        feed = {"Q": rand(b, 3, 16), "K": rand(b, 3, 8), "V": rand(b, 3, 8), "mask": mask,
                "pk": rand(b, 2, 4, 4), "pv": rand(b, 2, 4, 4)}
        v = liteport.verify(m, rep.tflite, feed, report=rep)
        assert all(c.ok for c in v.checks if c.name != "qk"), str(v)
        # onnxruntime writes the lowest float where ONNX (and the reference) have -inf
        got = liteport.LiteRTModel(rep.tflite, rep)(feed)["qk"]
        ref = reference(m, feed)[3]
        assert np.array_equal(np.isneginf(ref), np.isneginf(got)) and np.isneginf(ref).any()
        fin = np.isfinite(ref)
        assert np.allclose(ref[fin], got[fin], rtol=1e-4, atol=1e-4)


def test_attention_short_mask_is_padded_with_minus_infinity():
    # opset 24: a mask shorter than the key sequence is padded with -inf (False); onnxruntime
    # refuses such masks, so the reference evaluator is the oracle
    m = make_model("Attention", [("Q", TP.FLOAT, [2, 2, 3, 4]), ("K", TP.FLOAT, [2, 2, 6, 4]),
                                 ("V", TP.FLOAT, [2, 2, 6, 4]), ("mask", TP.FLOAT, [2, 1, 3, 4])], ["Y"], opset=24)
    feed = {"Q": rand(2, 2, 3, 4), "K": rand(2, 2, 6, 4), "V": rand(2, 2, 6, 4), "mask": rand(2, 1, 3, 4)}
    rep = liteport.convert(m)
    y = liteport.LiteRTModel(rep.tflite, rep)(feed)["Y"]
    assert np.allclose(reference(m, feed)[0], y, rtol=1e-4, atol=1e-5)


def test_attention_softcap_scale_and_softcapped_debug_output():
    m = make_model("Attention", [("Q", TP.FLOAT, [2, 3, 4, 8]), ("K", TP.FLOAT, [2, 3, 6, 8]),
                                 ("V", TP.FLOAT, [2, 3, 6, 8])], ["Y", "", "", "qk"],
                   {"softcap": 1.5, "scale": 0.3, "qk_matmul_output_mode": 1})
    check(m, {"Q": rand(2, 3, 4, 8), "K": rand(2, 3, 6, 8), "V": rand(2, 3, 6, 8)})


def test_attention_fully_masked_row_gives_zeros():
    m = make_model("Attention", [("Q", TP.FLOAT, [1, 2, 3, 4]), ("K", TP.FLOAT, [1, 2, 5, 4]),
                                 ("V", TP.FLOAT, [1, 2, 5, 4]), ("mask", TP.BOOL, [3, 5])], ["Y"])
    mask = RNG.random((3, 5)) > 0.3
    mask[0] = False
    mask[1, 2] = True
    feed = {"Q": rand(1, 2, 3, 4), "K": rand(1, 2, 5, 4), "V": rand(1, 2, 5, 4), "mask": mask}
    rep = liteport.convert(m)
    y = liteport.LiteRTModel(rep.tflite, rep)(feed)["Y"]
    assert np.all(y[:, :, 0] == 0) and np.all(np.isfinite(y))
    assert np.allclose(reference(m, feed)[0], y, rtol=1e-4, atol=1e-5)


def test_attention_float16_gqa_causal():
    m = make_model("Attention", [("Q", TP.FLOAT16, [1, 4, 3, 8]), ("K", TP.FLOAT16, [1, 2, 3, 8]),
                                 ("V", TP.FLOAT16, [1, 2, 3, 8])], ["Y"], {"is_causal": 1})
    check(m, {"Q": rand(1, 4, 3, 8, dtype=np.float16), "K": rand(1, 2, 3, 8, dtype=np.float16),
              "V": rand(1, 2, 3, 8, dtype=np.float16)}, rtol=2e-3)


def test_attention_nonpad_kv_seqlen_causal():
    m = make_model("Attention", [("Q", TP.FLOAT, [2, 2, 3, 8]), ("K", TP.FLOAT, [2, 2, 6, 8]),
                                 ("V", TP.FLOAT, [2, 2, 6, 8]), ("", None, None), ("", None, None), ("", None, None),
                                 ("n", TP.INT64, [2])], ["Y"], {"is_causal": 1}, opset=24)
    check(m, {"Q": rand(2, 2, 3, 8), "K": rand(2, 2, 6, 8), "V": rand(2, 2, 6, 8), "n": np.array([6, 4])})


def test_attention_dynamic_sequence_without_mask():
    m = make_model("Attention", [("Q", TP.FLOAT, ["B", "S", 16]), ("K", TP.FLOAT, ["B", "T", 16]),
                                 ("V", TP.FLOAT, ["B", "T", 16])], ["Y"], {"q_num_heads": 2, "kv_num_heads": 2})
    check(m, {"Q": rand(2, 3, 16), "K": rand(2, 5, 16), "V": rand(2, 5, 16)},
          {"Q": rand(1, 4, 16), "K": rand(1, 2, 16), "V": rand(1, 2, 16)})


def test_attention_causal_gqa_dynamic_sequence_and_cache():
    # the causal frontier is built at run time from the sequence lengths (RANGE), the query
    # heads of a kv head become a batch axis of a rank-5 product
    m = make_model("Attention", [("Q", TP.FLOAT, ["B", 4, "S", 8]), ("K", TP.FLOAT, ["B", 2, "S", 8]),
                                 ("V", TP.FLOAT, ["B", 2, "S", 8]), ("", None, None),
                                 ("pk", TP.FLOAT, ["B", 2, "P", 8]), ("pv", TP.FLOAT, ["B", 2, "P", 8])],
                   ["Y", "present_key", "present_value"], {"is_causal": 1})
    feeds = [{"Q": rand(b, 4, s, 8), "K": rand(b, 2, s, 8), "V": rand(b, 2, s, 8), "pk": rand(b, 2, p, 8),
              "pv": rand(b, 2, p, 8)} for b, s, p in ((1, 3, 2), (2, 1, 5), (1, 4, 0))]
    check(m, *feeds)


def test_attention_dynamic_window_3d():
    m = make_model("Attention", [("Q", TP.FLOAT, [1, "S", 8]), ("K", TP.FLOAT, [1, "S", 8]),
                                 ("V", TP.FLOAT, [1, "S", 8])], ["Y"],
                   {"q_num_heads": 2, "kv_num_heads": 2, "left_window_size": 1, "right_window_size": 2}, opset=25)
    for s in (3, 6):
        feed = {"Q": rand(1, s, 8), "K": rand(1, s, 8), "V": rand(1, s, 8)}
        rep = liteport.convert(m)
        y = liteport.LiteRTModel(rep.tflite, rep)(feed)["Y"]
        assert np.allclose(reference(m, feed)[0], y, rtol=1e-4, atol=1e-5)


# ---------------- RotaryEmbedding ----------------


@pytest.mark.parametrize("interleaved", [0, 1])
def test_rotary_3d_partial_dynamic_batch(interleaved):
    m = make_model("RotaryEmbedding", [("x", TP.FLOAT, ["B", 5, 24]), ("cos", TP.FLOAT, [16, 2]),
                                       ("sin", TP.FLOAT, [16, 2]), ("pos", TP.INT64, ["B", 5])], ["y"],
                   {"num_heads": 2, "rotary_embedding_dim": 4, "interleaved": interleaved})
    ang = RNG.random((16, 2)).astype(np.float32) * 3
    feeds = [{"x": rand(b, 5, 24), "cos": np.cos(ang), "sin": np.sin(ang), "pos": RNG.integers(0, 16, (b, 5))}
             for b in (1, 3)]
    check(m, *feeds)


def test_rotary_4d_cache_per_batch():
    m = make_model("RotaryEmbedding", [("x", TP.FLOAT, [2, 3, 4, 8]), ("cos", TP.FLOAT, [2, 4, 4]),
                                       ("sin", TP.FLOAT, [2, 4, 4])], ["y"], {"interleaved": 1})
    check(m, {"x": rand(2, 3, 4, 8), "cos": rand(2, 4, 4), "sin": rand(2, 4, 4)})


# ---------------- LinearAttention / CausalConvWithState / SwiGLU ----------------


@pytest.mark.parametrize("rule", ["linear", "gated", "delta", "gated_delta"])
def test_linear_attention_gqa_with_state(rule):
    ins = [("q", TP.FLOAT, ["B", 3, 16]), ("k", TP.FLOAT, ["B", 3, 8]), ("v", TP.FLOAT, ["B", 3, 6]),
           ("s", TP.FLOAT, ["B", 2, 4, 3])]
    feeds = [{"q": rand(b, 3, 16), "k": rand(b, 3, 8) * 0.5, "v": rand(b, 3, 6), "s": rand(b, 2, 4, 3)} for b in (1, 2)]
    if "gated" in rule:
        ins.append(("g", TP.FLOAT, ["B", 3, 2]))  # per-head decay
        for f in feeds:
            f["g"] = -np.abs(rand(f["q"].shape[0], 3, 2))
    else:
        ins.append(("", None, None))
    if "delta" in rule:
        ins.append(("beta", TP.FLOAT, ["B", 3, 1]))
        for f in feeds:
            f["beta"] = RNG.random((f["q"].shape[0], 3, 1)).astype(np.float32)
    m = make_model("LinearAttention", ins, ["y", "state"],
                   {"q_num_heads": 4, "kv_num_heads": 2, "update_rule": rule}, opset=27)
    check(m, *feeds)


def test_linear_attention_long_sequence():
    # more steps than one TFLite op may have outputs: the split and the stack go in groups
    m = make_model("LinearAttention", [("q", TP.FLOAT, [1, 70, 8]), ("k", TP.FLOAT, [1, 70, 8]),
                                       ("v", TP.FLOAT, [1, 70, 8]), ("", None, None), ("g", TP.FLOAT, [1, 70, 8])],
                   ["y", "state"], {"q_num_heads": 2, "kv_num_heads": 2, "update_rule": "gated"}, opset=27)
    check(m, {"q": rand(1, 70, 8), "k": rand(1, 70, 8) * 0.3, "v": rand(1, 70, 8), "g": -np.abs(rand(1, 70, 8))})


def test_causal_conv_silu_constant_weights_dynamic_batch():
    w = helper.make_tensor("w", TP.FLOAT, [3, 1, 4], rand(3, 1, 4).ravel())
    b = helper.make_tensor("b", TP.FLOAT, [3], rand(3))
    m = make_model("CausalConvWithState", [("x", TP.FLOAT, ["B", 3, 6]), ("w", TP.FLOAT, [3, 1, 4]),
                                           ("b", TP.FLOAT, [3]), ("s", TP.FLOAT, ["B", 3, 3])],
                   ["y", "state"], {"activation": "silu"}, opset=27, inits=[w, b])
    check(m, *[{"x": rand(n, 3, 6), "s": rand(n, 3, 3)} for n in (1, 3)])


def test_swiglu_matches_its_definition():
    # onnxruntime has no SwiGLU yet: the same numbers from Mul/Sigmoid
    m = make_model("SwiGLU", [("a", TP.FLOAT, ["B", 6]), ("b", TP.FLOAT, ["B", 6])], ["y"], {"alpha": 1.7}, opset=28)
    rep = liteport.convert(m)
    a, b = rand(3, 6), rand(3, 6)
    y = liteport.LiteRTModel(rep.tflite, rep)({"a": a, "b": b})["y"]
    assert np.allclose(y, a / (1 + np.exp(-1.7 * a)) * b, rtol=1e-5, atol=1e-6)
