"""Recurrent networks (LSTM, GRU, RNN): PyTorch modules through liteport.export with both
exporters, and hand-built ONNX models for the attributes PyTorch never writes (activations with
alpha/beta, clip, input_forget, linear_before_reset, layout 1, sequence_lens, peepholes, runtime
weights, float64), each converted and checked against onnxruntime in LiteRT."""
import os
import sys

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

import liteport

sys.path.insert(0, os.path.dirname(__file__))
from helpers import assert_verified, run_litert  # noqa: E402

EXPORTERS = ["dynamo", "torchscript"]


# ---------------------------------------------------------------------------------------------
# PyTorch modules


class Seq(nn.Module):
    """Runs a recurrent module and returns every output tensor: y, h (and c)."""

    def __init__(self, m, with_state=False):
        super().__init__()
        self.m = m
        self.with_state = with_state

    def forward(self, x, *state):
        if self.with_state:
            state = state if len(state) > 1 else state[0]
            y, s = self.m(x, state)
        else:
            y, s = self.m(x)
        return (y,) + tuple(s) if isinstance(s, tuple) else (y, s)


TORCH_CASES = {
    # name: (module factory, input shape, batch_first (the batch is dim 0 and stays dynamic))
    "lstm": (lambda: nn.LSTM(5, 7), (6, 2, 5), False),
    "lstm_bidirectional_2layers_batch_first": (
        lambda: nn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True), (2, 6, 5), True),
    "lstm_nobias_batch_first": (lambda: nn.LSTM(4, 3, bias=False, batch_first=True), (2, 5, 4), True),
    "gru": (lambda: nn.GRU(5, 7), (6, 2, 5), False),
    "gru_bidirectional_2layers": (lambda: nn.GRU(5, 7, num_layers=2, bidirectional=True), (6, 2, 5), False),
    "gru_batch_first": (lambda: nn.GRU(5, 8, batch_first=True), (2, 4, 5), True),
    "rnn_tanh_bidirectional_batch_first": (
        lambda: nn.RNN(5, 7, bidirectional=True, batch_first=True), (2, 6, 5), True),
    "rnn_relu_2layers": (lambda: nn.RNN(5, 7, num_layers=2, nonlinearity="relu"), (6, 2, 5), False),
}


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_torch_recurrent(name, exporter, tmp_path):
    make, shape, batch_first = TORCH_CASES[name]
    torch.manual_seed(0)
    module = Seq(make()).eval()
    x = torch.randn(*shape)
    report = liteport.export(module, (x,), tmp_path / f"{name}.tflite", exporter=exporter,
                             dynamic_batch=batch_first)
    v = assert_verified(report)
    if batch_first:  # the batch stays dynamic: batch 1 and 3 were both run
        assert sorted({c.batch for c in v.checks}) == [1, 3]


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_torch_initial_state(kind, exporter, tmp_path):
    """initial states as model inputs ([layers*directions, batch, hidden]: the batch is not dim 0)."""
    torch.manual_seed(0)
    cls = nn.LSTM if kind == "lstm" else nn.GRU
    module = Seq(cls(4, 6, num_layers=2, bidirectional=True), with_state=True).eval()
    x, h0 = torch.randn(5, 3, 4), torch.randn(4, 3, 6)
    args = (x, h0, torch.randn(4, 3, 6)) if kind == "lstm" else (x, h0)
    report = liteport.export(module, args, tmp_path / f"{kind}_state.tflite", exporter=exporter,
                             dynamic_batch=False)
    assert_verified(report)


# ---------------------------------------------------------------------------------------------
# hand-built ONNX models

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def rnn_model(op, *, T=5, B=3, I=4, H=6, direction="forward", layout=0, bias=True, initial_h=False,
              initial_c=False, peepholes=False, seq_lens=None, runtime_weights=False, dtype=np.float32,
              dynamic_batch=False, outputs=("Y", "Y_h", "Y_c"), opset=14, seed=0, round_to=None, **attrs):
    """An ONNX model with one recurrent node; returns (model, {input name: value})."""
    rng = np.random.default_rng(seed)
    D = 2 if direction == "bidirectional" else 1
    g = GATES[op]
    onnx_t = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.float16: TensorProto.FLOAT16}[dtype]
    bdim = "batch" if dynamic_batch else B
    x_shape = [T, bdim, I] if layout == 0 else [bdim, T, I]
    state_shape = [D, bdim, H] if layout == 0 else [bdim, D, H]
    # weights first: models that differ only in the batch size get the same weights
    params = {"W": (rng.standard_normal((D, g * H, I)) * 0.5).astype(dtype),
              "R": (rng.standard_normal((D, g * H, H)) * 0.5).astype(dtype)}
    if bias:
        params["B"] = (rng.standard_normal((D, 2 * g * H)) * 0.5).astype(dtype)
    if peepholes:
        params["P"] = (rng.standard_normal((D, 3 * H)) * 0.5).astype(dtype)
    feeds = {"X": rng.standard_normal([T, B, I] if layout == 0 else [B, T, I]).astype(dtype)}
    inputs = [helper.make_tensor_value_info("X", onnx_t, x_shape)]
    inits = []
    for k, v in params.items():
        if round_to is not None:  # a float32 reference of a float16 model: the same weight values
            v = v.astype(round_to).astype(dtype)
        if runtime_weights:
            inputs.append(helper.make_tensor_value_info(k, onnx_t, list(v.shape)))
            feeds[k] = v
        else:
            inits.append(numpy_helper.from_array(v, k))
    names = ["X", "W", "R", "B" if bias else ""]
    if seq_lens is not None:
        lens = np.asarray(seq_lens, np.int32)
        if isinstance(seq_lens, tuple):  # a tuple: a model input; a list: a constant
            inputs.append(helper.make_tensor_value_info("L", TensorProto.INT32, [bdim]))
            feeds["L"] = lens
        else:
            inits.append(numpy_helper.from_array(lens, "L"))
    names.append("L" if seq_lens is not None else "")
    for flag, nm in ((initial_h, "H0"), (initial_c, "C0")):
        if flag:
            inputs.append(helper.make_tensor_value_info(nm, onnx_t, state_shape))
            s = [D, B, H] if layout == 0 else [B, D, H]
            feeds[nm] = rng.standard_normal(s).astype(dtype)
    names.append("H0" if initial_h else "")
    if op == "LSTM":
        names += ["C0" if initial_c else "", "P" if peepholes else ""]
    while names and names[-1] == "":
        names.pop()
    outs = [o if o in outputs else "" for o in (["Y", "Y_h", "Y_c"] if op == "LSTM" else ["Y", "Y_h"])]
    while outs and outs[-1] == "":
        outs.pop()
    if layout:
        attrs["layout"] = layout
    node = helper.make_node(op, names, outs, hidden_size=H, direction=direction, **attrs)
    y_shape = [T, D, bdim, H] if layout == 0 else [bdim, T, D, H]
    out_vi = [helper.make_tensor_value_info(o, onnx_t, y_shape if o == "Y" else state_shape) for o in outs if o]
    graph = helper.make_graph([node], "rnn", inputs, out_vi, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, feeds


def check(model, feeds, tmp_path, name="m"):
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    report = liteport.convert(str(path), str(tmp_path / f"{name}.tflite"))
    res = liteport.verify(str(path), str(tmp_path / f"{name}.tflite"), inputs=feeds, report=report)
    assert res.ok, str(res)
    for c in res.checks:
        assert c.max_ref > 1e-3, f"output {c.name} is ~0: a vacuous check\n{res}"
    return report


def check_by_reference(op, kw, tmp_path, name, B=3):
    """For what onnxruntime cannot run (layout 1, float64 LSTM/RNN): the reference is
    onnxruntime on the same model in layout 0 / float32, with the inputs and outputs transposed
    / cast to match."""
    import onnxruntime as ort

    model, feeds = rnn_model(op, B=B, **kw)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    report = liteport.convert(str(path), str(tmp_path / f"{name}.tflite"))
    got = run_litert(str(tmp_path / f"{name}.tflite"), report, feeds)

    layout = kw.get("layout", 0)
    ref_kw = dict(kw, layout=0, dtype=np.float32, round_to=kw.get("dtype", np.float32))
    ref_model, _ = rnn_model(op, B=B, **ref_kw)
    ref_feeds = {}
    for k, v in feeds.items():
        v = v.astype(np.float32) if v.dtype in (np.float64, np.float16) else v
        if layout == 1 and k in ("X", "H0", "C0"):
            v = v.transpose(1, 0, 2)
        ref_feeds[k] = v
    sess = ort.InferenceSession(ref_model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    for nm, ref in zip(names, sess.run(None, ref_feeds)):
        if layout == 1:
            ref = ref.transpose(2, 0, 1, 3) if nm == "Y" else ref.transpose(1, 0, 2)
        out = got[nm]
        assert out.dtype == kw.get("dtype", np.float32), (nm, out.dtype)
        assert out.shape == ref.shape, (nm, out.shape, ref.shape)
        assert np.abs(ref).max() > 1e-3
        if out.dtype == np.float16:  # computed in float32 like the reference, rounded to ~3 digits
            np.testing.assert_allclose(out.astype(np.float32), ref, rtol=1e-3, atol=1e-3, err_msg=nm)
        else:
            np.testing.assert_allclose(out.astype(np.float32), ref, rtol=1e-4, atol=1e-5, err_msg=nm)
    return report


HAND_CASES = {
    # name: (op, keyword arguments of rnn_model)
    "lstm_peepholes_bidirectional_states": ("LSTM", dict(direction="bidirectional", peepholes=True,
                                                           initial_h=True, initial_c=True)),
    "lstm_reverse_layout1_states": ("LSTM", dict(direction="reverse", layout=1, initial_h=True, initial_c=True)),
    "lstm_clip_input_forget": ("LSTM", dict(clip=0.7, input_forget=1, peepholes=True)),
    "lstm_activations": ("LSTM", dict(activations=["HardSigmoid", "LeakyRelu", "Softsign"],
                                      activation_alpha=[0.3, 0.2], activation_beta=[0.4])),
    "lstm_activations_bidirectional": ("LSTM", dict(
        direction="bidirectional",
        activations=["Sigmoid", "Tanh", "Tanh", "HardSigmoid", "ScaledTanh", "Elu"],
        activation_alpha=[0.25, 0.9, 1.5, 0.6], activation_beta=[0.45, 0.8])),
    "lstm_runtime_weights": ("LSTM", dict(runtime_weights=True, peepholes=True, initial_h=True)),
    "lstm_only_y_c": ("LSTM", dict(outputs=("Y_c",))),
    "lstm_opset7": ("LSTM", dict(opset=7, direction="bidirectional")),
    "gru_linear_before_reset": ("GRU", dict(linear_before_reset=1, initial_h=True)),
    "gru_linear_before_reset_zero_state": ("GRU", dict(linear_before_reset=1, direction="bidirectional")),
    "gru_reverse_layout1_clip": ("GRU", dict(direction="reverse", layout=1, clip=0.5, initial_h=True)),
    "gru_activations": ("GRU", dict(activations=["Relu", "Affine"], activation_alpha=[0.8], activation_beta=[0.1])),
    "gru_runtime_weights_bidirectional": ("GRU", dict(runtime_weights=True, direction="bidirectional")),
    "gru_nobias": ("GRU", dict(bias=False, initial_h=True)),
    "rnn_activations_bidirectional": ("RNN", dict(direction="bidirectional", activations=["Softplus", "ThresholdedRelu"],
                                                  activation_alpha=[0.1])),
    "rnn_elu_alpha": ("RNN", dict(activations=["Elu"], activation_alpha=[0.5])),
    "rnn_layout1_states": ("RNN", dict(layout=1, initial_h=True, direction="bidirectional")),
    "rnn_float64": ("RNN", dict(dtype=np.float64, initial_h=True)),
    "lstm_float64": ("LSTM", dict(dtype=np.float64, direction="bidirectional")),
    "gru_float16_opset22": ("GRU", dict(dtype=np.float16, opset=22, initial_h=True)),
    # sequence_lens: constant (list) or a model input (tuple), forward, reverse and both
    "lstm_seq_lens_const_bidirectional": ("LSTM", dict(direction="bidirectional", seq_lens=[5, 2, 3],
                                                       initial_h=True, initial_c=True)),
    "lstm_seq_lens_input_reverse": ("LSTM", dict(direction="reverse", seq_lens=(3, 5, 1))),
    "gru_seq_lens_input_layout1": ("GRU", dict(layout=1, seq_lens=(4, 1, 5), direction="bidirectional")),
    "rnn_seq_lens_all_full": ("RNN", dict(seq_lens=[5, 5, 5], initial_h=True)),
    "rnn_seq_lens_zero_row": ("RNN", dict(seq_lens=(0, 3, 5), initial_h=True)),
    # more steps than one op may have inputs/outputs (64): packed and unpacked in chunks
    "gru_long_sequence_bidirectional": ("GRU", dict(T=70, direction="bidirectional", H=3, I=2)),
}


@pytest.mark.parametrize("name", sorted(HAND_CASES))
def test_onnx_recurrent(name, tmp_path):
    op, kw = HAND_CASES[name]
    if kw.get("layout", 0) == 1 or kw.get("dtype") in (np.float64, np.float16):
        check_by_reference(op, kw, tmp_path, name)  # onnxruntime runs neither
    else:
        model, feeds = rnn_model(op, **kw)
        check(model, feeds, tmp_path, name)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("layout", [0, 1])
def test_dynamic_batch(op, layout, tmp_path):
    """A symbolic batch stays dynamic: the same converted model runs at batch 1 and 4."""
    kw = dict(layout=layout, dynamic_batch=True, direction="bidirectional", initial_h=True,
              initial_c=op == "LSTM", seq_lens=(1, 2, 5, 3)[:1] if op == "GRU" else None)
    name = f"{op}_{layout}"
    for B in (1, 4):
        if kw["seq_lens"] is not None:
            kw["seq_lens"] = (1, 2, 5, 3)[:B]
        if layout == 1:
            check_by_reference(op, kw, tmp_path, name, B=B)
        else:
            model, feeds = rnn_model(op, B=B, **kw)
            check(model, feeds, tmp_path, name)


def test_dynamic_sequence_length_is_unsupported(tmp_path):
    model, _ = rnn_model("LSTM")
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "time"
    with pytest.raises(liteport.ConversionError, match="sequence length .* must be static"):
        liteport.convert(model.SerializeToString())


def test_unknown_activation_is_refused(tmp_path):
    model, _ = rnn_model("RNN", activations=["Gelu"])
    with pytest.raises(liteport.ConversionError, match="activation 'Gelu'"):
        liteport.convert(model.SerializeToString())


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_recurrent_weight_is_shared_by_the_steps(op, tmp_path):
    """The per-step FULLY_CONNECTED ops read one run-time filter tensor (not a constant each):
    XNNPACK packs every constant filter per op, i.e. T copies of R, ~10x slower in LiteRT."""
    import ai_edge_litert.schema_py_generated as s

    model, _ = rnn_model(op, T=8, direction="bidirectional")
    report = liteport.convert(model.SerializeToString())
    m = s.Model.GetRootAsModel(report.tflite, 0)
    sg = m.Subgraphs(0)
    fc_code = [i for i in range(m.OperatorCodesLength())
               if max(m.OperatorCodes(i).BuiltinCode(), m.OperatorCodes(i).DeprecatedBuiltinCode())
               == s.BuiltinOperator.FULLY_CONNECTED]
    filters = []
    for i in range(sg.OperatorsLength()):
        o = sg.Operators(i)
        if o.OpcodeIndex() in fc_code:
            filters.append(o.Inputs(1))
    const = {f for f in filters if sg.Tensors(f).Buffer() and m.Buffers(sg.Tensors(f).Buffer()).DataLength()}
    step_filters = set(filters) - const
    per_dir = 2 if op == "GRU" else 1  # GRU: the z/r rows and the h rows
    assert len(step_filters) == 2 * per_dir, step_filters  # one per direction (and GRU part)
    assert len(filters) - len(const) == 8 * 2 * per_dir - 2 * per_dir, (len(filters), len(const))
