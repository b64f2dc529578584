"""Writes the ONNX fixture models that tests/c/test_onnx.c reads.

    python tests/c/make_onnx_fixtures.py OUT_DIR

Models are written with the `onnx` package (and one exported from torch), so the C reader is tested
against the real protobuf implementation. `expect.txt` lists values the C test checks, one per line:

    <model file> <tensor name> <flat index> <value>

Fixtures are generated, never committed.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def model(graph, opsets=OPSET, **kw):
    m = helper.make_model(graph, opset_imports=opsets, producer_name="liteport-fixtures", **kw)
    m.ir_version = 8
    return m


def write(out, name, m):
    """Serialises directly: no checker, no external-data rewriting by onnx.save."""
    path = os.path.join(out, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


class Expect:
    def __init__(self):
        self.lines = []

    def add(self, file, tensor, arr, indices):
        flat = np.asarray(arr).reshape(-1)
        for i in indices:
            v = flat[i]
            if flat.dtype == np.bool_:
                v = int(v)
            elif np.issubdtype(flat.dtype, np.integer):
                v = int(v)
            else:
                v = repr(float(v))  # float32/float16 widen exactly to double
            self.lines.append(f"{file} {tensor} {i} {v}")


def basic(out, ex):
    rng = np.random.default_rng(1234)
    w_raw = rng.standard_normal((2, 3)).astype(np.float32)
    w_float = rng.standard_normal(5).astype(np.float32)
    i64 = np.array([7, -3, 1 << 40, 0], dtype=np.int64)
    f16 = np.array([1.5, -2.0, 65504.0], dtype=np.float16)
    d64 = np.array([[0.1, -1e300], [3.0, 2.5]], dtype=np.float64)
    i8 = np.array([-128, 5, 127], dtype=np.int8)
    b = np.array([True, False, True, True])
    u64 = np.array([1, (1 << 63) + 5], dtype=np.uint64)
    u32 = np.array([4000000000, 3], dtype=np.uint32)
    i16 = np.array([-30000, 12], dtype=np.int16)
    scales = np.array([1, 1, 2, 2], dtype=np.float32)
    inits = [
        numpy_helper.from_array(w_raw, "w_raw"),  # raw_data
        helper.make_tensor("w_float", TensorProto.FLOAT, [5], w_float.tolist()),  # packed float_data
        helper.make_tensor("i64", TensorProto.INT64, [4], i64.tolist()),  # int64_data
        helper.make_tensor("f16", TensorProto.FLOAT16, [3], f16),  # int32_data bit patterns
        helper.make_tensor("d64", TensorProto.DOUBLE, [2, 2], d64.reshape(-1).tolist()),  # double_data
        helper.make_tensor("i8", TensorProto.INT8, [3], i8.tolist()),  # int32_data
        helper.make_tensor("b", TensorProto.BOOL, [4], b.tolist()),  # int32_data
        helper.make_tensor("u64", TensorProto.UINT64, [2], u64.tolist()),  # uint64_data
        helper.make_tensor("u32", TensorProto.UINT32, [2], u32.tolist()),  # uint64_data
        helper.make_tensor("i16", TensorProto.INT16, [2], i16.tolist()),  # int32_data
        helper.make_tensor("i4", TensorProto.INT4, [3], [1, -2, 3]),  # int32_data, packed nibbles
        helper.make_tensor("scalar", TensorProto.FLOAT, [], [42.0]),
        helper.make_tensor("empty", TensorProto.FLOAT, [0, 3], []),
        numpy_helper.from_array(scales, "scales"),
        numpy_helper.from_array(np.array([0.5], dtype=np.float32), "bias"),  # also a graph input: a default
    ]
    const_val = np.arange(6, dtype=np.float32).reshape(2, 3) * 0.25
    sub = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["sub_y"])], "sub", [], [helper.make_tensor_value_info("sub_y", TensorProto.FLOAT, None)]
    )
    with open(os.path.join(out, "basic_sub.pb"), "wb") as f:
        f.write(sub.SerializeToString())
    nodes = [
        helper.make_node("Constant", [], ["c"], name="", value=numpy_helper.from_array(const_val)),
        helper.make_node("Constant", [], ["cf"], value_floats=[1.5, -2.25, 3.0]),
        helper.make_node("Constant", [], ["ci"], value_ints=[-1, 0, 1 << 35]),
        helper.make_node("Transpose", ["x"], ["xt"], name="tr", perm=[0, 2, 3, 1]),
        helper.make_node("LeakyRelu", ["xt"], ["lr"], name="lrelu", alpha=0.2),
        helper.make_node("Resize", ["x", "", "scales"], ["rs"], name="resize", mode="nearest",
                         tags=["a", "bc"]),  # STRINGS: an extra attribute the reader keeps
        helper.make_node("Add", ["x", "bias"], ["added"], name="add"),
        helper.make_node("Identity", ["added"], ["id_out"], name="ident", body=sub),  # GRAPH attribute
        helper.make_node("Add", ["y", "y2"], ["yy"], name="add2"),
    ]
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 4, 4]),
        helper.make_tensor_value_info("bias", TensorProto.FLOAT, [1]),
        helper.make_tensor_value_info("y", TensorProto.INT64, ["batch", None, "seq"]),
        helper.make_tensor_value_info("y2", TensorProto.INT64, None),  # no shape: unknown rank
    ]
    outputs = [
        helper.make_tensor_value_info("lr", TensorProto.FLOAT, ["batch", 4, 4, 3]),
        helper.make_tensor_value_info("rs", TensorProto.FLOAT, None),
        helper.make_tensor_value_info("id_out", TensorProto.FLOAT, ["batch", 3, 4, 4]),
        helper.make_tensor_value_info("c", TensorProto.FLOAT, [2, 3]),
        helper.make_tensor_value_info("yy", TensorProto.INT64, None),
        helper.make_tensor_value_info("cf", TensorProto.FLOAT, None),
        helper.make_tensor_value_info("ci", TensorProto.INT64, None),
    ]
    vi = [helper.make_tensor_value_info("xt", TensorProto.FLOAT, ["batch", 4, 4, 3]),
          helper.make_tensor_value_info("added", TensorProto.FLOAT, ["batch", 3, 4, 4])]
    g = helper.make_graph(nodes, "basic", inputs, outputs, inits, value_info=vi)
    write(out, "basic.onnx", model(g))
    ex.add("basic.onnx", "w_raw", w_raw, range(6))
    ex.add("basic.onnx", "w_float", w_float, range(5))
    ex.add("basic.onnx", "i64", i64, range(4))
    ex.add("basic.onnx", "f16", f16, range(3))
    ex.add("basic.onnx", "d64", d64, range(4))
    ex.add("basic.onnx", "i8", i8, range(3))
    ex.add("basic.onnx", "b", b, range(4))
    ex.add("basic.onnx", "u32", u32, range(2))
    ex.add("basic.onnx", "i16", i16, range(2))
    ex.add("basic.onnx", "scalar", np.array([42.0], np.float32), [0])
    ex.add("basic.onnx", "bias", np.array([0.5], np.float32), [0])
    ex.add("basic.onnx", "Constant_0_value", const_val, range(6))


def external(out, ex):
    rng = np.random.default_rng(99)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    k = np.array([1, 2, 3], dtype=np.int64)
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", pads=[1, 1, 1, 1])],
        "ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"), numpy_helper.from_array(k, "k")],
    )
    d = os.path.join(out, "ext")
    os.makedirs(d, exist_ok=True)
    if os.path.exists(os.path.join(d, "weights.bin")):
        os.remove(os.path.join(d, "weights.bin"))  # onnx.save appends to an existing data file
    onnx.save(model(g), os.path.join(d, "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    ex.add("ext/model.onnx", "w", w, [0, 17, w.size - 1])
    ex.add("ext/model.onnx", "b", b, range(4))
    ex.add("ext/model.onnx", "k", k, range(3))


def ext_variant(out, name, location, weights=None):
    """A model whose initializer 'w' (float [4]) lives at `location`."""
    t = TensorProto()
    t.name = "w"
    t.data_type = TensorProto.FLOAT
    t.dims.extend([4])
    t.data_location = TensorProto.EXTERNAL
    for key, val in (("location", location), ("offset", "0"), ("length", "16")):
        e = t.external_data.add()
        e.key, e.value = key, val
    g = helper.make_graph(
        [helper.make_node("Relu", ["w"], ["y"], name="relu")], "ev", [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [t])
    write(out, name, model(g))


def torch_model(out, ex):
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.fc = torch.nn.Linear(4, 5)

        def forward(self, x):
            y = torch.relu(self.conv(x))
            y = torch.nn.functional.adaptive_avg_pool2d(y, 1).flatten(1)
            return torch.softmax(self.fc(y), -1)

    torch.manual_seed(0)
    net = Net().eval()
    x = torch.randn(2, 3, 8, 8)
    path = os.path.join(out, "torch_net.onnx")
    batch = torch.export.Dim("batch", min=1, max=64)
    torch.onnx.export(net, (x,), path, input_names=["x"], output_names=["y"],
                      dynamic_shapes={"x": {0: batch}}, dynamo=True, opset_version=18, verbose=False)
    fcw = net.fc.weight.detach().numpy()
    ex.add("torch_net.onnx", "fc.weight", fcw, [0, 7, fcw.size - 1])
    m = onnx.load(path)
    for t in m.graph.initializer:
        if t.name == "conv.weight":
            a = numpy_helper.to_array(t)
            ex.add("torch_net.onnx", "conv.weight", a, [0, a.size // 2, a.size - 1])


def errors(out):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])

    def simple(name, nodes, inits=(), inputs=(x,), outputs=(y,), opsets=OPSET):
        write(out, name, model(helper.make_graph(nodes, name, list(inputs), list(outputs), list(inits)), opsets=opsets))

    bad = TensorProto()
    bad.name = "short_w"
    bad.data_type = TensorProto.FLOAT
    bad.dims.extend([2, 3])
    bad.raw_data = b"\0" * 20  # 24 needed
    simple("bad_raw_len.onnx", [helper.make_node("Add", ["x", "short_w"], ["y"], name="add")], [bad])
    simple("unknown_op.onnx", [helper.make_node("FooBar", ["x"], ["y"], name="foo")])
    simple("custom_domain.onnx", [helper.make_node("MyOp", ["x"], ["y"], name="mine", domain="com.example")],
           opsets=OPSET + [helper.make_opsetid("com.example", 1)])
    then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    simple("if.onnx", [helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_g, else_branch=else_g)],
           inputs=(x, helper.make_tensor_value_info("cond", TensorProto.BOOL, [])))
    simple("no_opset.onnx", [helper.make_node("Relu", ["x"], ["y"])], opsets=[helper.make_opsetid("com.example", 1)])
    simple("undefined_input.onnx", [helper.make_node("Add", ["x", "ghost"], ["y"], name="add")])
    simple("dup_output.onnx", [helper.make_node("Relu", ["x"], ["y"], name="r1"),
                               helper.make_node("Neg", ["x"], ["y"], name="r2")])
    simple("bad_arity.onnx", [helper.make_node("Relu", ["x", "x"], ["y"], name="r")])
    simple("out_of_order.onnx", [helper.make_node("Neg", ["t"], ["y"], name="second"),
                                 helper.make_node("Relu", ["x"], ["t"], name="first")])
    simple("seq_input.onnx", [helper.make_node("Relu", ["x"], ["y"])],
           inputs=(x, helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, [2])))
    simple("neg_dim.onnx", [helper.make_node("Relu", ["x"], ["y"])],
           inputs=(helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, -3]),))
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "sparse", [x], [y])
    sp = helper.make_sparse_tensor(helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
                                   helper.make_tensor("i", TensorProto.INT64, [1], [0]), [2])
    g.sparse_initializer.append(sp)
    write(out, "sparse.onnx", model(g))

    ext_variant(out, "ext_dotdot/model.onnx", "../x")
    ext_variant(out, "ext_abs/model.onnx", "/etc/passwd")
    ext_variant(out, "ext_missing/model.onnx", "nothere.bin")
    os.makedirs(os.path.join(out, "ext_link"), exist_ok=True)
    with open(os.path.join(out, "outside.bin"), "wb") as f:
        f.write(np.arange(4, dtype=np.float32).tobytes())
    link = os.path.join(out, "ext_link", "link.bin")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.join("..", "outside.bin"), link)
    ext_variant(out, "ext_link/model.onnx", "link.bin")
    # a short external file: length 16 requested, 8 present
    ext_variant(out, "ext_short/model.onnx", "w.bin")
    with open(os.path.join(out, "ext_short", "w.bin"), "wb") as f:
        f.write(b"\0" * 8)

    with open(os.path.join(out, "not_onnx.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0\x1f\xf3\xffa")
    with open(os.path.join(out, "not_onnx.txt"), "wb") as f:
        f.write(b"hello, this is a text file and not a model\n")


def classifier(out):
    """A small image classifier for tests/c/test_metadata.c: [batch,3,8,6] -> 4 probabilities."""
    rng = np.random.default_rng(7)
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 8, 6])
    y = helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch", 4])
    inits = [numpy_helper.from_array(rng.standard_normal((5, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal((4, 5)).astype(np.float32), "fw")]
    nodes = [
        helper.make_node("Conv", ["image", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fw"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probability"], axis=1),
    ]
    write(out, "classifier.onnx", model(helper.make_graph(nodes, "classifier", [x], [y], inits)))
    with open(os.path.join(out, "labels4.txt"), "w") as f:
        f.write("north\nsouth\neast\nwest\n")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_onnx_fixtures.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    ex = Expect()
    basic(out, ex)
    external(out, ex)
    torch_model(out, ex)
    errors(out)
    classifier(out)
    with open(os.path.join(out, "expect.txt"), "w") as f:
        f.write("\n".join(ex.lines) + "\n")


if __name__ == "__main__":
    main()
