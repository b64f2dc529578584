"""liteport: ONNX -> TensorFlow Lite (LiteRT), with PyTorch export and numeric verification.

    import liteport
    report = liteport.convert("model.onnx")            # writes model.tflite, returns a Report
    print(report)                                       # inputs/outputs, layouts, op counts, size
    report = liteport.convert(onnx_bytes)               # in memory: report.tflite holds the bytes
    report = liteport.export(module, (x,), "m.tflite")  # PyTorch -> ONNX -> TFLite, verified
    print(liteport.verify("m.onnx", "m.tflite"))        # onnxruntime vs LiteRT, per output

The converter itself is the C library in src/ (compiled into ``liteport._core``); this package
only picks defaults, formats options and wraps the JSON report the library produces.
"""
import contextlib
import json
import os
import tempfile
from collections.abc import Mapping

from . import _core
from ._core import ConversionError

__version__ = _core.version

__all__ = [
    "convert",
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
        for w in d.get("warnings") or []:
            lines.append(f"warning: {w}")
        return "\n".join(lines)

    def __repr__(self):
        return f"Report({self._d.get('input') or '<memory>'!r} -> {self._d.get('output') or '<memory>'!r})"


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


def _android_options(*, metadata, model_name, model_description, model_version, author, license,
                     image_input, color_space, mean, std, norm_scale, uint8_input, labels_output):
    """Python keywords -> the metadata keywords of _core.convert (checked where Python knows best)."""
    key = color_space.lower() if isinstance(color_space, str) else color_space
    if key not in _COLOR_SPACES:
        raise ValueError(f"color_space must be 'rgb' or 'grayscale', not {color_space!r}")
    if norm_scale not in (None, 1, 255):
        raise ValueError(f"norm_scale must be 1 (mean/std on the 0-1 scale) or 255, not {norm_scale!r}")
    if (mean is None) != (std is None):
        raise ValueError("mean and std go together")

    def floats(v, what):
        if v is None:
            return None
        if isinstance(v, (int, float)):
            return [float(v)]
        return [float(x) for x in v]

    return dict(metadata=bool(metadata), model_name=model_name, model_description=model_description,
                model_version=model_version, model_author=author, model_license=license,
                image_input=image_input, color_space=_COLOR_SPACES[key], mean=floats(mean, "mean"),
                std=floats(std, "std"), norm_scale=int(norm_scale or 0), uint8_input=bool(uint8_input),
                labels_output=labels_output)


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
    with _labels_path(labels) as labels_file:
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
            **android,
        )
    report = Report.from_json(report_json, tflite=tflite, dump=dump)
    if is_path:
        report.onnx_path = os.fspath(model)
    return report


# Imported last: they use Report/convert above. Neither imports torch, onnxruntime or LiteRT at
# module level, so `import liteport` stays fast.
from .verify import LiteRTModel, VerificationError, verify  # noqa: E402
from .export import export  # noqa: E402
from .metadata import read_metadata  # noqa: E402
