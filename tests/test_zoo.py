"""A representative subset of the torchvision zoo (bench/zoo.py runs all of it): each model with
seeded weights through liteport.export, LiteRT against onnxruntime at batch 1 and 2."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import zoo  # noqa: E402

CONV_MODELS = ["resnet18", "mobilenet_v3_small", "efficientnet_b0", "shufflenet_v2_x0_5", "squeezenet1_0",
               "regnet_x_400mf"]


def _check(name, tmp_path, **kw):
    row = zoo.check(name, str(tmp_path), **kw)
    assert row["status"] == "ok", row
    assert row["batches"] == [1, 2], row
    # the outputs are not so small that the bound 1e-4 * max(1, max|ort|) is vacuous
    assert row["max_ref"] >= 1e-2, row
    return row


@pytest.mark.parametrize("name", CONV_MODELS)
def test_convolutional_models(name, tmp_path):
    row = _check(name, tmp_path)
    assert row["transposes"] == 0, row["op_counts"]


def test_vit_b_16_reduced_image(tmp_path):
    row = _check("vit_b_16", tmp_path, image_size=64)
    assert row["image_size"] == 64
    assert row["op_counts"].get("BATCH_MATMUL") == 24 and row["op_counts"].get("SOFTMAX") == 12
    # per encoder block: q and v to [B, heads, L, d], k to [B, heads, d, L], the heads merged back
    # for the output projection (docs/zoo.md)
    assert row["transposes"] == 4 * 12, row["op_counts"]


def test_swin_t(tmp_path):
    row = _check("swin_t", tmp_path)
    assert row["op_counts"].get("SOFTMAX") == 12, row["op_counts"]
    # per block: q/k/v heads (one transpose for the three) and the heads merged back; window
    # partition and reverse in the 10 blocks whose map holds more than one window
    assert row["transposes"] == 2 * 12 + 2 * 10, row["op_counts"]


def test_zoo_runner_reports_a_failure_as_a_row(tmp_path):
    """The runner's child process: an unknown model is a 'crash' row naming the error, and the
    markdown table still renders."""
    row = zoo.run_child("no_such_model", str(tmp_path), timeout=300, keep=False)
    assert row["status"] == "crash" and "no_such_model" in row["error"], row
    text = zoo.markdown([row], 1.0, "test")
    assert "| no_such_model |" in text and "0 of 1 models ok" in text
