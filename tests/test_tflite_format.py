"""The .tflite writer read back with LiteRT's own generated schema (flatbuffers), independently
of our writer: schema version, the empty buffer 0, 16-byte aligned constant data, names, the
serving_default signature, shape_signature, operator versions and min_runtime_version."""
import ai_edge_litert.schema_py_generated as s
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import liteport

OPS = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}


def _model(conv_group=1, dilation=1, fc_bias=True):
    rng = np.random.default_rng(0)
    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 4, 9, 9])
    y = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 5])
    w = numpy_helper.from_array(rng.standard_normal((8, 4 // conv_group, 3, 3)).astype(np.float32), "w")
    fw = numpy_helper.from_array(rng.standard_normal((5, 8)).astype(np.float32), "fw")
    fb = numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "fb")
    nodes = [
        helper.make_node("Conv", ["pixels", "w"], ["c"], group=conv_group, dilations=[dilation, dilation], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fb"] if fc_bias else ["f", "fw"], ["scores"], transB=1),
    ]
    g = helper.make_graph(nodes, "g", [x], [y], [w, fw, fb])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _convert(tmp_path, model):
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    out = tmp_path / "m.tflite"
    report = liteport.convert(str(path), str(out))
    v = liteport.verify(str(path), str(out), report=report)
    assert v.ok, str(v)
    data = out.read_bytes()
    return data, s.Model.GetRootAs(data, 0), report


def _opcodes(m):
    res = {}
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        res[OPS[code]] = oc.Version()
        assert oc.BuiltinCode() == code
        assert oc.DeprecatedBuiltinCode() == min(code, 127)
    return res


def test_layout_of_the_flatbuffer(tmp_path):
    data, m, report = _convert(tmp_path, _model())
    assert data[4:8] == b"TFL3"
    assert m.Version() == 3
    assert m.BuffersLength() >= 2
    b0 = m.Buffers(0)
    assert b0.DataLength() == 0 and b0.Offset() == 0
    for i in range(1, m.BuffersLength()):
        b = m.Buffers(i)
        if b.DataLength() == 0:
            continue
        o = b._tab.Offset(4)
        start = b._tab.Vector(o)
        assert start % 16 == 0, f"buffer {i} data starts at {start}"
    sg = m.Subgraphs(0)
    assert m.SubgraphsLength() == 1
    names = [sg.Tensors(i).Name().decode() for i in range(sg.TensorsLength())]
    inp = sg.Tensors(sg.Inputs(0))
    outp = sg.Tensors(sg.Outputs(0))
    assert inp.Name() == b"pixels" and outp.Name() == b"scores"
    # dynamic batch: shape 1, shape_signature -1; the input is channels-last
    assert list(inp.ShapeAsNumpy()) == [1, 9, 9, 4]
    assert list(inp.ShapeSignatureAsNumpy()) == [-1, 9, 9, 4]
    assert list(outp.ShapeSignatureAsNumpy()) == [-1, 5]
    # non-constant tensors use buffer 0, constants a buffer holding exactly their bytes
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        buf = m.Buffers(t.Buffer())
        if t.Buffer() == 0:
            continue
        nbytes = int(np.prod(t.ShapeAsNumpy())) * {0: 4, 2: 4, 4: 8}[t.Type()]
        assert buf.DataLength() == nbytes, names[i]
    # signature
    assert m.SignatureDefsLength() == 1
    sd = m.SignatureDefs(0)
    assert sd.SignatureKey() == b"serving_default"
    assert sd.Inputs(0).Name() == b"pixels" and sd.Inputs(0).TensorIndex() == sg.Inputs(0)
    assert sd.Outputs(0).Name() == b"scores" and sd.Outputs(0).TensorIndex() == sg.Outputs(0)
    # min_runtime_version metadata: a 16-byte NUL-padded version string
    meta = {m.Metadata(i).Name().decode(): m.Metadata(i).Buffer() for i in range(m.MetadataLength())}
    rv = m.Buffers(meta["min_runtime_version"]).DataAsNumpy().tobytes()
    assert len(rv) == 16 and rv.rstrip(b"\0").decode() == report.min_runtime_version == "1.5.0"
    ops = _opcodes(m)
    assert ops["CONV_2D"] == 1 and ops["FULLY_CONNECTED"] == 1, ops
    assert report.transposes == 0


@pytest.mark.parametrize(
    "kw,op,version,runtime",
    [
        (dict(conv_group=4, dilation=2), "DEPTHWISE_CONV_2D", 2, "1.12.0"),
        (dict(conv_group=2), "CONV_2D", 6, "2.9.0"),
    ],
)
def test_operator_versions_and_runtime(tmp_path, kw, op, version, runtime):
    _, m, report = _convert(tmp_path, _model(**kw))
    assert _opcodes(m)[op] == version
    assert report.min_runtime_version == runtime


def test_fully_connected_without_bias_stays_version_1(tmp_path):
    _, m, _ = _convert(tmp_path, _model(fc_bias=False))
    sg = m.Subgraphs(0)
    for i in range(sg.OperatorsLength()):
        o = sg.Operators(i)
        if OPS[max(m.OperatorCodes(o.OpcodeIndex()).BuiltinCode(), m.OperatorCodes(o.OpcodeIndex()).DeprecatedBuiltinCode())] == "FULLY_CONNECTED":
            assert list(o.InputsAsNumpy())[2] == -1
    assert _opcodes(m)["FULLY_CONNECTED"] == 1
