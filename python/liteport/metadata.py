"""Read the TFLite metadata (TFLITE_METADATA, identifier M001) and the associated files of a .tflite.

    md = liteport.read_metadata("model.tflite")   # dict, or None without metadata
    md["inputs"][0]["normalization"]              # {"mean": [...], "std": [...]} on 0-255
    md["files"]["labels.txt"]                     # the appended labels file, as text

A small reader over the `flatbuffers` package by field id (the ids of tflite-support's
metadata_schema.fbs); it needs neither the tflite-support package nor generated code. `liteport
inspect` prints what it returns.
"""
import io
import os
import zipfile

_COLOR = {0: "unknown", 1: "rgb", 2: "grayscale"}
_CONTENT = {0: None, 1: "feature", 2: "image", 3: "bounding_box", 4: "audio"}
_FILE_TYPE = {0: "UNKNOWN", 1: "DESCRIPTIONS", 2: "TENSOR_AXIS_LABELS", 3: "TENSOR_VALUE_LABELS",
              4: "TENSOR_AXIS_SCORE_CALIBRATION", 5: "VOCABULARY", 6: "SCANN_INDEX_FILE"}
_UNIT = {1: "normalization", 2: "score_calibration", 3: "score_thresholding", 4: "bert_tokenizer",
         5: "sentence_piece_tokenizer", 6: "regex_tokenizer"}


class _T:
    """A flatbuffers table read by field id."""

    def __init__(self, buf, pos):
        from flatbuffers.table import Table

        self.t = Table(buf, pos)

    def _off(self, i):
        return self.t.Offset(4 + 2 * i)

    def str(self, i):
        o = self._off(i)
        return self.t.String(o + self.t.Pos).decode("utf-8") if o else None

    def u8(self, i, default=0):
        from flatbuffers import number_types as N

        o = self._off(i)
        return self.t.Get(N.Uint8Flags, o + self.t.Pos) if o else default

    def u32(self, i, default=0):
        from flatbuffers import number_types as N

        o = self._off(i)
        return self.t.Get(N.Uint32Flags, o + self.t.Pos) if o else default

    def table(self, i):
        o = self._off(i)
        return _T(self.t.Bytes, self.t.Indirect(o + self.t.Pos)) if o else None

    def _vector(self, o, size):
        start, n = self.t.Vector(o), self.t.VectorLen(o)
        if start + size * n > len(self.t.Bytes):
            raise ValueError("a vector runs past the end of the metadata")
        return start, n

    def tables(self, i):
        o = self._off(i)
        if not o:
            return []
        start, n = self._vector(o, 4)
        return [_T(self.t.Bytes, self.t.Indirect(start + 4 * k)) for k in range(n)]

    def floats(self, i):
        from flatbuffers import number_types as N

        o = self._off(i)
        if not o:
            return None
        start, n = self._vector(o, 4)
        return [float(self.t.Get(N.Float32Flags, start + 4 * k)) for k in range(n)]


def _files(t, i):
    return [{"name": f.str(0), "description": f.str(1), "type": _FILE_TYPE.get(f.u8(2), f.u8(2)),
             "locale": f.str(3), "version": f.str(4)} for f in t.tables(i)]


def _tensor(t):
    d = {"name": t.str(0), "description": t.str(1), "content": None}
    content = t.table(3)
    if content is not None:
        kind = content.u8(0)
        d["content"] = _CONTENT.get(kind, kind)
        props = content.table(1)
        if kind == 2 and props is not None:
            d["color_space"] = _COLOR.get(props.u8(0), props.u8(0))
            size = props.table(1)
            d["default_size"] = None if size is None else [size.u32(0), size.u32(1)]  # width, height
    units = []
    for u in t.tables(4):
        kind = u.u8(0)
        unit = {"type": _UNIT.get(kind, kind)}
        opts = u.table(1)
        if kind == 1 and opts is not None:
            unit.update(mean=opts.floats(0), std=opts.floats(1))
            d.setdefault("normalization", {"mean": unit["mean"], "std": unit["std"]})
        units.append(unit)
    d["process_units"] = units
    stats = t.table(5)
    d["stats"] = None if stats is None else {"max": stats.floats(0), "min": stats.floats(1)}
    d["associated_files"] = _files(t, 6)
    return d


def parse_metadata_buffer(buf):
    """The M001 flatbuffer -> dict (raises ValueError when it is not one, or is damaged)."""
    import struct

    try:
        return _parse(bytes(buf))
    except (struct.error, TypeError, IndexError, UnicodeDecodeError, OverflowError) as e:
        raise ValueError(f"damaged TFLite metadata ({type(e).__name__}: {e})") from None


def _parse(buf):
    if len(buf) < 8 or buf[4:8] != b"M001":
        raise ValueError("not a TFLite metadata buffer (identifier M001)")
    import struct

    root = _T(buf, struct.unpack_from("<I", buf, 0)[0])
    subgraphs = root.tables(3)
    out = {"name": root.str(0), "description": root.str(1), "version": root.str(2),
           "author": root.str(4), "license": root.str(5), "min_parser_version": root.str(7),
           "associated_files": _files(root, 6), "n_subgraphs": len(subgraphs)}
    sg = subgraphs[0] if subgraphs else None
    out["inputs"] = [_tensor(t) for t in sg.tables(2)] if sg else []
    out["outputs"] = [_tensor(t) for t in sg.tables(3)] if sg else []
    return out


def read_metadata(model):
    """A .tflite path or bytes -> {"name", ..., "inputs", "outputs", "files"} or None when the
    model has no TFLITE_METADATA. "files" maps each file of the appended ZIP archive to its text."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
    else:
        with open(os.fspath(model), "rb") as f:
            data = f.read()
    import struct
    import zlib

    import ai_edge_litert.schema_py_generated as schema

    buf = None
    try:
        m = schema.Model.GetRootAs(data, 0)
        for i in range(m.MetadataLength()):
            e = m.Metadata(i)
            if e.Name() == b"TFLITE_METADATA":
                if e.Buffer() >= m.BuffersLength():
                    raise ValueError(f"TFLITE_METADATA names buffer {e.Buffer()} of {m.BuffersLength()}")
                buf = m.Buffers(e.Buffer()).DataAsNumpy()
                buf = b"" if isinstance(buf, int) else buf.tobytes()  # no data vector: 0
    except (struct.error, TypeError, IndexError, UnicodeDecodeError, OverflowError) as e:
        raise ValueError(f"damaged .tflite model ({type(e).__name__}: {e})") from None
    if buf is None:
        return None
    md = parse_metadata_buffer(buf)
    files = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for name in z.namelist():
                files[name] = z.read(name).decode("utf-8", "replace")
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError, zlib.error):
        files = {}  # no readable archive after the model
    md["files"] = files
    return md


def format_metadata(md):
    """Lines of text describing read_metadata's result (for `liteport inspect`)."""
    head = f"metadata: {md['name']!r}"
    if md.get("version"):
        head += f" version {md['version']}"
    if md.get("author"):
        head += f" by {md['author']}"
    if md.get("license"):
        head += f" ({md['license']})"
    head += f", min parser {md.get('min_parser_version')}"
    lines = [head]
    if md.get("description"):
        lines.append(f"  {md['description']}")
    for kind in ("inputs", "outputs"):
        for t in md[kind]:
            text = f"  {kind[:-1]:<6} {t['name']}: {t['content'] or '-'}"
            if t["content"] == "image":
                size = t.get("default_size")
                text += f" {t.get('color_space')}" + (f" {size[0]}x{size[1]}" if size else "")
            if "normalization" in t:
                n = t["normalization"]
                text += f", normalize (x - {_fmt(n['mean'])}) / {_fmt(n['std'])}"
            for f in t["associated_files"]:
                count = ""
                if f["name"] in md["files"]:
                    count = f", {len(md['files'][f['name']].splitlines())} lines"
                text += f", {f['type']} {f['name']}{count}"
            lines.append(text)
            if t.get("description"):
                lines.append(f"         {t['description']}")
    if md["files"]:
        lines.append("associated files: " + ", ".join(md["files"]))
    return lines


def _fmt(v):
    return "[" + ", ".join(f"{x:g}" for x in v) + "]" if v else "[]"
