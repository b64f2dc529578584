"""GridSample, AffineGrid, RoiAlign and NonMaxSuppression (src/ops/sample.c) on hand-built ONNX
models: every mode/padding/alignment with grids that leave the image, dynamic batch, ROIs partly
outside the map, and NMS with several batches and classes, ties, run-time thresholds and
degenerate boxes, compared with onnxruntime in LiteRT."""
import os
import sys

import numpy as np
import pytest
from onnx import TensorProto as TP
from onnx import helper

import liteport

sys.path.insert(0, os.path.dirname(__file__))
from test_ops_attention import check, make_model  # noqa: E402

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("pad", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample_2d(mode, pad, align):
    m = make_model("GridSample", [("x", TP.FLOAT, ["N", 3, 5, 6]), ("g", TP.FLOAT, ["N", 4, 7, 2])], ["y"],
                   {"mode": mode, "padding_mode": pad, "align_corners": align}, opset=20)
    # coordinates up to 1.6 leave the image on both sides; nearest avoids exact half-way points
    feeds = [{"x": RNG.standard_normal((n, 3, 5, 6)).astype(np.float32),
              "g": (RNG.random((n, 4, 7, 2)) * 3.2 - 1.6).astype(np.float32)} for n in (1, 2)]
    if (mode, pad) != ("cubic", "border"):
        check(m, *feeds)
        return
    # onnxruntime clamps only the taps (as PyTorch does); ONNX's reference also clamps the
    # coordinate itself when it leaves the image, and the node tests follow the reference
    from onnx.reference import ReferenceEvaluator

    rep = liteport.convert(m)
    for f in feeds:
        y = liteport.LiteRTModel(rep.tflite, rep)(f)["y"]
        assert np.allclose(ReferenceEvaluator(m).run(None, f)[0], y, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_grid_sample_3d(mode):
    m = make_model("GridSample", [("x", TP.FLOAT, [1, 2, 3, 4, 5]), ("g", TP.FLOAT, [1, 2, 3, 4, 3])], ["y"],
                   {"mode": mode, "padding_mode": "border"}, opset=20)
    check(m, {"x": RNG.standard_normal((1, 2, 3, 4, 5)).astype(np.float32),
              "g": (RNG.random((1, 2, 3, 4, 3)) * 2.4 - 1.2).astype(np.float32)})


def test_grid_sample_opset16_bicubic_name():
    m = make_model("GridSample", [("x", TP.FLOAT, [1, 1, 4, 4]), ("g", TP.FLOAT, [1, 3, 3, 2])], ["y"],
                   {"mode": "bicubic"}, opset=16)
    check(m, {"x": RNG.standard_normal((1, 1, 4, 4)).astype(np.float32),
              "g": (RNG.random((1, 3, 3, 2)) * 2 - 1).astype(np.float32)})


@pytest.mark.parametrize("align", [0, 1])
@pytest.mark.parametrize("dims", [[2, 3, 5, 4], [2, 3, 2, 3, 4]])
def test_affine_grid_constant_size(align, dims):
    nd = len(dims) - 2
    size = helper.make_tensor("size", TP.INT64, [len(dims)], dims)
    m = make_model("AffineGrid", [("theta", TP.FLOAT, ["N", nd, nd + 1]), ("size", TP.INT64, [len(dims)])], ["grid"],
                   {"align_corners": align}, opset=20, inits=[size])
    check(m, {"theta": RNG.standard_normal((2, nd, nd + 1)).astype(np.float32)})


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("ctm", ["half_pixel", "output_half_pixel"])
def test_roi_align(mode, ctm):
    m = make_model("RoiAlign", [("x", TP.FLOAT, [2, 3, 8, 9]), ("rois", TP.FLOAT, ["R", 4]),
                                ("idx", TP.INT64, ["R"])], ["y"],
                   {"mode": mode, "coordinate_transformation_mode": ctm, "output_height": 3, "output_width": 2,
                    "sampling_ratio": 2, "spatial_scale": 0.5}, opset=16)
    rois = np.array([[0, 0, 10, 12], [4, 2, 18, 16], [-4, -3, 6, 20], [3, 3, 3.5, 3.2]], np.float32)
    check(m, {"x": RNG.standard_normal((2, 3, 8, 9)).astype(np.float32), "rois": rois, "idx": np.array([0, 1, 1, 0])},
          {"x": RNG.standard_normal((2, 3, 8, 9)).astype(np.float32), "rois": rois[:1], "idx": np.array([1])})


def test_roi_align_adaptive_sampling_is_refused_cleanly():
    m = make_model("RoiAlign", [("x", TP.FLOAT, [1, 1, 8, 8]), ("rois", TP.FLOAT, [1, 4]), ("idx", TP.INT64, [1])],
                   ["y"], {"sampling_ratio": 0}, opset=16)
    with pytest.raises(liteport.ConversionError) as e:
        liteport.convert(m)
    assert e.value.status == "unsupported" and "sampling_ratio" in e.value.message


def nms_model(center=0, with_score=True, const_iou=None):
    ins = [("boxes", TP.FLOAT, [2, 7, 4]), ("scores", TP.FLOAT, [2, 3, 7]), ("max", TP.INT64, [1]),
           ("iou", TP.FLOAT, [1])]
    inits = []
    if const_iou is not None:
        inits.append(helper.make_tensor("iou", TP.FLOAT, [1], [const_iou]))
    if with_score:
        ins.append(("score", TP.FLOAT, [1]))
    return make_model("NonMaxSuppression", ins, ["sel"], {"center_point_box": center}, opset=11, inits=inits)


def nms_feed(with_score=True, iou=0.4, max_out=3):
    boxes = RNG.random((2, 7, 4)).astype(np.float32) * 10
    boxes[0, 1] = boxes[0, 0]            # a duplicate
    boxes[1, 2, 2:] = boxes[1, 2, :2]    # a zero-area box
    boxes[1, 3] = boxes[1, 3, [2, 3, 0, 1]]  # flipped corners
    scores = RNG.random((2, 3, 7)).astype(np.float32)
    scores[0, 0, 4] = scores[0, 0, 5] = scores[0, 0, 6]  # ties: lower index first
    f = {"boxes": boxes, "scores": scores, "max": np.array([max_out]), "iou": np.array([iou], np.float32)}
    if with_score:
        f["score"] = np.array([0.2], np.float32)
    return f


def test_nms_batches_classes_ties_degenerate_boxes():
    check(nms_model(), nms_feed(), nms_feed(iou=0.0, max_out=7), nms_feed(iou=0.9, max_out=100),
          nms_feed(iou=1.0, max_out=4), nms_feed(iou=0.5, max_out=0), min_ref=0)


def test_nms_center_boxes_constant_iou_no_score_threshold():
    for iou in (0.3, 1.0):
        m = nms_model(center=1, with_score=False, const_iou=iou)
        f = nms_feed(with_score=False)
        del f["iou"]
        check(m, f, min_ref=1)


def test_nms_iou_equal_to_threshold_is_kept():
    # IoU of these two boxes is exactly 0.5: ONNX suppresses only above the threshold
    m = make_model("NonMaxSuppression", [("boxes", TP.FLOAT, [1, 2, 4]), ("scores", TP.FLOAT, [1, 1, 2]),
                                         ("max", TP.INT64, [1]), ("iou", TP.FLOAT, [1])], ["sel"], opset=11)
    f = {"boxes": np.array([[[0, 0, 1, 1], [0, 0, 1, 0.5]]], np.float32), "scores": np.array([[[0.9, 0.8]]], np.float32),
         "max": np.array([5]), "iou": np.array([0.5], np.float32)}
    rep = check(m, f, min_ref=0)
    out = liteport.LiteRTModel(rep.tflite, rep)(f)["sel"]
    assert out.tolist() == [[0, 0, 0], [0, 0, 1]]
