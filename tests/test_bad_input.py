"""Bad input gives one clear line and a non-zero exit, creates no output file and leaves an
existing one untouched: for the C command-line tool and for the Python `liteport` command."""
import os
import subprocess
import sys

import onnx
import pytest
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C_CLI = os.path.join(ROOT, "build", "liteport")


def _c_cli(*args):
    assert os.path.exists(C_CLI), "build/liteport is missing: `make test` builds it first"
    return subprocess.run([C_CLI, *map(str, args)], capture_output=True, text=True)


def _py_cli(*args):
    return subprocess.run([sys.executable, "-m", "liteport", *map(str, args)], capture_output=True, text=True)


def _good_model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], [0.01 * i for i in range(108)])
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv0")
    g = helper.make_graph([node], "g", [x], [y], [w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def _unsupported_model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu0"),
        helper.make_node("Det", ["r"], ["y"], name="my_det_node"),
    ]
    g = helper.make_graph(nodes, "g", [x], [y])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def _cases(tmp_path):
    not_onnx = tmp_path / "picture.onnx"
    not_onnx.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    good = _good_model().SerializeToString()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(good[: len(good) // 2])
    unsupported = tmp_path / "unsupported.onnx"
    onnx.save(_unsupported_model(), unsupported)
    return [
        (not_onnx, ["picture.onnx", "not an ONNX model"]),
        (truncated, ["truncated.onnx", "truncated"]),
        (unsupported, ["unsupported.onnx", "my_det_node", "Det"]),
    ]


@pytest.mark.parametrize("cli", ["c", "python"])
def test_bad_input_one_line_no_output(cli, tmp_path):
    run = _c_cli if cli == "c" else _py_cli
    for path, words in _cases(tmp_path):
        out = tmp_path / (path.stem + ".tflite")
        before = sorted(os.listdir(tmp_path))
        r = run("convert", path, "-o", out)
        assert r.returncode != 0, (path, r.stdout, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith("liteport: error: "), lines[0]
        for w in words:
            assert w in lines[0], (w, lines[0])
        assert not out.exists()
        assert sorted(os.listdir(tmp_path)) == before  # no temporary file left behind

        # an existing output file is left untouched
        out.write_bytes(b"previous model")
        r = run("convert", path, "-o", out)
        assert r.returncode != 0
        assert out.read_bytes() == b"previous model"
        out.unlink()


def test_good_model_still_converts_with_c_cli(tmp_path):
    """The control case: the same model, not truncated, converts (so the checks above can fail)."""
    path = tmp_path / "good.onnx"
    onnx.save(_good_model(), path)
    r = _c_cli("convert", path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "good.tflite").stat().st_size > 0
    assert "CONV_2D 1" in r.stdout


def test_export_command_with_a_wrong_input_shape_is_one_line(tmp_path):
    """PyTorch refusing the example input (a rank the model cannot take) is one error line naming
    the model and the option to check, not a traceback; nothing is written."""
    import subprocess
    import sys

    out = tmp_path / "m.tflite"
    r = subprocess.run([sys.executable, "-m", "liteport", "export", "--model", "torchvision.models:mobilenet_v3_small",
                        "--input-shape", "1,3,224", "-o", str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "mobilenet_v3_small" in lines[0] and "--input-shape" in lines[0], r.stderr
    assert list(tmp_path.iterdir()) == []


def test_misspelled_option_shows_the_subcommand_usage(tmp_path):
    """`liteport export --inputshape ...` names export's usage and the unknown option, exit 2."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "liteport", "export", "--model", "x:y", "--inputshape", "1"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "usage: liteport export" in r.stderr and "unrecognized arguments: --inputshape 1" in r.stderr, r.stderr


@pytest.mark.parametrize("cli", ["c", "python"])
def test_output_in_a_missing_folder_names_the_folder(cli, tmp_path):
    """`convert -o nodir/m.tflite` where nodir does not exist: one line naming the folder, exit 1,
    nothing created (the folder neither)."""
    path = tmp_path / "good.onnx"
    onnx.save(_good_model(), path)
    run = _c_cli if cli == "c" else _py_cli
    r = run("convert", path, "-o", tmp_path / "nodir" / "m.tflite")
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert f"folder '{tmp_path / 'nodir'}' does not exist" in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.onnx"]
