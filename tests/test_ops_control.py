"""Control flow (If, Loop, Scan): hand-built ONNX models converted with liteport and checked in
LiteRT against onnxruntime: constant and run-time If conditions, nested bodies reading values of
enclosing graphs, unrolled Loops (trip count, body-computed condition, scan outputs), Scan with
axes and directions, a dynamic batch, and the clean errors for what cannot be unrolled."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import liteport

F = TensorProto.FLOAT


def vi(name, shape, t=F):
    return helper.make_tensor_value_info(name, t, shape)


def const(name, value):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value), name + "_v"))


def model(nodes, inputs, outputs, inits=(), opset=16):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def check(m, feeds_list, tmp_path, name="m"):
    path = tmp_path / f"{name}.onnx"
    onnx.save(m, path)
    report = liteport.convert(str(path), str(tmp_path / f"{name}.tflite"))
    for feeds in feeds_list:
        res = liteport.verify(str(path), str(tmp_path / f"{name}.tflite"), inputs=feeds, report=report)
        assert res.ok, str(res)
        assert any(c.max_ref > 1e-3 for c in res.checks), str(res)
    return report


def x_feed(shape=(2, 3), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def branches():
    """then: x + w (w from the main graph), else: x * 2; both read x from the enclosing graph."""
    then_g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["t"])], "then", [], [vi("t", None)])
    else_g = helper.make_graph([const("two", np.float32(2)), helper.make_node("Mul", ["x", "two"], ["e"])], "else",
                               [], [vi("e", None)])
    return then_g, else_g


# ---------------------------------------------------------------------------------------------
# If


@pytest.mark.parametrize("value", [True, False])
def test_if_constant_condition_inlines_one_branch(value, tmp_path):
    then_g, else_g = branches()
    m = model([helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
              [vi("x", [2, 3])], [vi("y", [2, 3])],
              [numpy_helper.from_array(np.array(value), "c"), numpy_helper.from_array(x_feed(seed=1), "w")])
    report = check(m, [{"x": x_feed()}], tmp_path)
    ops = dict(report.tflite_ops)
    assert ("ADD" in ops) == value and ("MUL" in ops) != value, ops
    assert "SELECT_V2" not in ops


def test_if_condition_folded_from_shape(tmp_path):
    """cond = Shape(x)[1] > 2: a constant once shapes are inferred."""
    then_g, else_g = branches()
    nodes = [helper.make_node("Shape", ["x"], ["s"]), const("one", np.int64(1)),
             helper.make_node("Gather", ["s", "one"], ["d1"]), const("k", np.int64(2)),
             helper.make_node("Greater", ["d1", "k"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    m = model(nodes, [vi("x", [2, 3])], [vi("y", [2, 3])], [numpy_helper.from_array(x_feed(seed=1), "w")])
    report = check(m, [{"x": x_feed()}], tmp_path)
    assert "SELECT_V2" not in dict(report.tflite_ops)


@pytest.mark.parametrize("opset", [11, 13, 16])
def test_if_runtime_condition_selects(opset, tmp_path):
    """A condition known only at run time: both branches run and Where picks; the batch is dynamic."""
    then_g, else_g = branches()
    m = model([helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g),
               helper.make_node("Relu", ["y"], ["z"])],
              [vi("x", ["batch", 3]), vi("c", [], TensorProto.BOOL)], [vi("z", ["batch", 3])],
              [numpy_helper.from_array(x_feed((1, 3), seed=1), "w")], opset=opset)
    check(m, [{"x": x_feed((b, 3), seed=b), "c": np.array(v)} for b in (1, 4) for v in (True, False)], tmp_path)


def test_if_runtime_condition_different_shapes_is_unsupported(tmp_path):
    then_g = helper.make_graph([helper.make_node("Identity", ["x"], ["t"])], "then", [], [vi("t", None)])
    else_g = helper.make_graph([helper.make_node("ReduceSum", ["x"], ["e"], keepdims=0)], "else", [], [vi("e", None)])
    m = model([helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
              [vi("x", [2, 3]), vi("c", [], TensorProto.BOOL)], [vi("y", [2, 3])], opset=11)
    with pytest.raises(liteport.ConversionError, match="known only at run time.*IF with subgraphs"):
        liteport.convert(m.SerializeToString())


def test_nested_if_reads_every_enclosing_scope(tmp_path):
    """The inner If reads w (main graph) and u (the outer branch); the outer condition is a constant."""
    inner_then = helper.make_graph([helper.make_node("Add", ["u", "w"], ["it"])], "it", [], [vi("it", None)])
    inner_else = helper.make_graph([helper.make_node("Sub", ["u", "w"], ["ie"])], "ie", [], [vi("ie", None)])
    outer_then = helper.make_graph(
        [helper.make_node("Sigmoid", ["x"], ["u"]),
         helper.make_node("If", ["c2"], ["v"], then_branch=inner_then, else_branch=inner_else)],
        "ot", [], [vi("v", None)])
    outer_else = helper.make_graph([helper.make_node("Neg", ["x"], ["oe"])], "oe", [], [vi("oe", None)])
    m = model([helper.make_node("If", ["c1"], ["y"], then_branch=outer_then, else_branch=outer_else)],
              [vi("x", [2, 3]), vi("c2", [], TensorProto.BOOL)], [vi("y", [2, 3])],
              [numpy_helper.from_array(np.array(True), "c1"), numpy_helper.from_array(x_feed(seed=1), "w")])
    check(m, [{"x": x_feed(), "c2": np.array(v)} for v in (True, False)], tmp_path)


# ---------------------------------------------------------------------------------------------
# Loop


def loop_body(with_stop=False):
    """acc' = acc * 0.5 + x * float(i) + w; scan output acc'; optional stop after i == 2."""
    nodes = [helper.make_node("Cast", ["i"], ["fi"], to=F),
             helper.make_node("Mul", ["x", "fi"], ["xi"]), const("half", np.float32(0.5)),
             helper.make_node("Mul", ["acc", "half"], ["ah"]), helper.make_node("Add", ["ah", "xi"], ["s"]),
             helper.make_node("Add", ["s", "w"], ["acc_out"]), helper.make_node("Identity", ["acc_out"], ["scan"])]
    if with_stop:
        nodes += [const("two", np.int64(2)), helper.make_node("Less", ["i", "two"], ["cond_out"])]
    else:
        nodes += [helper.make_node("Identity", ["cond"], ["cond_out"])]
    return helper.make_graph(nodes, "body", [vi("i", [], TensorProto.INT64), vi("cond", [], TensorProto.BOOL),
                                             vi("acc", None)],
                             [vi("cond_out", [], TensorProto.BOOL), vi("acc_out", None), vi("scan", None)])


@pytest.mark.parametrize("opset", [11, 13, 16])
def test_loop_constant_trip_count(opset, tmp_path):
    m = model([helper.make_node("Loop", ["M", "", "acc0"], ["acc", "scans"], body=loop_body())],
              [vi("x", ["batch", 3]), vi("acc0", ["batch", 3])], [vi("acc", ["batch", 3]), vi("scans", [4, "batch", 3])],
              [numpy_helper.from_array(np.int64(4), "M"), numpy_helper.from_array(x_feed((1, 3), seed=1), "w")],
              opset=opset)
    check(m, [{"x": x_feed((b, 3), seed=b), "acc0": x_feed((b, 3), seed=10 + b)} for b in (1, 3)], tmp_path)


def test_loop_many_iterations(tmp_path):
    """70 iterations: the scan output's Concat is built in groups (at most 64 inputs per op)."""
    m = model([helper.make_node("Loop", ["M", "", "acc0"], ["acc", "scans"], body=loop_body())],
              [vi("x", [2, 3]), vi("acc0", [2, 3])], [vi("acc", [2, 3]), vi("scans", [70, 2, 3])],
              [numpy_helper.from_array(np.int64(70), "M"), numpy_helper.from_array(x_feed(seed=1) * 0.01, "w")])
    check(m, [{"x": x_feed() * 0.01, "acc0": x_feed(seed=2)}], tmp_path)


def test_loop_condition_computed_by_the_body(tmp_path):
    """M = 10 but the body stops the loop after iteration 2 (i < 2 is false): 3 iterations."""
    m = model([helper.make_node("Loop", ["M", "c", "acc0"], ["acc", "scans"], body=loop_body(with_stop=True))],
              [vi("x", [2, 3]), vi("acc0", [2, 3])], [vi("acc", [2, 3]), vi("scans", [3, 2, 3])],
              [numpy_helper.from_array(np.int64(10), "M"), numpy_helper.from_array(np.array(True), "c"),
               numpy_helper.from_array(x_feed(seed=1), "w")])
    report = check(m, [{"x": x_feed(), "acc0": x_feed(seed=2)}], tmp_path)
    scans = [o for o in report.outputs if o["name"] == "scans"][0]
    assert list(scans["shape"])[0] == 3, scans


def test_loop_runtime_trip_count_is_unsupported(tmp_path):
    m = model([helper.make_node("Loop", ["M", "", "acc0"], ["acc"], body=loop_body())],
              [vi("x", [2, 3]), vi("acc0", [2, 3]), vi("M", [], TensorProto.INT64)], [vi("acc", [2, 3])],
              [numpy_helper.from_array(x_feed(seed=1), "w")])
    with pytest.raises(liteport.ConversionError, match="trip count 'M' is not a constant"):
        liteport.convert(m.SerializeToString())


def test_loop_with_if_in_body(tmp_path):
    """An If inside the unrolled body picks its branch from the iteration number (folded per iteration)."""
    then_g = helper.make_graph([helper.make_node("Add", ["acc", "w"], ["t"])], "then", [], [vi("t", None)])
    else_g = helper.make_graph([helper.make_node("Mul", ["acc", "x"], ["e"])], "else", [], [vi("e", None)])
    body = helper.make_graph(
        [const("one", np.int64(1)), helper.make_node("Greater", ["i", "one"], ["big"]),
         helper.make_node("If", ["big"], ["acc_out"], then_branch=then_g, else_branch=else_g),
         helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body", [vi("i", [], TensorProto.INT64), vi("cond", [], TensorProto.BOOL), vi("acc", None)],
        [vi("cond_out", [], TensorProto.BOOL), vi("acc_out", None)])
    m = model([helper.make_node("Loop", ["M", "", "x"], ["y"], body=body)], [vi("x", [2, 3])], [vi("y", [2, 3])],
              [numpy_helper.from_array(np.int64(4), "M"), numpy_helper.from_array(x_feed(seed=1), "w")])
    report = check(m, [{"x": x_feed()}], tmp_path)
    assert "SELECT_V2" not in dict(report.tflite_ops)


# ---------------------------------------------------------------------------------------------
# Scan


def test_scan_axes_and_directions(tmp_path):
    """Two scan inputs (axis 0 forward, axis 1 reverse), a state, outputs stacked on axis 1 and
    (reversed) on axis 0; the batch of the second input stays dynamic."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s", "a"], ["s1"]), helper.make_node("Mul", ["s1", "b"], ["s_out"]),
         helper.make_node("Tanh", ["s_out"], ["y1"]), helper.make_node("Sub", ["a", "b"], ["y2"])],
        "body", [vi("s", [3]), vi("a", [3]), vi("b", [3])], [vi("s_out", [3]), vi("y1", [3]), vi("y2", [3])])
    node = helper.make_node("Scan", ["s0", "A", "B"], ["s", "Y1", "Y2"], body=body, num_scan_inputs=2,
                            scan_input_axes=[0, 1], scan_input_directions=[0, 1], scan_output_axes=[1, 0],
                            scan_output_directions=[0, 1])
    m = model([node], [vi("s0", [3]), vi("A", [4, 3]), vi("B", [3, 4])], [vi("s", [3]), vi("Y1", [3, 4]),
                                                                        vi("Y2", [4, 3])])
    rng = np.random.default_rng(0)
    feeds = {"s0": rng.standard_normal(3).astype(np.float32), "A": rng.standard_normal((4, 3)).astype(np.float32),
             "B": rng.standard_normal((3, 4)).astype(np.float32)}
    check(m, [feeds], tmp_path)


def test_scan_dynamic_batch(tmp_path):
    """Scan over axis 1 of [batch, 5, 2] with a [batch, 2] state: the batch stays dynamic."""
    body = helper.make_graph([helper.make_node("Add", ["s", "x"], ["s_out"]),
                              helper.make_node("Relu", ["s_out"], ["y"])],
                             "body", [vi("s", None), vi("x", None)], [vi("s_out", None), vi("y", None)])
    node = helper.make_node("Scan", ["s0", "X"], ["s", "Y"], body=body, num_scan_inputs=1, scan_input_axes=[1],
                            scan_output_axes=[-1])
    m = model([node], [vi("s0", ["batch", 2]), vi("X", ["batch", 5, 2])], [vi("s", ["batch", 2]),
                                                                           vi("Y", ["batch", 2, 5])])
    check(m, [{"s0": x_feed((b, 2), seed=b), "X": x_feed((b, 5, 2), seed=5 + b)} for b in (1, 3)], tmp_path)


def test_scan_dynamic_length_is_unsupported(tmp_path):
    body = helper.make_graph([helper.make_node("Add", ["s", "x"], ["s_out"])], "body", [vi("s", [2]), vi("x", [2])],
                             [vi("s_out", [2])])
    m = model([helper.make_node("Scan", ["s0", "X"], ["s"], body=body, num_scan_inputs=1)],
              [vi("s0", [2]), vi("X", ["time", 2])], [vi("s", [2])])
    with pytest.raises(liteport.ConversionError, match="sequence length .* must be static"):
        liteport.convert(m.SerializeToString())


def test_scan8_batch_and_direction(tmp_path):
    """Scan-8: a batch axis on every input (unrolled too), a reversed scan input, no sequence_lens."""
    body = helper.make_graph([helper.make_node("Add", ["s", "x"], ["s_out"]),
                              helper.make_node("Mul", ["s_out", "x"], ["y"])],
                             "body", [vi("s", [2]), vi("x", [2])], [vi("s_out", [2]), vi("y", [2])])
    node = helper.make_node("Scan", ["", "s0", "X"], ["s", "Y"], body=body, num_scan_inputs=1, directions=[1])
    m = model([node], [vi("s0", [3, 2]), vi("X", [3, 4, 2])], [vi("s", [3, 2]), vi("Y", [3, 4, 2])], opset=8)
    check(m, [{"s0": x_feed((3, 2)), "X": x_feed((3, 4, 2), seed=1)}], tmp_path)
