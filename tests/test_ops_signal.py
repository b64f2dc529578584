"""Windows, MelWeightMatrix, DFT and STFT (src/ops/signal.c) on hand-built ONNX models: folded
and run-time windows, every DFT mode with dft_length cutting and padding, negative axes, dynamic
batch, STFT with constant and run-time windows, compared with onnxruntime in LiteRT."""
import os
import sys

import numpy as np
import pytest
from onnx import TensorProto as TP
from onnx import helper

import liteport

sys.path.insert(0, os.path.dirname(__file__))
from test_ops_attention import check, make_model  # noqa: E402

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
@pytest.mark.parametrize("periodic", [0, 1])
def test_window_constant_size_is_folded(op, periodic):
    size = helper.make_tensor("n", TP.INT64, [], [12])
    m = make_model(op, [("n", TP.INT64, [])], ["y"], {"periodic": periodic, "output_datatype": TP.DOUBLE},
                   opset=17, inits=[size])
    rep = check(m, {})
    assert rep.n_tflite_ops == 0 or "COS" not in dict(rep.tflite_ops)


@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
def test_window_run_time_size(op):
    m = make_model(op, [("n", TP.INT32, [])], ["y"], {"periodic": 0}, opset=17)
    check(m, {"n": np.array(9, np.int32)}, {"n": np.array(16, np.int32)}, rtol=1e-5)


def test_mel_weight_matrix_folded():
    vals = [("bins", TP.INT64, 8), ("dft", TP.INT64, 64), ("rate", TP.INT64, 8000), ("lo", TP.FLOAT, 100.0),
            ("hi", TP.FLOAT, 3500.0)]
    inits = [helper.make_tensor(n, t, [], [v]) for n, t, v in vals]
    m = make_model("MelWeightMatrix", [(n, t, []) for n, t, _ in vals], ["y"], opset=17, inits=inits)
    check(m, {})


def test_mel_weight_matrix_run_time_inputs():
    ins = [("bins", TP.INT64, []), ("dft", TP.INT64, []), ("rate", TP.INT64, []), ("lo", TP.FLOAT, []),
           ("hi", TP.FLOAT, [])]
    m = make_model("MelWeightMatrix", ins, ["y"], opset=17)
    check(m, {"bins": np.array(10), "dft": np.array(128), "rate": np.array(16000), "lo": np.array(20.0, np.float32),
              "hi": np.array(7600.0, np.float32)},
          {"bins": np.array(6), "dft": np.array(31), "rate": np.array(8000), "lo": np.array(0.0, np.float32),
           "hi": np.array(3500.0, np.float32)})


CASES = [
    # (input shape, attrs, dft_length, axis)
    ((2, 8, 1), {}, None, 1),                         # real -> complex
    ((2, 8, 2), {}, None, -2),                        # complex, negative axis
    ((2, 8, 1), {"onesided": 1}, None, 1),            # RFFT
    ((2, 8, 1), {"onesided": 1}, 11, 1),              # RFFT zero-padded to an odd length
    ((3, 7, 5, 2), {}, 4, 1),                         # cut to 4, inner axes kept
    ((2, 6, 2), {"inverse": 1}, None, 1),             # IDFT
    ((2, 5, 2), {"inverse": 1, "onesided": 1}, None, 1),  # IRFFT, even output
    ((2, 5, 2), {"inverse": 1, "onesided": 1}, 9, 1),     # IRFFT, odd output
    ((4, 3, 2), {}, None, 0),                         # along the first axis
]


@pytest.mark.parametrize("shape,attrs,length,axis", CASES)
def test_dft_modes(shape, attrs, length, axis):
    ins = [("x", TP.FLOAT, list(shape))]
    inits = [helper.make_tensor("axis", TP.INT64, [], [axis])]
    if length is not None:
        inits.append(helper.make_tensor("len", TP.INT64, [], [length]))
        ins.append(("len", TP.INT64, []))
    else:
        ins.append(("", None, None))
    ins.append(("axis", TP.INT64, []))
    m = make_model("DFT", ins, ["y"], attrs, opset=20, inits=inits)
    check(m, {"x": RNG.standard_normal(shape).astype(np.float32)})


def test_dft_opset17_attribute_axis_dynamic_batch():
    m = make_model("DFT", [("x", TP.FLOAT, ["B", 6, 3, 1])], ["y"], {"axis": 2, "onesided": 1}, opset=17)
    check(m, *[{"x": RNG.standard_normal((b, 6, 3, 1)).astype(np.float32)} for b in (1, 3)])


def test_dft_run_time_axis_picks_the_named_axis():
    m = make_model("DFT", [("x", TP.FLOAT, [2, 5, 5, 2]), ("", None, None), ("axis", TP.INT64, [])], ["y"], opset=20)
    x = RNG.standard_normal((2, 5, 5, 2)).astype(np.float32)
    check(m, {"x": x, "axis": np.array(2)}, {"x": x, "axis": np.array(-3)})


@pytest.mark.parametrize("constant_window", [False, True])
def test_stft_with_window(constant_window):
    win = np.hanning(10).astype(np.float32)
    inits = [helper.make_tensor("step", TP.INT64, [], [3])]
    if constant_window:
        inits.append(helper.make_tensor("w", TP.FLOAT, [10], win))
    m = make_model("STFT", [("x", TP.FLOAT, ["B", 40, 1]), ("step", TP.INT64, []), ("w", TP.FLOAT, [10])],
                   ["y"], opset=17, inits=inits)
    feeds = [{"x": RNG.standard_normal((b, 40, 1)).astype(np.float32)} for b in (1, 2)]
    if not constant_window:
        for f in feeds:
            f["w"] = win
    check(m, *feeds)


def test_stft_run_time_step():
    m = make_model("STFT", [("x", TP.FLOAT, [1, 40, 2]), ("step", TP.INT64, []), ("w", TP.FLOAT, [10])], ["y"],
                   {"onesided": 0}, opset=17)
    x, w = RNG.standard_normal((1, 40, 2)).astype(np.float32), np.hamming(10).astype(np.float32)
    check(m, {"x": x, "step": np.array(4), "w": w}, {"x": x, "step": np.array(7), "w": w})


def test_stft_run_time_frame_length_without_window_is_refused_cleanly():
    m = make_model("STFT", [("x", TP.FLOAT, [1, 40, 1]), ("step", TP.INT64, []), ("", None, None),
                            ("len", TP.INT64, [])], ["y"], opset=17)
    with pytest.raises(liteport.ConversionError) as e:
        liteport.convert(m)
    assert e.value.status == "unsupported" and "frame_length" in e.value.message
