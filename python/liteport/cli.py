"""The `liteport` command: convert, export, verify, inspect.

    liteport convert MODEL.onnx [-o OUT.tflite] [--keep-io-layout] [--batch N]
                     [--input-shape name:1,3,224,224 ...] [--json]
    liteport export [--model pkg.module:factory | digits] [--input-shape 1,1,8,8 ...] [-o OUT.tflite]
    liteport verify MODEL.onnx MODEL.tflite [--batch-sizes 1,3] [--dim-sizes NAME=7,1,16 ...]
    liteport inspect MODEL.tflite

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


def _convert_options(args, with_input_shape=True):
    opts = dict(
        keep_io_layout=args.keep_io_layout,
        no_layout_pass=args.no_layout_pass,
        no_fusions=args.no_fusions,
        dump_after=getattr(args, "dump_after", None),
        batch=args.batch,
    )
    if with_input_shape:
        opts["input_shapes"] = dict(args.input_shape) if args.input_shape else None
    return opts


PASSES = "canonicalize, infer, simplify, fold_bn, lower, legalize, layout, fuse, dce"


def _add_convert_options(p, with_input_shape=True, with_dump=True):
    p.add_argument("--keep-io-layout", action="store_true",
                   help="keep the ONNX layout on inputs and outputs (no NCHW -> NHWC)")
    p.add_argument("--no-layout-pass", action="store_true",
                   help="skip transpose elimination (inputs and outputs then keep the ONNX layout too)")
    p.add_argument("--no-fusions", action="store_true", help="skip fusions")
    if with_dump:
        p.add_argument("--dump-after", metavar="PASS", help=f"print the IR after PASS ({PASSES}) or 'all'")
    p.add_argument("--batch", type=int, default=0, metavar="N",
                   help="fix the dynamic batch dimension to N")
    if with_input_shape:
        p.add_argument("--input-shape", type=_named_shape, action="append", metavar="NAME:SHAPE",
                       help="fix an input shape, e.g. input:1,3,224,224 (repeatable)")


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
    report = liteport.export(
        module, example, output, input_names=names, output_names=out_names,
        dynamic_batch=not args.static_batch, opset=args.opset, exporter=args.exporter,
        verify=not args.no_verify, onnx_path=args.onnx,
        **{k: v for k, v in _convert_options(args, with_input_shape=False).items() if k != "dump_after"},
    )
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
    elif any((args.keep_io_layout, args.no_layout_pass, args.no_fusions, args.batch, args.input_shape)):
        # the conversion options the .tflite was made with: convert again in memory for its report
        report = liteport.convert(args.onnx, **_convert_options(args))
    result = liteport.verify(args.onnx, args.tflite, batch_sizes=args.batch_sizes,
                             dim_sizes=dict(args.dim_sizes) if args.dim_sizes else None, seed=args.seed, rtol=args.rtol, report=report)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result)
    return 0 if result.ok else 1


def cmd_inspect(args):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if not os.path.isfile(args.tflite):
        raise _CliError(f"{args.tflite}: no such file")
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
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_convert)

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
    p.add_argument("--json", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_export)

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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rtol", type=float, default=1e-4)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("inspect", help="show a .tflite model's inputs, outputs, signatures, ops")
    p.add_argument("tflite", metavar="MODEL.tflite")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inspect)
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
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
