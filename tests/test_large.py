"""Models over 2 GB: constant data after the flatbuffer (Buffer.offset/size) and weights that are
transformed while the file is written (src/ir/lazy.c).

- A small model whose weights take every lazy path (BatchNormalization folded into Conv and into a
  grouped ConvTranspose, OIHW -> OHWI, depthwise and grouped convolution, Gemm and MatMul
  transposes, the flatten permutation folded into a FULLY_CONNECTED) is converted with the data in
  the flatbuffer and with --weights-outside: both match onnxruntime in LiteRT, and every buffer
  outside holds the same bytes as inside, 16-byte aligned, with the `buffer_location` metadata.
- A model just over 2 GB (three big constants in an external data file) converts on its own to the
  outside layout, loads in LiteRT and matches onnxruntime.
"""
import os
import shutil

import ai_edge_litert.schema_py_generated as s
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import liteport

def _bn(name, c, rng):
    return [
        numpy_helper.from_array((rng.random(c) + 0.5).astype(np.float32), f"{name}_s"),
        numpy_helper.from_array(rng.standard_normal(c).astype(np.float32) * 0.1, f"{name}_b"),
        numpy_helper.from_array(rng.standard_normal(c).astype(np.float32) * 0.1, f"{name}_m"),
        numpy_helper.from_array((rng.random(c) + 0.5).astype(np.float32), f"{name}_v"),
    ]


def lazy_paths_model():
    """Every weight >= 4 KiB (lazily transformed), each through another path."""
    rng = np.random.default_rng(0)

    def w(name, *shape, scale=None):
        a = rng.standard_normal(shape).astype(np.float32)
        a *= scale if scale is not None else 1.0 / np.sqrt(np.prod(shape[1:]))
        return numpy_helper.from_array(a, name)

    inits = [
        w("w1", 32, 16, 3, 3),      # Conv + BatchNormalization: scale, then OIHW -> OHWI
        w("w2", 32, 1, 7, 7),       # depthwise: (1,2,3,0)
        w("w3", 48, 8, 3, 3),       # grouped (4 groups)
        w("w4", 48, 16, 2, 2, scale=0.3),  # ConvTranspose, 2 groups, + BatchNormalization
        w("g1", 32 * 8 * 8, 40),    # Gemm transB=0 after a flatten: transpose, then column reorder
        w("m1", 8, 160, scale=0.3),  # MatMul [K, N] -> FULLY_CONNECTED [N, K]
    ]
    inits += _bn("bn1", 32, rng) + _bn("bn4", 32, rng)
    inits.append(numpy_helper.from_array(rng.standard_normal(40).astype(np.float32), "g1_b"))
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn1_s", "bn1_b", "bn1_m", "bn1_v"], ["b1"]),
        helper.make_node("Relu", ["b1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], group=32, pads=[3, 3, 3, 3]),
        helper.make_node("Conv", ["c2", "w3"], ["c3"], group=4, pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("ConvTranspose", ["c3", "w4"], ["c4"], group=2, strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c4", "bn4_s", "bn4_b", "bn4_m", "bn4_v"], ["b4"]),
        helper.make_node("MaxPool", ["b4"], ["p4"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p4"], ["f4"]),
        helper.make_node("Gemm", ["f4", "g1", "g1_b"], ["logits"]),
        helper.make_node("MaxPool", ["b4"], ["q4"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("MatMul", ["q4", "m1"], ["rows"]),
    ]
    g = helper.make_graph(
        nodes, "lazy_paths",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 16, 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 40]),
         helper.make_tensor_value_info("rows", TensorProto.FLOAT, [1, 32, 8, 160])],
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _buffers(data):
    """{(tensor index, name): (buffer index, bytes, (offset, size) or None)} for the constant
    tensors, and the metadata {name: bytes}."""
    m = s.Model.GetRootAs(data, 0)
    sg = m.Subgraphs(0)
    out = {}
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        b = m.Buffers(t.Buffer())
        if t.Buffer() == 0:
            continue
        if b.DataLength():
            out[i, t.Name().decode()] = (t.Buffer(), b.DataAsNumpy().tobytes(), None)
        else:
            off, size = b.Offset(), b.Size()
            out[i, t.Name().decode()] = (t.Buffer(), bytes(data[off:off + size]), (off, size))
    meta = {}
    for i in range(m.MetadataLength()):
        md = m.Metadata(i)
        b = m.Buffers(md.Buffer())
        meta[md.Name().decode()] = b.DataAsNumpy().tobytes() if b.DataLength() else b""
    return m, out, meta


def test_weights_outside_matches_inside_and_onnxruntime(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(lazy_paths_model(), path)
    inside, outside = tmp_path / "in.tflite", tmp_path / "out.tflite"
    rep_in = liteport.convert(str(path), str(inside))
    rep_out = liteport.convert(str(path), str(outside), weights_outside=True)
    assert rep_in["weights_outside"] is False and rep_out["weights_outside"] is True
    assert rep_in["tflite_ops"] == rep_out["tflite_ops"]
    for out, rep in ((inside, rep_in), (outside, rep_out)):
        v = liteport.verify(str(path), str(out), report=rep)
        assert v.ok, str(v)
        assert min(c.max_ref for c in v.checks) > 0.1, str(v)  # not a vacuous comparison

    data_in, data_out = inside.read_bytes(), outside.read_bytes()
    _, buf_in, meta_in = _buffers(data_in)
    m, buf_out, meta_out = _buffers(data_out)
    assert "buffer_location" not in meta_in
    assert meta_out["buffer_location"] == b"outside flatbuffers"
    assert set(buf_in) == set(buf_out)
    assert all(loc is None for _, _, loc in buf_in.values())
    spans = []
    for name, (_, b, loc) in buf_out.items():
        assert loc is not None, f"{name}: data inside the flatbuffer"
        off, size = loc
        assert off % 16 == 0 and size == len(buf_in[name][1]), (name, off, size)
        assert b == buf_in[name][1], f"{name}: bytes differ from the flatbuffer's copy"
        spans.append((off, off + size))
    # each buffer stored once, after the flatbuffer (whose Model table precedes every buffer), the
    # file ends with the data plus 16 zero bytes
    spans = sorted(set(spans))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    root = int.from_bytes(data_out[:4], "little")
    assert spans[0][0] > root
    assert len(data_out) == ((spans[-1][1] + 15) // 16) * 16 + 16
    assert data_out[spans[-1][1]:] == bytes(len(data_out) - spans[-1][1])
    # the weights that took the lazy paths are over the 4 KiB below which payloads are computed at once
    assert sum(len(b) >= 4096 for _, b, _ in buf_out.values()) >= 7


def _external(name, shape, f, rng, scale):
    """A float32 initializer written to the open external data file f in 64 MiB chunks."""
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(shape)
    t.data_location = TensorProto.EXTERNAL
    offset = f.tell()
    n = int(np.prod(shape))
    step = 16 << 20
    for at in range(0, n, step):
        k = min(step, n - at)
        # uniform with the variance of N(0, scale^2); cheaper to draw than normal numbers
        ((rng.random(k, dtype=np.float32) - np.float32(0.5)) * np.float32(scale * 12 ** 0.5)).tofile(f)
    for k, v in (("location", "weights.bin"), ("offset", str(offset)), ("length", str(4 * n))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def write_big_model(folder, k=4096, n=65536, seed=0):
    """A model of 2 GiB + 16 MiB: x[1,k] -> MatMul [k,n] (transposed lazily) -> Relu -> Gemm with
    transB=1 [k,n] (used as it is) -> Gemm transB=0 [k,1024] -> [1,1024]."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "weights.bin"), "wb") as f:
        inits = [
            _external("a", [k, n], f, rng, 1.0 / np.sqrt(k)),
            _external("b", [k, n], f, rng, 1.0 / np.sqrt(n)),
            _external("c", [k, 1024], f, rng, 1.0 / np.sqrt(k)),
        ]
    nodes = [
        helper.make_node("MatMul", ["x", "a"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Gemm", ["r", "b"], ["y"], transB=1),
        helper.make_node("Gemm", ["y", "c"], ["z"]),
    ]
    g = helper.make_graph(
        nodes, "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 1024])],
        inits,
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    path = os.path.join(folder, "big.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return path


def test_model_over_2gb(tmp_path):
    need = 3 * (2 << 30) + (1 << 30)  # the ONNX data, the .tflite, and room
    if shutil.disk_usage(tmp_path).free < need:
        pytest.fail(f"test_model_over_2gb needs {need >> 30} GiB free in {tmp_path}")
    try:
        path = write_big_model(str(tmp_path / "big"))
        assert os.path.getsize(tmp_path / "big" / "weights.bin") > (2 << 30)
        out = tmp_path / "big.tflite"
        rep = liteport.convert(path, str(out))
        assert rep["weights_outside"] is True  # chosen on its own: the data does not fit in 2 GB
        assert out.stat().st_size > (2 << 30)
        assert dict(rep.tflite_ops).get("FULLY_CONNECTED") == 3 and "TRANSPOSE" not in dict(rep.tflite_ops)
        v = liteport.verify(path, str(out), report=rep)
        assert v.ok, str(v)
        assert min(c.max_ref for c in v.checks) > 0.1, str(v)
    finally:
        # pytest keeps recent temporary folders: do not leave 4 GB behind
        shutil.rmtree(tmp_path / "big", ignore_errors=True)
        if (tmp_path / "big.tflite").exists():
            os.remove(tmp_path / "big.tflite")
