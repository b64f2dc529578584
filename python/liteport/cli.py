"""The `liteport` command: convert, export, verify, inspect.

    liteport convert MODEL.onnx [-o OUT.tflite] [--keep-io-layout] [--batch N]
                     [--input-shape name:1,3,224,224 ...] [--json]
                     [--quantize float16|dynamic|int8 --calibration DATA ...]
    liteport run MODEL.onnx --data DATA -o OUTDIR
    liteport export [--model pkg.module:factory | digits] [--input-shape 1,1,8,8 ...] [-o OUT.tflite]
    liteport verify MODEL.onnx MODEL.tflite [--batch-sizes 1,3] [--dim-sizes NAME=7,1,16 ...]
    liteport inspect MODEL.tflite

Metadata for Android (convert, export, verify): [--metadata] [--model-name S] [--model-description S]
    [--model-version S] [--author S] [--license S] [--image-input NAME] [--color-space rgb|grayscale]
    [--mean M1,M2,M3 --std S1,S2,S3 [--norm-scale 1|255]] [--uint8-input] [--labels FILE]
    [--labels-output NAME]

Errors print one line, `liteport: error: <message>`, on stderr and exit with status 1.
"""
import argparse
import importlib
import importlib.util
import json
import os
import sys


class _CliError(Exception):
    pass


def _error(msg):
    sys.stderr.write(f"liteport: error: {msg}\n")
    return 1


def _int_list(text):
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def _named_shape(text):
    if ":" not in text:
        raise argparse.ArgumentTypeError(f"expected name:d0,d1,..., got {text!r}")
    name, dims = text.rsplit(":", 1)
    return name, _int_list(dims)


def _named_sizes(text):
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=s1,s2,..., got {text!r}")
    name, sizes = text.rsplit("=", 1)
    return name, _int_list(sizes)


# -- convert -------------------------------------------------------------------------------------


def _float_list(text):
    try:
        v = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    if not 1 <= len(v) <= 4:
        raise argparse.ArgumentTypeError(f"expected 1 to 4 numbers (one per channel), got {text!r}")
    return v


ANDROID_OPTIONS = ("metadata", "model_name", "model_description", "model_version", "author", "license",
                   "image_input", "color_space", "mean", "std", "norm_scale", "uint8_input", "labels",
                   "labels_output")


def _convert_options(args, with_input_shape=True):
    opts = dict(
        keep_io_layout=args.keep_io_layout,
        no_layout_pass=args.no_layout_pass,
        no_fusions=args.no_fusions,
        dump_after=getattr(args, "dump_after", None),
        batch=args.batch,
    )
    if getattr(args, "weights_outside", False):
        opts["weights_outside"] = True
    for k in ANDROID_OPTIONS:
        opts[k] = getattr(args, k, None)
    if opts["norm_scale"] is not None:
        opts["norm_scale"] = int(opts["norm_scale"])
    if with_input_shape:
        opts["input_shapes"] = dict(args.input_shape) if args.input_shape else None
    if getattr(args, "quantize", None):
        opts.update(quantize=args.quantize, calibration=args.calibration, eval_data=args.eval_data,
                    percentile=args.percentile, io_type=args.io_type, sample_limit=args.samples)
    if getattr(args, "crop", False):
        opts["image_crop"] = True
    return opts


PASSES = "canonicalize, infer, simplify, fold_bn, lower, legalize, fold, layout, pixels, fuse, dce"


def _float_list(text):
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")


def _add_image_options(p):
    # --mean/--std/--norm-scale are in the metadata group: the same normalization serves the
    # metadata, the uint8 pixel input and the calibration images
    p.add_argument("--crop", action="store_true",
                   help="images: resize the shorter side and centre-crop (default: stretch)")


def _add_quant_options(p):
    g = p.add_argument_group("quantization")
    g.add_argument("--quantize", choices=("float16", "dynamic", "int8"),
                   help="float16 weights, dynamic-range int8 weights, or full int8 (calibrated)")
    g.add_argument("--calibration", metavar="DATA",
                   help="int8 calibration samples: a folder or file of .npy arrays (ONNX layout) or "
                        "PNG/JPEG/BMP/PGM/PPM images; one sub-folder per input when there are several")
    g.add_argument("--eval-data", metavar="DATA", help="held-out samples for the error report")
    g.add_argument("--percentile", type=float, metavar="P",
                   help="clip int8 activation ranges to this percentile (e.g. 99.99) instead of min/max")
    g.add_argument("--io-type", choices=("float32", "int8", "uint8"),
                   help="element type of an int8 model's inputs and outputs (default float32)")
    g.add_argument("--samples", type=int, metavar="N", help="use at most N samples")
    _add_image_options(g)


def _add_convert_options(p, with_input_shape=True, with_dump=True):
    p.add_argument("--keep-io-layout", action="store_true",
                   help="keep the ONNX layout on inputs and outputs (no NCHW -> NHWC)")
    p.add_argument("--no-layout-pass", action="store_true",
                   help="skip transpose elimination (inputs and outputs then keep the ONNX layout too)")
    p.add_argument("--no-fusions", action="store_true", help="skip fusions")
    p.add_argument("--weights-outside", action="store_true",
                   help="constant data after the flatbuffer (automatic for models over 2 GB)")
    if with_dump:
        p.add_argument("--dump-after", metavar="PASS", help=f"print the IR after PASS ({PASSES}) or 'all'")
    p.add_argument("--batch", type=int, default=0, metavar="N",
                   help="fix the dynamic batch dimension to N")
    if with_input_shape:
        p.add_argument("--input-shape", type=_named_shape, action="append", metavar="NAME:SHAPE",
                       help="fix an input shape, e.g. input:1,3,224,224 (repeatable)")
    g = p.add_argument_group("TFLite metadata for Android (written when any of these is given)")
    g.add_argument("--metadata", action="store_true", help="write metadata even with no option below")
    g.add_argument("--model-name", metavar="TEXT", help="model name (default: the ONNX file's stem)")
    g.add_argument("--model-description", metavar="TEXT")
    g.add_argument("--model-version", metavar="TEXT")
    g.add_argument("--author", metavar="TEXT")
    g.add_argument("--license", metavar="TEXT")
    g.add_argument("--image-input", metavar="NAME",
                   help="the input that is an image (default: the only input)")
    g.add_argument("--color-space", choices=("rgb", "grayscale"),
                   help="color space of the image (default: from the channel count)")
    g.add_argument("--mean", type=_float_list, metavar="M1,M2,M3",
                   help="normalization the model expects: (pixel - mean) / std (metadata, "
                        "--uint8-input and calibration images)")
    g.add_argument("--std", type=_float_list, metavar="S1,S2,S3")
    g.add_argument("--norm-scale", choices=("1", "255"),
                   help="mean/std are on PyTorch's 0-1 scale (1, default) or on 0-255 (255)")
    g.add_argument("--uint8-input", action="store_true",
                   help="the image input takes uint8 pixels (HxWxC); cast and normalization inside the model")
    g.add_argument("--labels", metavar="FILE", help="labels file, one label per line, for an output")
    g.add_argument("--labels-output", metavar="NAME", help="the output the labels belong to (default: the first)")


def cmd_convert(args):
    import liteport

    try:
        report = liteport.convert(args.model, args.output, **_convert_options(args))
    except liteport.ConversionError as e:
        msg = str(e)
        path = os.fspath(args.model)
        if path not in msg and os.path.basename(path) not in msg:
            msg = f"{path}: {msg}"
        raise _CliError(msg) from None
    if args.json:
        d = report.to_dict()
        if report.dump:
            d["dump"] = report.dump
        print(json.dumps(d, indent=2))
        return 0
    if report.dump:
        sys.stdout.write(report.dump if report.dump.endswith("\n") else report.dump + "\n")
    if not args.quiet:
        print(report)
    return 0


def cmd_run(args):
    import numpy as np

    import liteport

    try:
        outs = liteport.run(args.model, args.data, keep_io_layout=args.keep_io_layout,
                            no_layout_pass=args.no_layout_pass, no_fusions=args.no_fusions,
                            batch=args.batch, input_shapes=dict(args.input_shape) if args.input_shape else None,
                            mean=args.mean, std=args.std,
                            norm_scale=int(args.norm_scale) if args.norm_scale else None, image_crop=args.crop,
                            sample_limit=args.samples)
    except liteport.ConversionError as e:
        raise _CliError(str(e)) from None
    os.makedirs(args.output, exist_ok=True)
    for name, a in outs.items():
        path = os.path.join(args.output, liteport._safe_name(name) + ".npy")
        np.save(path, a)
        if not args.quiet:
            print(f"{name}: {a.dtype} {list(a.shape)} -> {path}")
    return 0


# -- export --------------------------------------------------------------------------------------


def _load_factory(spec):
    """'pkg.module:factory' or 'path/to/file.py:factory' -> the callable."""
    if ":" not in spec:
        raise _CliError(f"--model {spec!r}: expected pkg.module:factory or file.py:factory")
    mod_name, attr = spec.rsplit(":", 1)
    if mod_name.endswith(".py"):
        s = importlib.util.spec_from_file_location("_liteport_user_model", mod_name)
        if s is None or s.loader is None:
            raise _CliError(f"cannot load {mod_name}")
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
    else:
        mod = importlib.import_module(mod_name)
    try:
        obj = mod
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise _CliError(f"{mod_name} has no attribute {attr!r}") from None
    return obj


def cmd_export(args):
    import torch

    import liteport

    names = args.input_names.split(",") if args.input_names else None
    out_names = args.output_names.split(",") if args.output_names else None
    if args.model == "digits":
        from . import demo

        module, _, secs = demo.train()
        print(f"trained the digits demo model in {secs:.1f} s")
        shapes = args.input_shape or [[1, 1, 8, 8]]
        names = names or ["image"]
        out_names = out_names or ["logits"]
        default_out = "digits.tflite"
    else:
        factory = _load_factory(args.model)
        torch.manual_seed(args.seed)  # seeds the weights a factory initialises at random
        module = factory()
        if not isinstance(module, torch.nn.Module):
            raise _CliError(f"{args.model} returned {type(module).__name__}, not a torch.nn.Module")
        if not args.input_shape:
            raise _CliError("--input-shape is required with --model (one per forward() argument)")
        shapes = args.input_shape
        default_out = args.model.rsplit(":", 1)[1].split(".")[-1] + ".tflite"
    torch.manual_seed(args.seed)
    example = tuple(torch.randn(*s) for s in shapes)
    output = args.output or default_out
    try:
        report = liteport.export(
            module, example, output, input_names=names, output_names=out_names,
            dynamic_batch=not args.static_batch, opset=args.opset, exporter=args.exporter,
            verify=not args.no_verify, onnx_path=args.onnx,
            **{k: v for k, v in _convert_options(args, with_input_shape=False).items() if k != "dump_after"},
        )
    except (liteport.ConversionError, liteport.VerificationError, _CliError, OSError, ValueError):
        raise
    except Exception as e:
        # PyTorch refusing the module or the example inputs (a wrong --input-shape, an op the
        # exporter does not know): its first line, not a traceback
        if os.environ.get("LITEPORT_TRACEBACK"):
            raise
        first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
        raise _CliError(f"{args.model}: torch.onnx.export failed ({type(e).__name__}): {first[:400]} "
                        f"(check --input-shape {' '.join(','.join(map(str, s)) for s in shapes)}; "
                        "LITEPORT_TRACEBACK=1 shows the traceback)") from None
    if args.quiet:
        return 0
    if args.json:
        d = report.to_dict()
        d["onnx"] = report.onnx_path
        if report.verification is not None:
            d["verification"] = report.verification.to_dict()
        print(json.dumps(d, indent=2))
    else:
        print(f"exported {report.onnx_path}")
        print(report)
        if report.verification is not None:
            print()
            print(report.verification)
    return 0


# -- verify / inspect ----------------------------------------------------------------------------


def cmd_verify(args):
    import liteport

    report = None
    if args.report:
        with open(args.report) as f:
            report = liteport.Report(json.load(f))
    elif any((args.keep_io_layout, args.no_layout_pass, args.no_fusions, args.batch, args.input_shape,
              args.uint8_input)):
        # the conversion options the .tflite was made with: convert again in memory for its report
        # (from the bytes: a path would write MODEL.tflite beside the model, over a file the user has)
        with open(args.onnx, "rb") as f:
            data = f.read()
        report = liteport.convert(data, base_dir=os.path.dirname(os.path.abspath(args.onnx)),
                                  **_convert_options(args))
    result = liteport.verify(args.onnx, args.tflite, batch_sizes=args.batch_sizes,
                             dim_sizes=dict(args.dim_sizes) if args.dim_sizes else None, seed=args.seed, rtol=args.rtol, report=report)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result)
    if not result.ok and _quantized(args.tflite):
        sys.stderr.write(f"liteport: note: {args.tflite} has quantized (float16 or int8) weights, so it differs "
                         f"from the float ONNX model by design; --rtol sets the tolerance (now {args.rtol:g})\n")
    return 0 if result.ok else 1


def _quantized(tflite_path):
    """True when the .tflite holds float16 or 8-bit tensors (a --quantize conversion)."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        import numpy as np

        details = Interpreter(model_path=tflite_path).get_tensor_details()
        return any(d["dtype"] in (np.float16, np.int8, np.uint8) for d in details)
    except Exception:
        return False


def cmd_inspect(args):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if not os.path.isfile(args.tflite):
        raise _CliError(f"{args.tflite}: No such file or directory")
    with open(args.tflite, "rb") as f:
        head = f.read(8)
    if head[4:8] != b"TFL3":
        hint = " (an ONNX model? `liteport convert` turns it into one)" if args.tflite.endswith(".onnx") else ""
        raise _CliError(f"{args.tflite}: not a .tflite file: no TFL3 identifier at byte 4{hint}")
    # Without the default (XNNPACK) delegate, so the node list shows the model's own ops.
    try:
        it = Interpreter(model_path=args.tflite,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    except (ValueError, RuntimeError) as e:
        raise _CliError(f"{args.tflite}: not a model LiteRT can load ({str(e).splitlines()[0]})") from None
    size = os.path.getsize(args.tflite)
    info = {"file": args.tflite, "size": size}

    def tensors(details):
        return [{"name": d["name"], "dtype": getattr(d["dtype"], "__name__", str(d["dtype"])),
                 "shape": [int(x) for x in d["shape_signature"]]} for d in details]

    info["inputs"] = tensors(it.get_input_details())
    info["outputs"] = tensors(it.get_output_details())
    info["signatures"] = it.get_signature_list()
    hist = {}
    get_ops = getattr(it, "_get_ops_details", None)
    if get_ops is not None:
        for op in get_ops():
            hist[op["op_name"]] = hist.get(op["op_name"], 0) + 1
    info["ops"] = dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])))
    from .metadata import format_metadata, read_metadata

    try:
        md = read_metadata(args.tflite)
    except ValueError as e:
        raise _CliError(f"{args.tflite}: unreadable TFLite metadata: {e}") from None
    info["metadata"] = md
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{args.tflite}: {size:,} bytes")
    for kind in ("inputs", "outputs"):
        print(f"{kind}:")
        for t in info[kind]:
            print(f"  {t['name']}  {t['dtype']}  [{','.join(map(str, t['shape']))}]")
    for key, sig in info["signatures"].items():
        print(f"signature {key!r}: inputs {sig['inputs']} -> outputs {sig['outputs']}")
    if not info["signatures"]:
        print("signatures: none")
    if hist:
        print(f"ops ({sum(hist.values())}): " + ", ".join(f"{k} {v}" for k, v in info["ops"].items()))
    if md is None:
        print("metadata: none")
    else:
        for line in format_metadata(md):
            print(line)
    return 0


# -- main ----------------------------------------------------------------------------------------


def build_parser():
    import liteport

    ap = argparse.ArgumentParser(prog="liteport",
                                 description="ONNX -> TensorFlow Lite (LiteRT) converter")
    ap.add_argument("--version", action="version", version=f"liteport {liteport.__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("convert", help="convert an ONNX model to .tflite")
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("-o", "--output", metavar="OUT.tflite",
                   help="output path (default: MODEL.tflite beside the input)")
    _add_convert_options(p)
    _add_quant_options(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_convert, parser=p)

    p = sub.add_parser("run", help="run a model in liteport's reference interpreter (no other runtime)")
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("--data", required=True, metavar="DATA",
                   help="input samples: a folder or file of .npy arrays (ONNX layout) or images")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for OUTPUT.npy files")
    _add_convert_options(p, with_dump=False)
    _add_image_options(p)
    p.add_argument("--samples", type=int, metavar="N", help="use at most N samples")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_run, parser=p)

    p = sub.add_parser("export", help="export a PyTorch module to .onnx and .tflite, verified")
    p.add_argument("--model", default="digits",
                   help="pkg.module:factory or file.py:factory returning an nn.Module, or "
                        "'digits' (the built-in demo CNN, trained on the spot; default)")
    p.add_argument("--input-shape", type=_int_list, action="append", metavar="D0,D1,...",
                   help="shape of an example input, one per forward() argument (repeatable)")
    p.add_argument("-o", "--output", metavar="OUT.tflite")
    p.add_argument("--onnx", metavar="OUT.onnx", help="where to write the ONNX model")
    p.add_argument("--input-names", metavar="A,B", help="ONNX input names")
    p.add_argument("--output-names", metavar="A,B", help="ONNX output names")
    p.add_argument("--exporter", default="default", choices=("default", "dynamo", "torchscript"))
    p.add_argument("--opset", type=int)
    p.add_argument("--static-batch", action="store_true", help="do not make the batch dynamic")
    p.add_argument("--no-verify", action="store_true")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights and example inputs")
    _add_convert_options(p, with_input_shape=False, with_dump=False)
    _add_quant_options(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_export, parser=p)

    p = sub.add_parser("verify", help="compare a .tflite model with its ONNX model")
    p.add_argument("onnx", metavar="MODEL.onnx")
    p.add_argument("tflite", metavar="MODEL.tflite")
    p.add_argument("--batch-sizes", type=_int_list, metavar="1,3")
    p.add_argument("--dim-sizes", type=_named_sizes, action="append", metavar="NAME=7,1,16",
                   help="sizes to try for a dynamic dimension: its dim_param name, or INPUT:AXIS "
                        "(repeatable; default 64,97 for image height, 64,131 for width, 7,1,16 otherwise)")
    p.add_argument("--report", metavar="REPORT.json",
                   help="the JSON report of the conversion (liteport convert --json); or give the "
                        "conversion options below")
    _add_convert_options(p, with_dump=False)
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--rtol", type=float, default=1e-4,
                   help="tolerance: max|LiteRT - onnxruntime| <= RTOL * max(1, max|onnxruntime|) (default 1e-4)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_verify, parser=p)

    p = sub.add_parser("inspect", help="show a .tflite model's inputs, outputs, signatures, ops, metadata")
    p.add_argument("tflite", metavar="MODEL.tflite")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inspect, parser=p)
    return ap


def main(argv=None):
    ap = build_parser()
    args, extra = ap.parse_known_args(argv)
    if extra:
        # a misspelled option: the subcommand's usage, not the top-level one
        getattr(args, "parser", ap).error(f"unrecognized arguments: {' '.join(extra)}")
    import liteport

    try:
        return args.func(args)
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except _CliError as e:
        return _error(str(e))
    except liteport.ConversionError as e:
        return _error(str(e))
    except liteport.VerificationError as e:
        sys.stderr.write(str(e.result) + "\n")
        return _error("LiteRT outputs differ from onnxruntime beyond the tolerance")
    except (OSError, ValueError) as e:
        # Missing files, unreadable models, bad shapes: one line, not a traceback.
        if os.environ.get("LITEPORT_TRACEBACK"):
            raise
        if isinstance(e, OSError) and e.filename and e.strerror:
            return _error(f"{e.filename}: {e.strerror}")
        return _error(str(e))


if __name__ == "__main__":
    sys.exit(main())
