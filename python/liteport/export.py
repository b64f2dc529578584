"""PyTorch -> ONNX -> TFLite in one call, verified against onnxruntime.

torch is imported when export() runs, not when liteport is imported.
"""
import contextlib
import inspect
import io
import os
import sys
import warnings

EXPORTERS = ("default", "dynamo", "torchscript")


def _default_is_dynamo(torch):
    """Which exporter this torch uses when dynamo= is not given (2.9 and later: dynamo)."""
    try:
        p = inspect.signature(torch.onnx.export).parameters.get("dynamo")
    except (TypeError, ValueError):
        p = None
    return bool(p is not None and p.default is True)


def _as_tuple(example_inputs, torch):
    if isinstance(example_inputs, torch.Tensor):
        return (example_inputs,)
    if isinstance(example_inputs, list):
        return tuple(example_inputs)
    if not isinstance(example_inputs, tuple):
        raise TypeError("example_inputs must be a tensor or a tuple of forward() arguments")
    return example_inputs


def _flat_outputs(out, torch):
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        flat = []
        for o in out:
            flat.extend(_flat_outputs(o, torch))
        return flat
    if isinstance(out, dict):
        flat = []
        for o in out.values():
            flat.extend(_flat_outputs(o, torch))
        return flat
    raise TypeError(f"module output of type {type(out).__name__} is not supported by export()")


# what a protobuf can hold (2 GB) less room for the graph itself
EMBED_LIMIT = (2 << 30) - (64 << 20)


def _tensor_bytes(module):
    """Bytes of the module's parameters and buffers (each storage once)."""
    seen, total = set(), 0
    for t in list(module.parameters()) + list(module.buffers()):
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


def _default_names(prefix, n):
    return [prefix] + [f"{prefix}_{i}" for i in range(1, n)]


@contextlib.contextmanager
def _quiet(enabled=True):
    """Capture the exporters' console output (progress lines, deprecation warnings). On an
    exception the captured text is replayed on stderr so nothing useful is lost."""
    if not enabled:
        yield
        return
    import logging

    buf = io.StringIO()
    # torch's loggers hold their own handle on stderr: silence them while exporting
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                yield
    except BaseException:
        text = buf.getvalue()
        if text.strip():
            sys.stderr.write(text if text.endswith("\n") else text + "\n")
        raise
    finally:
        logging.disable(previous)


def _batch_dynamic_shapes(module, args, axes_of, torch):
    """dynamic_shapes for torch.export: axes_of(k, tensor) gives {axis: Dim} for the k-th tensor
    argument (or None).

    torch.export matches dynamic_shapes to forward()'s parameters: a `*args` parameter takes one
    entry holding a tuple for its values, so the spec follows the bound signature."""
    counter = iter(range(len(args)))

    def spec(a):
        if not isinstance(a, torch.Tensor):
            return None
        return axes_of(next(counter), a) or None

    try:
        sig = inspect.signature(module.forward)
        bound = sig.bind(*args)
    except (TypeError, ValueError):
        return tuple(spec(a) for a in args)
    out = []
    for name, value in bound.arguments.items():
        if sig.parameters[name].kind == inspect.Parameter.VAR_POSITIONAL:
            out.append(tuple(spec(a) for a in value))
        else:
            out.append(spec(value))
    return tuple(out)


def _input_axes(dynamic_axes, input_names, dynamic_batch, tensors):
    """{input name: {axis: dim name}}: the batch (dim 0) when dynamic_batch, plus dynamic_axes
    (keys: input names or positions; values: {axis: name} or a list of axes)."""
    out = {n: ({0: "batch"} if dynamic_batch and t.dim() > 0 else {}) for n, t in zip(input_names, tensors)}
    for key, axes in (dynamic_axes or {}).items():
        name = input_names[key] if isinstance(key, int) else key
        if name not in out:
            raise ValueError(f"dynamic_axes names {key!r}, which is not an input ({input_names})")
        rank = tensors[input_names.index(name)].dim()
        if not isinstance(axes, dict):
            axes = {int(a): f"{name}_{int(a) % rank}" for a in axes}
        for a, dim in axes.items():
            a = int(a)
            if not -rank <= a < rank:
                raise ValueError(f"dynamic_axes: axis {a} of input {name!r} (rank {rank})")
            out[name][a % rank] = str(dim)
    return out


def export_onnx(module, example_inputs, onnx_path, *, input_names=None, output_names=None,
                dynamic_batch=True, dynamic_axes=None, opset=None, exporter="default", quiet=True):
    """torch.onnx.export with the settings liteport converts best. Returns the ONNX path.

    Weights are embedded (no external data file; a model over 2 GB, which no protobuf can hold,
    gets one beside the .onnx: dynamo exporter), constant folding is on (TorchScript:
    do_constant_folding; dynamo: optimize), inputs and outputs are named, and with dynamic_batch
    dim 0 of every input and output is the dynamic dimension "batch". dynamic_axes makes more
    input dimensions dynamic: {input name or position: {axis: dimension name}} (as
    torch.onnx.export's dynamic_axes; one name is one size) or {input: [axes]}.
    """
    import torch

    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {EXPORTERS}, not {exporter!r}")
    args = _as_tuple(example_inputs, torch)
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    module.eval()
    with torch.no_grad():
        n_out = len(_flat_outputs(module(*args), torch))

    input_names = list(input_names) if input_names else _default_names("input", len(tensors))
    output_names = list(output_names) if output_names else _default_names("output", n_out)
    if len(input_names) != len(tensors):
        raise ValueError(f"{len(input_names)} input names for {len(tensors)} tensor inputs")
    if len(output_names) != n_out:
        raise ValueError(f"{len(output_names)} output names for {n_out} outputs")

    trace_args = None
    dynamo = _default_is_dynamo(torch) if exporter == "default" else exporter == "dynamo"
    kwargs = dict(input_names=input_names, output_names=output_names, opset_version=opset)
    in_axes = _input_axes(dynamic_axes, input_names, dynamic_batch, tensors)
    if dynamo:
        # weights embedded, except where protobuf's 2 GB limit forbids it: then one external
        # data file beside the model (liteport converts both and writes the .tflite weights after
        # its flatbuffer)
        kwargs.update(dynamo=True, external_data=_tensor_bytes(module) > EMBED_LIMIT, optimize=True,
                      verbose=False)
        if any(in_axes.values()):
            # One Dim per name, shared by every input that uses it (the batch of every input
            # is the same size, what models assume). Positional form, so forward() argument
            # names do not matter.
            dims = {}

            def axes_of(k, t):
                return {a: dims.setdefault(nm, torch.export.Dim(nm)) for a, nm in in_axes[input_names[k]].items()}

            kwargs["dynamic_shapes"] = _batch_dynamic_shapes(module, args, axes_of, torch)
            # torch.export specialises dims of size 1: trace with those dims at 2 (the example
            # repeated along them), which gives the same graph with the dims still dynamic
            def widen(k, t):
                for a in sorted(in_axes[input_names[k]]):
                    if t.shape[a] == 1:
                        t = torch.cat([t, t], dim=a)
                return t

            if any(isinstance(a, torch.Tensor) and any(a.shape[x] == 1 for x in in_axes[input_names[k]])
                   for k, a in enumerate(tensors)):
                it = iter(range(len(tensors)))
                trace_args = tuple(widen(next(it), a) if isinstance(a, torch.Tensor) else a for a in args)
    else:
        kwargs.update(dynamo=False, do_constant_folding=True, export_params=True)
        axes = {n: dict(a) for n, a in in_axes.items() if a}
        if dynamic_batch:
            axes.update({n: {0: "batch"} for n in output_names})
        if axes:
            kwargs["dynamic_axes"] = axes

    onnx_path = os.fspath(onnx_path)
    folder = os.path.dirname(os.path.abspath(onnx_path))
    os.makedirs(folder, exist_ok=True)
    if trace_args is not None:
        try:
            with _quiet(True):
                torch.onnx.export(module, trace_args, onnx_path, **kwargs)
            return onnx_path
        except Exception:
            pass  # the model insists on its example's batch: export with the example itself
    with _quiet(quiet):
        torch.onnx.export(module, args, onnx_path, **kwargs)
    return onnx_path


def export(module, example_inputs, output, *, input_names=None, output_names=None,
           dynamic_batch=True, dynamic_axes=None, opset=None, exporter="default", verify=True,
           onnx_path=None, quiet=True, **convert_options):
    """Export a PyTorch module to ONNX, convert it to .tflite, and check it numerically.

    module: a torch.nn.Module (put in eval mode). example_inputs: a tensor or a tuple of
        forward() arguments (shapes as the model will be used; the batch stays dynamic).
    output: the .tflite path. The .onnx file goes beside it (same stem) unless onnx_path is given.
    input_names / output_names: ONNX names, also the TFLite signature keys. Default "input",
        "input_1", ... and "output", "output_1", ...
    dynamic_batch: dim 0 of every input and output is dynamic.
    dynamic_axes: more dynamic input dimensions, {input name or position: {axis: name}} (as
        torch.onnx.export's; one name is one size), e.g. {"image": {2: "height", 3: "width"}}.
    opset: ONNX opset (None: the exporter's default).
    exporter: "default" (whatever torch.onnx.export uses by default), "dynamo" or "torchscript".
    verify: run liteport.verify (batch 1 and 3 when the batch is dynamic, several sizes of the
        other dynamic dimensions) and raise VerificationError when
        max|litert - ort| > 1e-4 * max(1, max|ort|). A dict is passed to liteport.verify as
        keyword arguments (batch_sizes=, dim_sizes=, ...). With quantize= it verifies the float
        conversion; the report's quantization section measures the quantized model against it.
    convert_options: passed to liteport.convert (keep_io_layout, batch, input_shapes, quantize,
        calibration, ..., and the TFLite metadata options: image_input, mean, std, norm_scale,
        color_space, uint8_input, labels, labels_output, model_name, ...; see docs/android.md).
        With uint8_input the verification feeds the same random pixels to both sides
        (normalized for onnxruntime).

    Returns the conversion Report, with ``.verification`` (a VerifyResult, or None) and
    ``.onnx_path`` set.
    """
    from . import convert
    from .verify import VerificationError
    from .verify import verify as run_verify

    output = os.fspath(output)
    if onnx_path is None:
        root, ext = os.path.splitext(output)
        onnx_path = (root if ext.lower() == ".tflite" else output) + ".onnx"
    onnx_path = export_onnx(module, example_inputs, onnx_path, input_names=input_names,
                            output_names=output_names, dynamic_batch=dynamic_batch,
                            dynamic_axes=dynamic_axes, opset=opset, exporter=exporter, quiet=quiet)
    quantized = bool(convert_options.get("quantize"))
    report = convert(onnx_path, output, **convert_options)
    report.onnx_path = onnx_path
    if verify:
        vkw = verify if isinstance(verify, dict) else {}
        if quantized:
            # a quantized model differs from onnxruntime by design: verify the float conversion
            # (the report's quantization section measures the quantized one against it)
            plain = {k: v for k, v in convert_options.items() if k in _FLOAT_OPTIONS}
            with open(onnx_path, "rb") as f:
                float_report = convert(f.read(), None, base_dir=os.path.dirname(onnx_path) or ".", **plain)
            result = run_verify(onnx_path, float_report.tflite, report=float_report, **vkw)
        else:
            result = run_verify(onnx_path, output, report=report, **vkw)
        report.verification = result
        if not result.ok:
            raise VerificationError(result)
    return report


_FLOAT_OPTIONS = ("keep_io_layout", "no_layout_pass", "no_fusions", "batch", "input_shapes")
