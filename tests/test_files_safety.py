"""What a conversion does to the file system, proved from outside the process:

- external data that names a file outside the model's folder ("../secret.bin", an absolute path,
  a symlink leaving the folder) is refused and the file is never opened (Linux inotify watches
  it; a control case shows that the watch does see an open);
- a model truncated by another process while it is being converted gives one error line, never a
  crash (small models are read, large ones mapped: SIGBUS becomes a message), and leaves nothing;
- a conversion killed at any moment leaves no file behind and the previous output intact (the
  output is an unnamed file until it is complete).
"""
import ctypes
import os
import signal
import subprocess
import sys
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper as H
from onnx import numpy_helper as nh

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "build", "liteport")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify and O_TMPFILE are Linux's")

IN_ACCESS, IN_OPEN = 0x1, 0x20


class Watch:
    """inotify on one file: did anyone open or read it?"""

    def __init__(self, path):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK)
        assert self.fd >= 0, ctypes.get_errno()
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path), IN_OPEN | IN_ACCESS)
        assert wd >= 0, ctypes.get_errno()

    def touched(self):
        try:
            return len(os.read(self.fd, 65536)) > 0
        except BlockingIOError:
            return False

    def close(self):
        os.close(self.fd)


def _ext_model(folder, location):
    t = TP()
    t.name, t.data_type = "w", TP.FLOAT
    t.dims.extend([4])
    t.data_location = TP.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", location
    g = H.make_graph([H.make_node("Relu", ["w"], ["y"], name="relu_w")], "g", [],
                     [H.make_tensor_value_info("y", TP.FLOAT, [4])], [t])
    path = os.path.join(folder, "model.onnx")
    with open(path, "wb") as f:
        f.write(H.make_model(g, opset_imports=[H.make_opsetid("", 17)]).SerializeToString())
    return path


@pytest.fixture
def secret(tmp_path):
    """tmp/secret.bin (16 bytes a model must never read) and an empty model folder tmp/model."""
    s = tmp_path / "secret.bin"
    s.write_bytes(b"SECRET-SECRET-!!")
    (tmp_path / "model").mkdir()
    return s


def _convert_both_ways(model, out):
    """The CLI, liteport.convert(path) and liteport.convert(bytes, base_dir): (ok, message) each."""
    import liteport

    r = subprocess.run([CLI, "convert", model, "-o", out, "-q"], capture_output=True, text=True)
    res = [(r.returncode == 0, r.stderr.strip())]
    for arg, kw in [(model, {}), (open(model, "rb").read(), {"base_dir": os.path.dirname(model)})]:
        try:
            liteport.convert(arg, out if isinstance(arg, str) else None, **kw)
            res.append((True, ""))
        except liteport.ConversionError as e:
            res.append((False, str(e)))
    return res


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_external_data_outside_the_folder_is_refused_unopened(secret, how):
    folder = secret.parent / "model"
    if how == "dotdot":
        location, words = "../secret.bin", ["'../secret.bin'", "'..'"]
    elif how == "absolute":
        location, words = str(secret), [f"'{secret}'", "absolute path"]
    else:
        os.symlink(secret, folder / "link.bin")
        location, words = "link.bin", ["'link.bin'", "outside the model's folder"]
    model = _ext_model(str(folder), location)
    w = Watch(secret)
    try:
        results = _convert_both_ways(model, str(folder / "out.tflite"))
        opened = w.touched()
    finally:
        w.close()
    for ok, msg in results:
        assert not ok
        assert "initializer 'w'" in msg, msg
        for word in words:
            assert word in msg, (word, msg)
    assert not opened, "the file outside the model's folder was opened"
    assert sorted(os.listdir(folder)) == sorted(["model.onnx"] + (["link.bin"] if how == "symlink" else []))


def test_external_data_inside_the_folder_is_read(secret):
    """The control: the same watch sees the open when the data is legitimately inside the folder."""
    folder = secret.parent / "model"
    inside = folder / "w.bin"
    inside.write_bytes(np.arange(4, dtype=np.float32).tobytes())
    model = _ext_model(str(folder), "w.bin")
    w = Watch(inside)
    try:
        results = _convert_both_ways(model, str(folder / "out.tflite"))
        opened = w.touched()
    finally:
        w.close()
    assert all(ok for ok, _ in results), results
    assert opened


def _big_model(path, mb=80):
    """A MatMul with an mb-MiB weight: above the size liteport reads (64 MiB), so it is mapped."""
    n = mb * (1 << 20) // (4 * 2048)
    w = np.random.default_rng(0).random((2048, n), dtype=np.float32)
    g = H.make_graph([H.make_node("MatMul", ["x", "w"], ["y"])], "g", [H.make_tensor_value_info("x", TP.FLOAT, [1, 2048])],
                     [H.make_tensor_value_info("y", TP.FLOAT, [1, n])], [nh.from_array(w, "w")])
    onnx.save(H.make_model(g, opset_imports=[H.make_opsetid("", 17)]), path)


def test_model_truncated_while_converting(tmp_path):
    big = tmp_path / "big.onnx"
    _big_model(str(big))
    data = big.read_bytes()
    outcomes = []
    for delay in [0.0, 0.005, 0.02, 0.05, 0.1]:
        m, out = tmp_path / "m.onnx", tmp_path / "m.tflite"
        m.write_bytes(data)
        p = subprocess.Popen([CLI, "convert", str(m), "-o", str(out), "-q"], stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        os.truncate(m, 1000)
        _, err = p.communicate(timeout=120)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert p.returncode in (0, 1), (delay, p.returncode, err)  # never a signal (SIGBUS)
        if p.returncode == 1:
            assert len(lines) == 1 and lines[0].startswith(f"liteport: error: {m}: "), err
            assert not out.exists()
        else:
            out.unlink()
        assert sorted(os.listdir(tmp_path)) == ["big.onnx", "m.onnx"]
        outcomes.append(lines[0] if lines else "converted")
    # at least one truncation landed during the conversion (it cannot be arranged exactly)
    assert any("shrank" in o or "truncated" in o for o in outcomes), outcomes


def test_killed_conversion_leaves_nothing(tmp_path):
    """SIGKILL at several moments, with and without an earlier output: never a partial output or a
    temporary file, an earlier output either untouched or replaced by the complete new model."""
    big = tmp_path / "big.onnx"
    _big_model(str(big), mb=70)
    out = tmp_path / "big.tflite"
    sentinel = b"the previous model"
    for i, delay in enumerate([0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8]):
        had_output = i % 2 == 0
        if had_output:
            out.write_bytes(sentinel)
        elif out.exists():
            out.unlink()
        p = subprocess.Popen([CLI, "convert", str(big), "-o", str(out), "-q"])
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        names = sorted(os.listdir(tmp_path))
        assert names == ["big.onnx", "big.tflite"] or (not had_output and names == ["big.onnx"]), (delay, names)
        if out.exists():
            data = out.read_bytes()
            # either untouched, or (killed after the rename) the complete new model
            assert (had_output and data == sentinel) or (data[4:8] == b"TFL3" and len(data) > 70 << 20), delay
