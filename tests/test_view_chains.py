"""Random chains of Reshape, Transpose and MatMul-by-a-constant with a dynamic batch, the patterns
attention exports are made of: liteport's layout pass composes such chains into at most one
TRANSPOSE (src/passes/layout.c, "chains of views"); every model must still match onnxruntime at
batch 1 and 3, and never have more transposes than the ONNX model."""
import random

import numpy as np
import onnx
import pytest
from onnx import TensorProto
from onnx import helper as oh
from onnx import numpy_helper

import liteport


def _factors(n, k, rng):
    """n as a product of k factors, its prime factors dealt out at random"""
    out, p = [1] * k, 2
    while n > 1:
        while n % p == 0:
            out[rng.randrange(k)] *= p
            n //= p
        p += 1
    return out


def chain_model(seed):
    """(model, number of Transpose nodes): input [batch, a, b(, c)], 3 to 7 random steps. A Reshape
    regroups the elements into 2 to 5 dims, one of them -1 (it holds the batch, perhaps merged
    with other factors); a Transpose takes a random permutation; a MatMul maps the last dim."""
    rng = random.Random(seed)
    sizes = [rng.choice([2, 3, 4, 6]) for _ in range(rng.randint(2, 3))]
    shape, k = ["B"] + sizes, 1  # "B": the dim holding k * batch
    nodes, inits, cur, n_tr = [], [], "x", 0
    for i in range(rng.randint(3, 7)):
        op = rng.choice(["reshape", "transpose", "transpose", "matmul"] if i else ["reshape", "transpose"])
        if op == "reshape":
            total = int(np.prod([d for d in shape if d != "B"])) * k
            r = rng.randint(2, 5)
            fs = _factors(total, r, rng)
            pos = rng.randrange(r)
            k = fs[pos]
            shape = ["B" if j == pos else fs[j] for j in range(r)]
            inits.append(numpy_helper.from_array(np.array([-1 if j == pos else fs[j] for j in range(r)], np.int64), f"s{i}"))
            nodes.append(oh.make_node("Reshape", [cur, f"s{i}"], [f"t{i}"]))
        elif op == "transpose":
            perm = list(range(len(shape)))
            rng.shuffle(perm)
            shape = [shape[j] for j in perm]
            nodes.append(oh.make_node("Transpose", [cur], [f"t{i}"], perm=perm))
            n_tr += 1
        else:
            if shape[-1] == "B":
                continue
            n = rng.choice([2, 3, 4, 5])
            w = np.random.RandomState(seed + i).randn(shape[-1], n).astype(np.float32)
            inits.append(numpy_helper.from_array(w, f"w{i}"))
            nodes.append(oh.make_node("MatMul", [cur, f"w{i}"], [f"t{i}"]))
            shape = shape[:-1] + [n]
        cur = f"t{i}"
    nodes.append(oh.make_node("Identity", [cur], ["y"]))
    graph = oh.make_graph(nodes, "chain", [oh.make_tensor_value_info("x", TensorProto.FLOAT, ["batch"] + sizes)],
                          [oh.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])
    model.ir_version = 8
    return model, n_tr


@pytest.mark.parametrize("block", range(4))
def test_random_view_chains_match_onnxruntime(block, tmp_path):
    onnx_transposes = tflite_transposes = 0
    for seed in range(block * 25, block * 25 + 25):
        model, n_tr = chain_model(seed)
        path = tmp_path / f"chain{seed}.onnx"
        onnx.save(model, str(path))
        out = str(tmp_path / f"chain{seed}.tflite")
        report = liteport.convert(str(path), out)
        v = liteport.verify(str(path), out, report=report, batch_sizes=(1, 3))
        assert v.ok, f"seed {seed}:\n{v}"
        assert report.transposes <= n_tr, (seed, dict(report.tflite_ops))
        onnx_transposes += n_tr
        tflite_transposes += report.transposes
    # chains compose: far fewer transposes than the ONNX models have (about 0.4x over 900 seeds)
    assert tflite_transposes < 0.7 * onnx_transposes, (tflite_transposes, onnx_transposes)
