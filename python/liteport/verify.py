"""Numeric verification: the ONNX model in onnxruntime against the .tflite model in LiteRT.

Both runtimes get the same inputs (seeded random ones, or arrays the caller gives, always in the
ONNX layout). Where the converter changed an input or output layout (NCHW -> NHWC), the report's
permutation is applied on the way into LiteRT and undone on the way out, so every comparison is
in ONNX's layout. The tolerance is the product's acceptance rule:

    max|litert - ort| <= rtol * max(1, max|ort|)      with rtol = 1e-4

onnxruntime and ai-edge-litert are imported only when verification runs.
"""
import os

import numpy as np

DEFAULT_RTOL = 1e-4
DEFAULT_BATCH_SIZES = (1, 3)
# sizes tried for the other dynamic dimensions: height and width of image-like (4-D) inputs, and
# anything else (sequence lengths, ...)
DEFAULT_HEIGHT_SIZES = (64, 97)
DEFAULT_WIDTH_SIZES = (64, 131)
DEFAULT_DIM_SIZES = (7, 1, 16)
SIGNATURE_KEY = "serving_default"
WEAK_REF = 1e-2  # outputs this small pass the absolute rule almost whatever LiteRT computes


class VerificationError(RuntimeError):
    """LiteRT's outputs differ from onnxruntime's by more than the tolerance (``.result``)."""

    def __init__(self, result):
        super().__init__("LiteRT outputs differ from onnxruntime:\n" + str(result))
        self.result = result


# ---------------------------------------------------------------------------------------------
# helpers


def _read_bytes(model):
    """path | bytes-like | onnx.ModelProto -> (bytes, path or None)."""
    if hasattr(model, "SerializeToString") and not isinstance(model, (bytes, bytearray)):
        return model.SerializeToString(), None
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), None
    path = os.fspath(model)
    with open(path, "rb") as f:
        return f.read(), path


def _c_order(a):
    """A C-contiguous array of the same shape (np.ascontiguousarray turns a scalar into [1])."""
    a = np.asarray(a)
    return a if a.flags.c_contiguous else np.array(a, order="C")


def _inverse(perm):
    return tuple(int(i) for i in np.argsort(perm))


def _ort_dtype(type_str):
    # onnxruntime reports 'tensor(float)', 'tensor(int64)', ...
    t = type_str[len("tensor("):-1] if type_str.startswith("tensor(") else type_str
    table = {
        "float": np.float32,
        "float16": np.float16,
        "double": np.float64,
        "int8": np.int8,
        "int16": np.int16,
        "int32": np.int32,
        "int64": np.int64,
        "uint8": np.uint8,
        "uint16": np.uint16,
        "uint32": np.uint32,
        "uint64": np.uint64,
        "bool": np.bool_,
    }
    if t not in table:
        raise ValueError(f"verify: ONNX input type {type_str} is not supported")
    return np.dtype(table[t])


def _is_dynamic(d):
    return not isinstance(d, (int, np.integer)) or d < 0


def _random_input(rng, dtype, shape):
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 4, size=shape).astype(dtype)  # small, valid as indices too
    return rng.standard_normal(size=shape).astype(dtype)


def _report_for(onnx_bytes, onnx_path, tflite_bytes):
    """Recompute the conversion report in memory; check it describes `tflite_bytes`.

    The report is the only reliable source of the I/O permutation (shapes alone cannot tell a
    [1,3,3,3] NHWC input from an NCHW one). A model converted with other options (kept layout,
    fixed shapes) would give a different report, so the shapes of the recomputed model are checked
    against the given one; on a mismatch the caller must pass the original report.
    """
    from . import convert  # late: liteport/__init__ imports this module

    base_dir = os.path.dirname(os.path.abspath(onnx_path)) if onnx_path else None
    given = _tflite_io_signature(tflite_bytes)
    for keep in (False, True):
        rep = convert(onnx_bytes, base_dir=base_dir, keep_io_layout=keep)
        if rep.tflite == tflite_bytes or _tflite_io_signature(rep.tflite) == given:
            return rep
    raise ValueError(
        "verify: the .tflite model's input/output shapes or types differ from a default conversion of "
        "the ONNX model (converted with other options?); pass its conversion report (report= in Python, "
        "--report REPORT.json or the same conversion options on the command line)"
    )


def _tflite_io_signature(tflite_bytes):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tflite_bytes)
    return (
        [(tuple(d["shape_signature"]), np.dtype(d["dtype"]).name) for d in it.get_input_details()],
        [(tuple(d["shape_signature"]), np.dtype(d["dtype"]).name) for d in it.get_output_details()],
    )


# ---------------------------------------------------------------------------------------------
# LiteRT with ONNX layout and names


def _quant_params(details):
    """(scale, zero_point) of a per-tensor quantized input/output, else (0, 0)."""
    q = details.get("quantization")
    if isinstance(q, (tuple, list)) and len(q) == 2 and q[0]:
        return float(q[0]), int(q[1])
    qp = details.get("quantization_parameters") or {}
    sc = qp.get("scales")
    if sc is not None and len(sc) == 1 and sc[0]:
        return float(sc[0]), int(qp["zero_points"][0])
    return 0.0, 0


class LiteRTModel:
    """Runs a converted .tflite model in LiteRT with ONNX names and ONNX layouts.

        m = LiteRTModel("m.tflite", report)          # report from liteport.convert/export
        outs = m({"input": x_nchw})                   # {"output": y} in ONNX layout

    Inputs are transposed by the report's perm before LiteRT and outputs transposed back. Integer
    (int8 / uint8) inputs of a quantized model take float arrays, quantized with the input's scale
    and zero point; such outputs are dequantized to float32 (``dequantize=False`` keeps the raw
    integers). When
    the model has a ``serving_default`` signature it is run through the signature runner (keys =
    ONNX names, as Android's runSignature uses them); otherwise inputs and outputs are matched by
    position. Changing the batch size resizes the inputs (only dynamic dimensions may change).
    """

    def __init__(self, tflite_model, report, num_threads=None, dequantize=True):
        from ai_edge_litert.interpreter import Interpreter

        if isinstance(tflite_model, (str, os.PathLike)):
            # LiteRT maps the file: a model with its weights after the flatbuffer (over 2 GB) is
            # never read into memory here
            self.tflite_bytes, self.tflite_path = None, os.fspath(tflite_model)
            self.interpreter = Interpreter(model_path=self.tflite_path, num_threads=num_threads)
        else:
            self.tflite_bytes, self.tflite_path = _read_bytes(tflite_model)
            self.interpreter = Interpreter(model_content=self.tflite_bytes, num_threads=num_threads)
        self.report = report
        self.dequantize = dequantize
        rep_in = list(report.get("inputs") or [])
        rep_out = list(report.get("outputs") or [])
        from . import _perm

        self.input_names = [e.get("name") for e in rep_in]
        self.output_names = [e.get("name") for e in rep_out]
        self._in_perm = {e.get("name"): _perm(e) for e in rep_in}
        self._pixels = set(_pixel_inputs(report))
        self._out_perm = {e.get("name"): _perm(e) for e in rep_out}

        sigs = self.interpreter.get_signature_list()
        self.runner = None
        if SIGNATURE_KEY in sigs:
            self.runner = self.interpreter.get_signature_runner(SIGNATURE_KEY)
            in_details = self.runner.get_input_details()
            out_details = self.runner.get_output_details()
            if set(in_details) != set(self.input_names) or set(out_details) != set(self.output_names):
                raise ValueError(
                    f"signature '{SIGNATURE_KEY}' has inputs {sorted(in_details)} and outputs "
                    f"{sorted(out_details)}; the ONNX model has {self.input_names} and "
                    f"{self.output_names}"
                )
            self._in_details = in_details
            self._out_details = out_details
        else:
            ins = self.interpreter.get_input_details()
            outs = self.interpreter.get_output_details()
            if len(ins) != len(self.input_names) or len(outs) != len(self.output_names):
                raise ValueError(
                    f"the .tflite model has {len(ins)} inputs and {len(outs)} outputs; the ONNX "
                    f"model has {len(self.input_names)} and {len(self.output_names)}"
                )
            self._in_details = dict(zip(self.input_names, ins))
            self._out_details = dict(zip(self.output_names, outs))
        self._shapes = None  # input shapes allocated last (fallback path)

    @property
    def signature_inputs(self):
        return list(self._in_details)

    def input_signature(self, name):
        """shape_signature of input `name` as TFLite sees it (-1 = dynamic)."""
        return [int(x) for x in self._in_details[name]["shape_signature"]]

    def _to_tflite(self, name, arr):
        d = self._in_details[name]
        perm = self._in_perm.get(name)
        a = np.asarray(arr)
        if perm is not None:
            if a.ndim != len(perm):
                raise ValueError(f"input {name!r}: rank {a.ndim}, layout perm {list(perm)}")
            a = a.transpose(perm)
        want = np.dtype(d["dtype"])
        if name in self._pixels and not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"input {name!r} takes 8-bit pixels (uint8_input): pass integer pixel values "
                             f"0-255, not {a.dtype} (the model normalizes them itself)")
        scale, zero = _quant_params(d)
        if scale and want.kind in "iu" and a.dtype.kind == "f":
            info = np.iinfo(want)
            a = np.clip(np.round(a / scale) + zero, info.min, info.max)
        if a.dtype != want:
            a = a.astype(want)
        a = _c_order(a)
        sig = [int(x) for x in d["shape_signature"]]
        if len(sig) != a.ndim or any(s != -1 and s != n for s, n in zip(sig, a.shape)):
            raise ValueError(
                f"input {name!r}: shape {list(a.shape)} (TFLite layout) does not fit the "
                f"model's shape signature {sig}"
            )
        return a

    def _read_outputs(self):
        # LiteRT's Python wrapper refuses to read a tensor of zero bytes ("Invalid tensor size"):
        # zero-element outputs are built from their shape instead
        raw = {}
        for n in self.output_names:
            idx = self._out_details[n]["index"]
            d = self.interpreter._get_tensor_details(idx, 0)
            shape = [int(x) for x in d["shape"]]
            raw[n] = np.zeros(shape, d["dtype"]) if 0 in shape else self.interpreter.get_tensor(idx)
        return raw

    def __call__(self, inputs):
        """inputs: {name: array} or a list in ONNX input order (ONNX layout). -> {name: array}."""
        if not isinstance(inputs, dict):
            inputs = list(inputs)
            if len(inputs) != len(self.input_names):
                raise ValueError(f"expected {len(self.input_names)} inputs, got {len(inputs)}")
            inputs = dict(zip(self.input_names, inputs))
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ValueError(f"missing inputs {missing}")
        feed = {n: self._to_tflite(n, inputs[n]) for n in self.input_names}

        if self.runner is not None:
            # The signature runner resizes its inputs itself (non-strictly); _to_tflite has
            # already refused any change of a fixed dimension.
            try:
                raw = self.runner(**feed)
            except ValueError as e:
                if "Invalid tensor size" not in str(e):
                    raise
                raw = self._read_outputs()  # the run succeeded; an output has zero elements
        else:
            it = self.interpreter
            shapes = {n: a.shape for n, a in feed.items()}
            if shapes != self._shapes:
                for n, a in feed.items():
                    it.resize_tensor_input(self._in_details[n]["index"], a.shape, strict=True)
                it.allocate_tensors()
                self._shapes = shapes
            for n, a in feed.items():
                it.set_tensor(self._in_details[n]["index"], a)
            it.invoke()
            raw = self._read_outputs()

        out = {}
        for n in self.output_names:
            a = np.asarray(raw[n])
            scale, zero = _quant_params(self._out_details[n])
            if self.dequantize and scale and a.dtype.kind in "iu":
                a = (a.astype(np.float32) - np.float32(zero)) * np.float32(scale)
            perm = self._out_perm.get(n)
            if perm is not None:
                a = a.transpose(_inverse(perm))
            out[n] = _c_order(a)
        return out


# ---------------------------------------------------------------------------------------------
# result


class OutputCheck:
    """The comparison of one output at one batch size (and size of each dynamic dimension)."""

    __slots__ = ("name", "batch", "shape", "max_abs", "max_rel", "max_ref", "tolerance", "ok", "note", "sizes")

    def __init__(self, name, batch, shape, max_abs, max_rel, max_ref, tolerance, ok, note="", sizes=None):
        self.name = name
        self.batch = batch          # batch size of the run (dim 0 of the first input)
        self.shape = shape          # ONNX-layout shape of the onnxruntime output
        self.max_abs = max_abs      # max |litert - ort|
        self.max_rel = max_rel      # max |litert - ort| / |ort| where |ort| >= 1e-3 * max|ort|
        self.max_ref = max_ref      # max |ort|
        self.tolerance = tolerance  # rtol * max(1, max|ort|)
        self.ok = ok                # max_abs <= tolerance (and shapes agree)
        self.note = note            # why it failed, when not a numeric difference
        self.sizes = dict(sizes or {})  # size of each dynamic dimension in this run, by name

    def to_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __repr__(self):
        return (f"OutputCheck({self.name!r}, batch={self.batch}, max_abs={self.max_abs:.3g}, "
                f"ok={self.ok})")


class VerifyResult:
    """All comparisons of one verify() call. ``ok`` is True when every check passed."""

    def __init__(self, checks, rtol, backend):
        self.checks = list(checks)
        self.rtol = rtol
        self.backend = backend  # "signature runner" or "input/output details"

    @property
    def ok(self):
        return bool(self.checks) and all(c.ok for c in self.checks)

    def __bool__(self):
        return self.ok

    @property
    def max_abs(self):
        return max((c.max_abs for c in self.checks), default=float("nan"))

    def by_output(self):
        """{output name: [OutputCheck per batch size]}"""
        out = {}
        for c in self.checks:
            out.setdefault(c.name, []).append(c)
        return out

    def to_dict(self):
        return {"ok": self.ok, "rtol": self.rtol, "backend": self.backend,
                "checks": [c.to_dict() for c in self.checks]}

    def __str__(self):
        with_sizes = any(set(c.sizes) - {"batch"} for c in self.checks)
        head = ["output", "sizes" if with_sizes else "batch", "shape", "max|ort|", "max abs diff", "max rel diff",
                "tolerance", ""]
        rows = []
        for c in self.checks:
            rows.append([
                str(c.name),
                " ".join(f"{k}={v}" for k, v in c.sizes.items()) if with_sizes
                else "-" if c.batch is None else str(c.batch),
                "[" + ",".join(map(str, c.shape)) + "]",
                f"{c.max_ref:.4g}",
                f"{c.max_abs:.3g}",
                f"{c.max_rel:.3g}",
                f"{c.tolerance:.3g}",
                "ok" if c.ok else ("FAIL " + c.note).strip(),
            ])
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
        fmt = lambda r: "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()  # noqa: E731
        lines = [fmt(head)] + [fmt(r) for r in rows]
        weak = sorted({c.name for c in self.checks if c.max_ref < WEAK_REF})
        if weak:
            lines.append(f"note: max|ort| < {WEAK_REF:g} on {', '.join(map(str, weak))}: the absolute "
                         "tolerance makes this check weak; see max rel diff")
        verdict = "ok" if self.ok else "FAILED"
        lines.append(f"{verdict}: max|litert - ort| <= {self.rtol:g} * max(1, max|ort|) "
                     f"({len(self.checks)} check{'' if len(self.checks) == 1 else 's'}, LiteRT via {self.backend})")
        return "\n".join(lines)


def _compare(name, batch, ref, got, rtol):
    ref = np.asarray(ref)
    got = np.asarray(got)
    if ref.shape != got.shape:
        return OutputCheck(name, batch, list(ref.shape), float("inf"), float("inf"),
                           float(np.max(np.abs(ref.astype(np.float64)), initial=0.0)),
                           float("nan"), False, f"shape {list(got.shape)} != {list(ref.shape)}")
    r = ref.astype(np.float64)
    g = got.astype(np.float64)
    both_nan = np.isnan(r) & np.isnan(g)
    diff = np.where(both_nan, 0.0, np.abs(g - r))
    diff = np.where(np.isnan(diff), np.inf, diff)  # NaN on one side only is a failure
    absr = np.where(np.isnan(r), 0.0, np.abs(r))
    max_ref = float(np.max(absr, initial=0.0))
    max_abs = float(np.max(diff, initial=0.0))
    # Relative difference over the elements that are not tiny next to the largest one (near
    # zero the ratio says nothing); informative only, `ok` uses the scaled absolute rule.
    big = (absr >= 1e-3 * max_ref) & (absr > 0)
    max_rel = float(np.max(diff[big] / absr[big], initial=0.0)) if big.any() else (
        0.0 if max_abs == 0 else float("inf"))
    tol = rtol * max(1.0, max_ref)
    return OutputCheck(name, batch, list(ref.shape), max_abs, max_rel, max_ref, tol,
                       bool(max_abs <= tol))


# ---------------------------------------------------------------------------------------------
# verify


def verify(onnx_model, tflite_model, inputs=None, *, batch_sizes=None, dim_sizes=None, seed=0,
           rtol=DEFAULT_RTOL, report=None):
    """Run onnxruntime and LiteRT on the same inputs and compare every output.

    onnx_model: path, bytes or onnx.ModelProto. tflite_model: path or bytes.
    inputs: None (seeded random inputs: floats ~ N(0,1), integers in 0..3, random bools), a dict
        {onnx input name: array} or a list in ONNX input order; arrays in ONNX layout.
    batch_sizes: batch sizes to try with random inputs. Default: (1, 3) when every input has a
        dynamic first dimension in both models, else the model's fixed batch.
    dim_sizes: sizes to try for the other dynamic dimensions, {name: sizes}: the name is the
        dimension's dim_param (every dimension with that name takes the same size) or
        "input:axis" for an unnamed one. Default: (64, 97) for the height and (64, 131) for the
        width of a 4-D input, (7, 1, 16) for any other. Run k takes the k-th size of every
        dynamic dimension (shorter lists start over), so batch (1, 3) with height (224, 320, 97)
        and width (224, 256, 131) runs 1x224x224, 3x320x256 and 1x97x131.
    report: the conversion report (Report or dict) that gives the I/O layout permutations. When
        None, the ONNX model is converted again in memory to obtain it (and the result checked
        against the given .tflite's shapes).
    Returns a VerifyResult (``.ok``, ``.checks``, printable table). Does not raise on a mismatch.
    """
    import onnxruntime as ort

    from . import Report

    onnx_bytes, onnx_path = _read_bytes(onnx_model)
    if report is None:
        tflite_bytes, _ = _read_bytes(tflite_model)
        report = _report_for(onnx_bytes, onnx_path, tflite_bytes)
        del tflite_bytes
    elif not isinstance(report, Report):
        report = Report(report)  # a plain dict, e.g. json.load of the CLI's --json output

    so = ort.SessionOptions()
    so.log_severity_level = 3
    # from its path, onnxruntime finds the model's external data files
    sess = ort.InferenceSession(onnx_path if onnx_path else onnx_bytes, sess_options=so,
                                providers=["CPUExecutionProvider"])
    del onnx_bytes
    ort_inputs = sess.get_inputs()
    ort_outputs = [o.name for o in sess.get_outputs()]
    lite = LiteRTModel(tflite_model, report)
    if [i.name for i in ort_inputs] != lite.input_names or ort_outputs != lite.output_names:
        raise ValueError(
            f"the report names inputs {lite.input_names} / outputs {lite.output_names}, the ONNX "
            f"model {[i.name for i in ort_inputs]} / {ort_outputs}"
        )
    backend = "signature runner" if lite.runner is not None else "input/output details"
    pixels = _pixel_inputs(report)

    runs = []  # (batch or None, {dim name: size}, {name: array})
    if inputs is not None:
        if not isinstance(inputs, dict):
            inputs = list(inputs)
            if len(inputs) != len(ort_inputs):
                raise ValueError(f"expected {len(ort_inputs)} inputs, got {len(inputs)}")
            inputs = {i.name: a for i, a in zip(ort_inputs, inputs)}
        feed = {}
        for i in ort_inputs:
            if i.name not in inputs:
                raise ValueError(f"missing input {i.name!r}")
            a = np.asarray(inputs[i.name])
            if i.name in pixels:
                if not np.issubdtype(a.dtype, np.integer) or a.size and (a.min() < 0 or a.max() > 255):
                    raise ValueError(f"input {i.name!r} takes 8-bit pixels in the .tflite model: pass "
                                     "integer pixel values 0-255 (ONNX layout)")
                feed[i.name] = _c_order(a.astype(np.uint8))
                continue
            feed[i.name] = _c_order(a.astype(_ort_dtype(i.type)))
        runs.append((_batch_of(feed), {}, feed))
    else:
        groups = _dynamic_groups(ort_inputs, lite, report, batch_sizes, dim_sizes)
        rng = np.random.default_rng(seed)
        for sizes in _size_runs(groups):
            feed = {}
            for i in ort_inputs:
                shape = _concrete_shape(i, sizes, groups, lite, report)
                if i.name in pixels:
                    feed[i.name] = rng.integers(0, 256, size=shape).astype(np.uint8)
                else:
                    feed[i.name] = _random_input(rng, _ort_dtype(i.type), shape)
            runs.append((_batch_of(feed), sizes, feed))

    checks = []
    for b, sizes, feed in runs:
        # an image input that takes uint8 pixels (uint8_input): LiteRT gets the pixels, onnxruntime
        # the normalized floats the ONNX model expects
        lite_feed = dict(feed)
        for name, px in pixels.items():
            lite_feed[name] = feed[name]
            feed = dict(feed)
            feed[name] = _normalize_pixels(feed[name], px)
        ref = dict(zip(ort_outputs, sess.run(ort_outputs, feed)))
        got = lite(lite_feed)
        for n in ort_outputs:
            c = _compare(n, b, ref[n], got[n], rtol)
            c.sizes = dict(sizes)
            checks.append(c)
    return VerifyResult(checks, rtol, backend)


def _pixel_inputs(report):
    """{input name: (mean, std, channel axis in the ONNX layout)} of the inputs converted to take
    uint8 pixels; mean and std on the 0-255 scale."""
    md = report.get("metadata") if hasattr(report, "get") else None
    img = md.get("image_input") if md else None
    if not img or not img.get("uint8"):
        return {}
    name = img.get("name")
    onnx_dtype = [e.get("dtype") for e in report.get("inputs") or [] if e.get("name") == name]
    if onnx_dtype and onnx_dtype[0] == "uint8":
        return {}  # the ONNX model itself takes the pixels: both runtimes get the same uint8 arrays
    perm = report.input_perm(name) if hasattr(report, "input_perm") else None
    axis = perm[-1] if perm is not None else -1  # TFLite's last axis holds the channels
    return {name: (np.asarray(img.get("mean"), np.float64), np.asarray(img.get("std"), np.float64), axis)}


def _normalize_pixels(pixels, px):
    """uint8 pixels (ONNX layout) -> the float input of the ONNX model: (p - mean) / std."""
    mean, std, axis = px
    a = np.asarray(pixels, np.float64)
    shape = [1] * a.ndim
    shape[axis] = -1
    return _c_order(((a - mean.reshape(shape)) / std.reshape(shape)).astype(np.float32))


class _Group:
    """One dynamic dimension: the (input, axis) pairs that share its size, and the sizes to try."""

    def __init__(self, name, members, sizes):
        self.name = name
        self.members = members
        self.sizes = tuple(int(s) for s in sizes)


def _dynamic_groups(ort_inputs, lite, report, batch_sizes, dim_sizes):
    """The dynamic dimensions (dynamic in the ONNX model and -1 in the TFLite signature) as groups:
    dim 0 of every input is one "batch" group when all are dynamic; other dimensions group by
    their dim_param name, or stand alone as "input:axis"."""
    dim_sizes = dict(dim_sizes or {})
    groups, by_name = [], {}
    dynamic_batch = len(ort_inputs) > 0 and all(
        len(i.shape) > 0 and _is_dynamic(i.shape[0]) and _tflite_dim_dynamic(lite, report, i.name, 0)
        for i in ort_inputs)
    if dynamic_batch:
        sizes = batch_sizes if batch_sizes is not None else dim_sizes.pop("batch", DEFAULT_BATCH_SIZES)
        groups.append(_Group("batch", [(i.name, 0) for i in ort_inputs], sizes))
    elif batch_sizes is not None and any(b is not None for b in batch_sizes):
        raise ValueError("verify: batch_sizes given, but the batch of the model is not dynamic")
    for i in ort_inputs:
        for k, d in enumerate(i.shape):
            if (k == 0 and dynamic_batch) or not _is_dynamic(d) or not _tflite_dim_dynamic(lite, report, i.name, k):
                continue
            name = d if isinstance(d, str) and d else f"{i.name}:{k}"
            if name in by_name:
                by_name[name].members.append((i.name, k))
                continue
            sizes = dim_sizes.pop(name, None)
            if sizes is None:
                sizes = (DEFAULT_HEIGHT_SIZES if k == 2 else DEFAULT_WIDTH_SIZES) if len(i.shape) == 4 and k >= 2 \
                    else DEFAULT_DIM_SIZES
            g = _Group(name, [(i.name, k)], sizes)
            by_name[name] = g
            groups.append(g)
    if dim_sizes:
        raise ValueError(f"verify: no dynamic dimension is called {', '.join(map(repr, dim_sizes))} "
                         f"(dynamic: {', '.join(g.name for g in groups) or 'none'})")
    for g in groups:
        if not g.sizes or any(s < 1 for s in g.sizes):
            raise ValueError(f"verify: sizes for {g.name!r} must be positive, not {list(g.sizes)}")
    return groups


def _size_runs(groups):
    """Run k: the k-th size of every dimension (shorter lists start over)."""
    n = max((len(g.sizes) for g in groups), default=1)
    return [{g.name: g.sizes[k % len(g.sizes)] for g in groups} for k in range(n)]


def _batch_of(feed):
    for a in feed.values():
        if a.ndim:
            return int(a.shape[0])
    return None


def _tflite_dim_dynamic(lite, report, name, axis):
    """Is ONNX dim `axis` of input `name` dynamic in the TFLite model too?"""
    sig = lite.input_signature(name)
    perm = report.input_perm(name) if hasattr(report, "input_perm") else None
    pos = perm.index(axis) if perm is not None else axis
    return len(sig) > pos and sig[pos] == -1


def _concrete_shape(ort_input, sizes, groups, lite, report):
    """ONNX-layout shape for a random input: each dynamic dim at its group's size in this run;
    fixed dims as they are; a dim the TFLite model fixed at its TFLite size."""
    sig = lite.input_signature(ort_input.name)
    perm = report.input_perm(ort_input.name) if hasattr(report, "input_perm") else None
    member = {(m, a): g.name for g in groups for (m, a) in g.members}
    shape = []
    for k, d in enumerate(ort_input.shape):
        t = sig[perm.index(k)] if perm is not None else (sig[k] if k < len(sig) else -1)
        g = member.get((ort_input.name, k))
        if g is not None:
            shape.append(int(sizes[g]))
        elif not _is_dynamic(d):
            shape.append(int(d))
        elif t > 0:
            shape.append(int(t))
        else:
            shape.append(1)
    return shape
