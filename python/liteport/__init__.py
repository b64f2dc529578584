"""liteport: ONNX -> TensorFlow Lite (LiteRT), with PyTorch export and numeric verification.

    import liteport
    report = liteport.convert("model.onnx")            # writes model.tflite, returns a Report
    print(report)                                       # inputs/outputs, layouts, op counts, size
    report = liteport.convert(onnx_bytes)               # in memory: report.tflite holds the bytes
    report = liteport.export(module, (x,), "m.tflite")  # PyTorch -> ONNX -> TFLite, verified
    print(liteport.verify("m.onnx", "m.tflite"))        # onnxruntime vs LiteRT, per output
    report = liteport.convert("m.onnx", "m_int8.tflite", quantize="int8", calibration="images/")
    print(report.quantization)                          # size, error against float32, warnings
    outs = liteport.run("m.onnx", x_numpy)              # liteport's own reference interpreter

The converter itself is the C library in src/ (compiled into ``liteport._core``); this package
only picks defaults, formats options and wraps the JSON report the library produces.
"""
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping

from . import _core
from ._core import ConversionError

__version__ = _core.version

__all__ = [
    "convert",
    "run",
    "export",
    "verify",
    "Report",
    "ConversionError",
    "VerificationError",
    "LiteRTModel",
    "read_metadata",
    "__version__",
]


class _Record(Mapping):
    """Read-only view of a JSON object: a Mapping with attribute access (nested objects are
    wrapped too), so ``report.inputs[0].shape`` and ``report.tflite_ops.items()`` both work.

    Missing keys raise AttributeError / KeyError; code that must tolerate fields the C library
    does not emit (yet) uses ``.get(key, default)``.
    """

    __slots__ = ("_d",)

    def __init__(self, d):
        object.__setattr__(self, "_d", dict(d))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return _wrap(self._d[name])
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no field {name!r} "
                f"(fields: {', '.join(self._d)})"
            ) from None

    def __getitem__(self, key):
        return _wrap(self._d[key])

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def to_dict(self):
        """A deep copy of the underlying JSON data (plain dicts and lists)."""
        return json.loads(json.dumps(self._d))

    def __repr__(self):
        return f"{type(self).__name__}({self._d!r})"


def _wrap(v):
    if isinstance(v, dict):
        return _Record(v)
    if isinstance(v, list):
        return [_wrap(x) for x in v]
    return v


def _perm(entry):
    """The layout permutation of a report I/O entry, or None when the layout is unchanged.

    ``perm[i]`` is the ONNX dimension that becomes TFLite dimension i, so a TFLite array equals
    ``onnx_array.transpose(perm)`` and ``tflite_array.transpose(argsort(perm))`` is the ONNX one.
    """
    get = entry.get if hasattr(entry, "get") else (lambda k, d=None: d)
    perm = get("perm")
    if not get("layout_changed", False) or not perm:
        return None
    perm = tuple(int(p) for p in perm)
    if perm == tuple(range(len(perm))):
        return None
    return perm


def _fmt_dims(dims):
    if dims is None:
        return "?"
    return "[" + ",".join(str(d) for d in dims) + "]"


def _layout_name(perm):
    if perm is None:
        return ""
    if perm == (0, 2, 3, 1):
        return "NCHW -> NHWC"
    if perm == (0, 2, 1):
        return "NCW -> NWC"
    if perm == (0, 2, 3, 4, 1):
        return "NCDHW -> NDHWC"
    return "perm " + ",".join(map(str, perm))


def _histogram(ops, limit=12):
    if not ops:
        return "-"
    items = sorted(dict(ops).items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k} {v}" for k, v in items[:limit])
    if len(items) > limit:
        text += f", ... ({len(items) - limit} more)"
    return text


class Report(_Record):
    """The conversion report of one model (the C library's JSON, with attribute access).

    Fields (more may appear): input, output, output_size, time_ms, opset, inputs, outputs
    (each: name, dtype, onnx_shape, shape, layout_changed, perm), onnx_ops, n_onnx_nodes,
    tflite_ops, n_tflite_ops, transposes, warnings.

    Extra attributes: ``tflite`` (the model bytes for an in-memory conversion, else None),
    ``dump`` (IR text requested with dump_after, else ""), ``verification`` (set by export()).
    """

    __slots__ = ("tflite", "dump", "verification", "onnx_path")

    def __init__(self, data, tflite=None, dump=""):
        super().__init__(data)
        object.__setattr__(self, "tflite", tflite)
        object.__setattr__(self, "dump", dump or "")
        object.__setattr__(self, "verification", None)
        object.__setattr__(self, "onnx_path", None)

    def __setattr__(self, name, value):
        if name in Report.__slots__:
            object.__setattr__(self, name, value)
        else:
            raise AttributeError(f"Report field {name!r} is read-only")

    @classmethod
    def from_json(cls, text, tflite=None, dump=""):
        return cls(json.loads(text), tflite=tflite, dump=dump)

    # -- layout helpers -------------------------------------------------------------------
    def _io(self, kind, name):
        for e in self._d.get(kind) or []:
            if e.get("name") == name:
                return e
        raise KeyError(f"no {kind[:-1]} named {name!r} in the report")

    def input_perm(self, name):
        """perm of input `name` (TFLite array = ONNX array.transpose(perm)), or None."""
        return _perm(self._io("inputs", name))

    def output_perm(self, name):
        """perm of output `name` (TFLite array = ONNX array.transpose(perm)), or None."""
        return _perm(self._io("outputs", name))

    @property
    def input_names(self):
        return [e.get("name") for e in self._d.get("inputs") or []]

    @property
    def output_names(self):
        return [e.get("name") for e in self._d.get("outputs") or []]

    # -- text -------------------------------------------------------------------------------
    def __str__(self):
        d = self._d
        lines = []
        src = d.get("input") or "<memory>"
        dst = d.get("output") or "<memory>"
        head = f"{src} -> {dst}"
        facts = []
        if d.get("output_size") is not None:
            facts.append(f"{int(d['output_size']):,} bytes")
        if d.get("time_ms") is not None:
            facts.append(f"{float(d['time_ms']):.1f} ms")
        if d.get("opset") is not None:
            facts.append(f"opset {d['opset']}")
        if facts:
            head += " (" + ", ".join(facts) + ")"
        lines.append(head)
        for kind in ("inputs", "outputs"):
            entries = d.get(kind) or []
            lines.append(f"{kind}:")
            width = max([len(str(e.get("name", ""))) for e in entries] + [1])
            for e in entries:
                perm = _perm(e)
                onnx_shape = _fmt_dims(e.get("onnx_shape"))
                shape = _fmt_dims(e.get("shape"))
                text = f"  {str(e.get('name', '')):<{width}}  {e.get('dtype', '?'):<8} "
                text += f"onnx {onnx_shape} -> tflite {shape}"
                if e.get("tflite_dtype") and e.get("tflite_dtype") != e.get("dtype"):
                    text += f" {e['tflite_dtype']}"
                    qp = e.get("quantization")
                    if qp:
                        zp = int(qp["zero_point"])
                        text += f" (real = {qp['scale']:.6g} * (q {'-' if zp >= 0 else '+'} {abs(zp)}))"
                if perm is not None:
                    text += f"  layout {_layout_name(perm)}"
                lines.append(text)
        n_in = d.get("n_onnx_nodes")
        n_out = d.get("n_tflite_ops")
        ops = "ops: "
        ops += f"{n_in if n_in is not None else '?'} ONNX nodes -> "
        ops += f"{n_out if n_out is not None else '?'} TFLite ops"
        if d.get("transposes") is not None:
            ops += f", {d['transposes']} TRANSPOSE"
        lines.append(ops)
        lines.append("  onnx:   " + _histogram(d.get("onnx_ops")))
        lines.append("  tflite: " + _histogram(d.get("tflite_ops")))
        md = d.get("metadata")
        if md:
            text = f"metadata: {md.get('name')!r} (min parser {md.get('min_parser_version')})"
            img = md.get("image_input")
            if img:
                text += f", image input {img['name']!r} {img['color_space']}"
                text += " uint8 pixels (normalized inside the model)" if img.get("uint8") else ""
            lab = md.get("labels")
            if lab:
                text += f", {lab['count']} labels ({lab['file']}) for {lab['output']!r}"
            lines.append(text)
        q = d.get("quantization")
        if q:
            lines.append(_quant_text(q))
        for w in d.get("warnings") or []:
            lines.append(f"warning: {w}")
        return "\n".join(lines)

    def __repr__(self):
        return f"Report({self._d.get('input') or '<memory>'!r} -> {self._d.get('output') or '<memory>'!r})"


def _quant_text(q):
    """Text lines for the report's "quantization" object."""
    head = f"quantized {q.get('mode')}"
    if q.get("mode") == "int8":
        head += f" (inputs/outputs {q.get('io_type')})"
    fs, sz = q.get("float_size") or 0, q.get("size") or 0
    head += f": {fs:,} -> {sz:,} bytes ({(sz / fs if fs else 0):.2f}x)"
    wf, wq = q.get("weights_float_bytes") or 0, q.get("weights_bytes") or 0
    if wf:
        head += f"; weights {wf:,} -> {wq:,} bytes ({wq / wf:.2f}x)"
    if q.get("mode") == "int8":
        head += f", {q.get('int8_ops', 0)} int8 ops, {sum((q.get('float_ops') or {}).values())} float ops"
    lines = [head]
    if q.get("calibration") and q.get("mode") == "int8":
        line = f"  calibrated on {q['calibration']}"
        if q.get("percentile"):
            line += f", ranges clipped to the {q['percentile']:g} percentile"
        lines.append(line)
    if q.get("evaluated_on"):
        lines.append(f"  error against the float model (simulated) on {q['evaluated_on']}:")
        for o in q.get("outputs") or []:
            t = f"    {o['name']}: max {o['max_abs_error']:.3g}, mean {o['mean_abs_error']:.3g}"
            if o.get("snr_db") is not None:
                t += f", SNR {o['snr_db']:.1f} dB"
            if o.get("psnr_db") is not None:
                t += f", PSNR {o['psnr_db']:.1f} dB"
            if o.get("top1_agreement") is not None:
                t += f", top-1 agreement {100 * o['top1_agreement']:.2f}%"
            lines.append(t)
    return "\n".join(lines)


QUANTIZE_MODES = {"float16": 1, "dynamic": 2, "int8": 3}
IO_TYPES = {"float32": 0, "int8": 1, "uint8": 2}


def _safe_name(name):
    """A file or folder name for a tensor name (the C library's rule)."""
    out = "".join(c if (c.isascii() and (c.isalnum() or c in "._-")) else "_" for c in name)
    return out if out not in ("", ".", "..") else "output"


class _Samples:
    """Sample data for the C library: a path is passed as it is; arrays are written as .npy files
    into a temporary folder (removed on exit).

    In-memory forms: one array (the samples of a one-input model stacked along the first axis,
    ONNX layout); a list of arrays (one per sample, or per batch); a dict {input name: array or
    list of arrays}; a list of dicts (one per sample); any iterable of those items.
    """

    def __init__(self, data):
        self.data = data
        self.path = None
        self._tmp = None

    def __enter__(self):
        d = self.data
        if d is None:
            return None
        if isinstance(d, (str, bytes)) or hasattr(d, "__fspath__"):
            self.path = os.fsdecode(os.fspath(d))
            return self.path
        import numpy as np

        self._tmp = tempfile.mkdtemp(prefix="liteport-samples-")
        self.path = self._tmp
        if isinstance(d, dict):
            for name, arrs in d.items():
                self._write(os.path.join(self._tmp, _safe_name(name)), arrs)
            return self.path
        if isinstance(d, np.ndarray):
            self._write(self._tmp, [d])
            return self.path
        items = list(d)
        if items and all(isinstance(x, dict) for x in items):
            names = list(items[0])
            for name in names:
                self._write(os.path.join(self._tmp, _safe_name(name)), [x[name] for x in items])
            return self.path
        self._write(self._tmp, items)
        return self.path

    @staticmethod
    def _write(folder, arrs):
        import numpy as np

        if isinstance(arrs, np.ndarray):
            arrs = [arrs]
        os.makedirs(folder, exist_ok=True)
        for k, a in enumerate(arrs):
            a = np.asarray(a)
            if hasattr(a, "detach"):
                a = a.detach().cpu().numpy()
            np.save(os.path.join(folder, f"{k:08d}.npy"), np.ascontiguousarray(a))

    def __exit__(self, *exc):
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _to_numpy(x):
    if hasattr(x, "detach"):  # a torch tensor
        return x.detach().cpu().numpy()
    return x


def _quant_kwargs(quantize, percentile, io_type, image_crop, sample_limit):
    """The C binding's keyword arguments for the quantization options."""
    if quantize is None or quantize is False:
        q = 0
    elif quantize in QUANTIZE_MODES:
        q = QUANTIZE_MODES[quantize]
    else:
        raise ValueError(f"quantize={quantize!r}: choose 'float16', 'dynamic' or 'int8'")
    if io_type is None:
        io = 0
    elif io_type in IO_TYPES:
        io = IO_TYPES[io_type]
    else:
        raise ValueError(f"io_type={io_type!r}: choose 'float32', 'int8' or 'uint8'")
    return dict(
        quantize=q,
        percentile=float(percentile or 0.0),
        io_type=io,
        image_crop=bool(image_crop),
        sample_limit=int(sample_limit or 0),
    )


def _format_input_shapes(input_shapes):
    """dict {name: shape} | list of "name:1,2" | "name:1,2;n2:3" -> the C option string."""
    if input_shapes is None:
        return None
    if isinstance(input_shapes, str):
        return input_shapes or None
    if isinstance(input_shapes, dict):
        items = input_shapes.items()
    else:
        items = []
        for s in input_shapes:
            if not isinstance(s, str) or ":" not in s:
                raise ValueError(f"input shape {s!r}: expected 'name:d0,d1,...'")
            name, dims = s.rsplit(":", 1)
            items.append((name, [int(x) for x in dims.split(",") if x.strip()]))
    parts = []
    for name, dims in items:
        if ";" in name:
            raise ValueError(f"input name {name!r} contains ';'")
        dims = [int(x) for x in dims]
        if any(x <= 0 for x in dims):
            raise ValueError(f"input shape for {name!r} must be positive, got {dims}")
        parts.append(f"{name}:{','.join(map(str, dims))}")
    return ";".join(parts) or None


_COLOR_SPACES = {None: 0, "auto": 0, "rgb": 1, "grayscale": 2}


def _norm_kwargs(mean, std, norm_scale):
    """The model's input normalization (metadata, uint8 pixel input and calibration images)."""
    if norm_scale not in (None, 1, 255):
        raise ValueError(f"norm_scale must be 1 (mean/std on the 0-1 scale) or 255, not {norm_scale!r}")
    if (mean is None) != (std is None):
        raise ValueError("mean and std go together")

    def floats(v):
        if v is None:
            return None
        if isinstance(v, (int, float)):
            return [float(v)]
        return [float(x) for x in v]

    return dict(mean=floats(mean), std=floats(std), norm_scale=int(norm_scale or 0))


def _android_options(*, metadata, model_name, model_description, model_version, author, license,
                     image_input, color_space, mean, std, norm_scale, uint8_input, labels_output):
    """Python keywords -> the metadata keywords of _core.convert (checked where Python knows best)."""
    key = color_space.lower() if isinstance(color_space, str) else color_space
    if key not in _COLOR_SPACES:
        raise ValueError(f"color_space must be 'rgb' or 'grayscale', not {color_space!r}")
    return dict(metadata=bool(metadata), model_name=model_name, model_description=model_description,
                model_version=model_version, model_author=author, model_license=license,
                image_input=image_input, color_space=_COLOR_SPACES[key], uint8_input=bool(uint8_input),
                labels_output=labels_output, **_norm_kwargs(mean, std, norm_scale))


@contextlib.contextmanager
def _labels_path(labels):
    """labels: None, a path, or a list of label strings (written to a temporary labels.txt)."""
    if labels is None or isinstance(labels, (str, bytes)) or hasattr(labels, "__fspath__"):
        yield labels
        return
    items = [str(x) for x in labels]
    for x in items:
        if "\n" in x or "\r" in x:
            raise ValueError(f"label {x!r} contains a line break")
    with tempfile.TemporaryDirectory(prefix="liteport-labels-") as d:
        path = os.path.join(d, "labels.txt")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(x + "\n" for x in items))
        yield path


def default_output_path(onnx_path):
    """model.onnx -> model.tflite (any other name gets .tflite appended)."""
    p = os.fspath(onnx_path)
    if isinstance(p, bytes):
        p = os.fsdecode(p)
    root, ext = os.path.splitext(p)
    return (root if ext.lower() == ".onnx" else p) + ".tflite"


def convert(
    model,
    output=None,
    *,
    keep_io_layout=False,
    no_layout_pass=False,
    no_fusions=False,
    dump_after=None,
    batch=None,
    input_shapes=None,
    base_dir=None,
    weights_outside=False,
    metadata=False,
    model_name=None,
    model_description=None,
    model_version=None,
    author=None,
    license=None,
    image_input=None,
    color_space=None,
    mean=None,
    std=None,
    norm_scale=None,
    uint8_input=False,
    labels=None,
    labels_output=None,
    quantize=None,
    calibration=None,
    eval_data=None,
    percentile=None,
    io_type=None,
    image_crop=False,
    sample_limit=None,
):
    """Convert an ONNX model to TFLite and return its Report.

    model: a path (str / os.PathLike), the model bytes (any bytes-like object, read in place),
        or an ``onnx.ModelProto``.
    output: where to write the .tflite file. For a path with output=None it is the input path
        with .onnx replaced by .tflite. For in-memory input with output=None nothing is written
        and ``report.tflite`` holds the bytes.
    keep_io_layout: keep ONNX's (channels-first) layout on inputs and outputs.
    no_layout_pass, no_fusions: debugging switches of the C pipeline.
    dump_after: pass name (or "all"): the IR text is returned in ``report.dump``.
    batch: fix every dynamic batch (first) dimension to this value (None/0: keep it dynamic).
    input_shapes: fix input shapes, {"x": (1, 3, 224, 224)} or ["x:1,3,224,224"].
    base_dir: folder of the external data files of an in-memory model (default: refused).
    weights_outside: put the constant data after the flatbuffer (Buffer.offset/size) even when
        the model is under 2 GB; models over 2 GB are always written that way.

    TFLite metadata for Android Studio's ML Model Binding (docs/android.md); it is written when
    metadata=True or any of these is given:
    model_name, model_description, model_version, author, license: ModelMetadata strings (the
        name defaults to the ONNX file's stem).
    image_input: the input that is an image (default: the only input, when an image option is
        given). It must be channels-last in the .tflite model (the default layout).
    color_space: "rgb" or "grayscale" (default: from the channel count, 3 or 1).
    mean, std: the normalization the model expects, x = (pixel - mean) / std, one value or one per
        channel. norm_scale: 1 (default) when they are on PyTorch's 0-1 scale (transforms.Normalize
        after ToTensor), 255 when on the 0-255 pixel scale. The metadata stores them on 0-255.
    uint8_input: the image input takes uint8 pixels (height x width x channels); the cast and the
        normalization run inside the model.
    labels: a labels file (one label per line) or a list of labels, for the last axis of output
        labels_output (default: the first output); stored as labels.txt (or the file's name)
        in a ZIP archive appended to the model.

    Quantization (the report's ``quantization`` field gives sizes, the error against the float
    model per output, top-1 agreement for classifiers, and warnings):
    quantize: None, "float16" (float16 weights), "dynamic" (int8 weights of convolutions and
        fully connected layers, float activations) or "int8" (full integer, calibrated).
    calibration: the int8 calibration samples: a folder or file of .npy arrays (ONNX layout) or
        images (PNG, JPEG, BMP, PGM/PPM), with one sub-folder per input when there are several;
        or in memory: an array of stacked samples, a list of arrays, a dict {input: array}, a
        list of such dicts (written to a temporary folder).
    eval_data: held-out samples (same forms) for the report's error figures; default: the
        calibration samples.
    percentile: int8 ranges clipped to this percentile (e.g. 99.99) instead of min/max.
    io_type: "float32" (default), "int8" or "uint8" inputs and outputs of an int8 model.
    Calibration and evaluation images are resized to the input, divided by 255 and normalized
        with mean and std above (e.g. (0.485, 0.456, 0.406) and (0.229, 0.224, 0.225)).
    image_crop: resize images on the shorter side and centre-crop (default: stretch).
    sample_limit: use at most this many samples.

    Raises ConversionError (a ValueError) with .status and .message when the model cannot be
    converted; no output file is created and an existing one is left untouched.
    """
    if hasattr(model, "SerializeToString") and not isinstance(model, (bytes, bytearray)):
        model = model.SerializeToString()
    is_path = isinstance(model, str) or hasattr(model, "__fspath__")
    if is_path and output is None:
        output = default_output_path(model)
    if output is not None:
        output = os.fspath(output)
    android = _android_options(
        metadata=metadata, model_name=model_name, model_description=model_description,
        model_version=model_version, author=author, license=license, image_input=image_input,
        color_space=color_space, mean=mean, std=std, norm_scale=norm_scale,
        uint8_input=uint8_input, labels_output=labels_output)
    qkw = _quant_kwargs(quantize, percentile, io_type, image_crop, sample_limit)
    cal_s, ev_s = _Samples(calibration), _Samples(eval_data)
    with _labels_path(labels) as labels_file, cal_s as cal, ev_s as ev:
        report_json, tflite, dump = _core.convert(
            model,
            output,
            base_dir=os.fspath(base_dir) if base_dir is not None else None,
            keep_io_layout=bool(keep_io_layout),
            no_layout_pass=bool(no_layout_pass),
            no_fusions=bool(no_fusions),
            dump_after=dump_after,
            batch=int(batch or 0),
            input_shapes=_format_input_shapes(input_shapes),
            labels_file=labels_file,
            weights_outside=bool(weights_outside),
            calibration=cal,
            eval_data=ev,
            **android,
            **qkw,
        )
    for smp in (cal_s, ev_s):  # the temporary folder is gone: say where the samples came from
        if smp._tmp:
            report_json = report_json.replace(json.dumps(smp._tmp)[1:-1], "memory")
    report = Report.from_json(report_json, tflite=tflite, dump=dump)
    if is_path:
        report.onnx_path = os.fspath(model)
    return report


def run(model, inputs, *, keep_io_layout=False, no_layout_pass=False, no_fusions=False, batch=None,
        input_shapes=None, mean=None, std=None, norm_scale=None, image_crop=False, sample_limit=None):
    """Run an ONNX model in liteport's own reference interpreter (no other runtime).

    The model is converted as ``convert`` would (same options) and the converted float model is
    executed op by op by the C library's reference kernels, one sample at a time.
    model: a path, the model bytes or an ``onnx.ModelProto``.
    inputs: the samples, in the forms ``convert(calibration=...)`` takes: an array (the samples
        of a one-input model stacked along the first axis), a list of arrays, a dict
        {input name: array}, a list of dicts, or a path to a folder / file of .npy arrays or images.
    Returns {output name: array} in ONNX layout, the samples stacked along the first axis.
    """
    import numpy as np

    tmp = tempfile.mkdtemp(prefix="liteport-run-")
    try:
        if hasattr(model, "SerializeToString") and not isinstance(model, (bytes, bytearray)):
            model = model.SerializeToString()
        if not (isinstance(model, str) or hasattr(model, "__fspath__")):
            path = os.path.join(tmp, "model.onnx")
            with open(path, "wb") as f:
                f.write(bytes(model))
            model = path
        if isinstance(inputs, dict):
            inputs = {k: _to_numpy(v) for k, v in inputs.items()}
        elif not (isinstance(inputs, (str, bytes)) or hasattr(inputs, "__fspath__")):
            inputs = _to_numpy(inputs)
        out_dir = os.path.join(tmp, "out")
        os.makedirs(out_dir)
        qkw = _quant_kwargs(None, None, None, image_crop, sample_limit)
        with _Samples(inputs) as data:
            report = json.loads(_core.run(
                os.fspath(model), data, out_dir, keep_io_layout=bool(keep_io_layout),
                no_layout_pass=bool(no_layout_pass), no_fusions=bool(no_fusions), batch=int(batch or 0),
                input_shapes=_format_input_shapes(input_shapes), sample_limit=qkw["sample_limit"],
                image_crop=qkw["image_crop"], **_norm_kwargs(mean, std, norm_scale)))
        return {o["name"]: np.load(o["file"]) for o in report["run"]["outputs"]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Imported last: they use Report/convert above. Neither imports torch, onnxruntime or LiteRT at
# module level, so `import liteport` stays fast.
from .verify import LiteRTModel, VerificationError, verify  # noqa: E402
from .export import export  # noqa: E402
from .metadata import read_metadata  # noqa: E402
