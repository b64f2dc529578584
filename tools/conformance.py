"""Conformance runner: the ONNX backend test suite through liteport and the LiteRT interpreter.

Suites: "node" (about 1,900 single-op cases built by onnx.backend.test.loader), and the model
suites shipped as files inside the onnx package: "pytorch-converted", "pytorch-operator",
"simple", "light". For every case: convert with liteport, run every data set's inputs through
LiteRT and compare with the expected outputs (the case's rtol/atol; 1e-3 and 1e-7 by default).

Outcomes: pass; mismatch (wrong values or shapes, LiteRT refusing our model, or a conversion error
other than "unsupported"); unsupported (liteport's clean "not supported" error); crash (the worker
process died or timed out); deviation (a listed case where liteport follows onnxruntime and the
ONNX spec's text rather than the ONNX reference implementation); n/a (not applicable: training ops, string ops, sequence/optional/map
types, other domains, random generators, and data types TFLite has no kernels for). Cases run in
worker processes, so a crash in the converter or in LiteRT is recorded, not fatal.

    .venv/bin/python tools/conformance.py                    # all suites, writes docs/conformance.md
    .venv/bin/python tools/conformance.py --suite node --ops Relu,Conv -v
    .venv/bin/python tools/conformance.py --cases test_abs,test_relu --json out.json
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SUITES = ["node", "pytorch-converted", "pytorch-operator", "simple", "light"]
TIMEOUT = 120  # seconds per case

# ---------------------------------------------------------------------------------------------
# applicability

TRAINING_DOMAINS = {"ai.onnx.preview.training"}
STRING_OPS = {"StringNormalizer", "StringConcat", "StringSplit", "RegexFullMatch", "TfIdfVectorizer"}
SEQUENCE_OPS = {"SequenceEmpty", "SequenceInsert", "SequenceLength", "SequenceMap", "SequenceAt",
                "SequenceConstruct", "SequenceErase", "SplitToSequence", "ConcatFromSequence",
                "Optional", "OptionalGetElement", "OptionalHasElement"}
RANDOM_OPS = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Bernoulli",
              "Multinomial"}
TRAINING_OPS = {"Adagrad", "Adam", "Momentum", "Gradient"}
# ONNX TensorProto data types with no TFLite kernels to run on
NO_KERNEL_TYPES = {13: "uint64", 8: "string", 14: "complex64", 15: "complex128", 16: "bfloat16", 17: "float8e4m3fn",
                   18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4",
                   23: "float4e2m1", 24: "float8e8m0", 25: "uint2", 26: "int2"}


def _types_in(model):
    """All tensor element types the model mentions (I/O, initializers, Constant/Cast attributes)."""
    import onnx

    types = set()

    def visit_graph(g):
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            t = vi.type
            if t.HasField("tensor_type"):
                types.add(t.tensor_type.elem_type)
        for init in g.initializer:
            types.add(init.data_type)
        for n in g.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.TENSOR:
                    types.add(a.t.data_type)
                if a.name in ("to", "dtype", "output_dtype") and a.type == onnx.AttributeProto.INT:
                    types.add(a.i)
                if a.type == onnx.AttributeProto.GRAPH:
                    visit_graph(a.g)
                for sg in a.graphs:
                    visit_graph(sg)

    visit_graph(model.graph)
    types.discard(0)
    return types


# Cases where liteport deliberately follows onnxruntime (and the ONNX spec's text) rather than the
# ONNX reference implementation that produced the test's expected data. Reported as "deviation"
# with the reason, not counted as passes; the test suite checks that each still deviates.
DEVIATIONS = {
    "test_dft_inverse":
        "the expected imaginary parts at n = L/2 are numpy's float32 FFT rounding noise (1.9e-7, above the "
        "case's atol of 1e-7); the exact value is 0, which liteport's DFT gives to 1e-15",
    "test_dft_inverse_opset19":
        "the expected imaginary parts at n = L/2 are numpy's float32 FFT rounding noise (1.9e-7, above the "
        "case's atol of 1e-7); the exact value is 0, which liteport's DFT gives to 1e-15",
    "test_attention_4d_causal_fp16_expanded":
        "float16 attention computed in float32 (TFLite has no float16 kernels); the reference rounds every "
        "intermediate to float16, so 2 of 192 values differ by one float16 step",
    "test_maxunpool_export_with_output_shape":
        "the reference indexes the inferred 4x4 shape and pads it to output_shape; onnxruntime and "
        "PyTorch's max_unpool index the output_shape tensor, as liteport does",
}


def not_applicable(model, name):
    """The reason a case is outside what a TFLite converter can be asked to do, or None."""
    g = model.graph
    for vi in list(g.input) + list(g.output):
        kind = vi.type.WhichOneof("value")
        if kind in ("sequence_type", "map_type", "optional_type", "sparse_tensor_type"):
            return f"{kind.replace('_type', '')} inputs/outputs (TFLite has tensors only)"
    ops = set()
    domains = set()

    def visit(gr):
        for n in gr.node:
            ops.add(n.op_type)
            domains.add(n.domain)
            for a in n.attribute:
                if a.g.node:
                    visit(a.g)
                for sg in a.graphs:
                    visit(sg)

    visit(g)
    if domains & TRAINING_DOMAINS or ops & TRAINING_OPS:
        return "training op"
    if "ai.onnx.ml" in domains:
        return "ai.onnx.ml domain (not the default ONNX domain)"
    other = {d for d in domains if d not in ("", "ai.onnx")}
    if other:
        return f"domain {sorted(other)[0]} (not the default ONNX domain)"
    if ops & STRING_OPS:
        return "string op"
    if ops & SEQUENCE_OPS:
        return "sequence/optional type"
    if ops & RANDOM_OPS:
        return "random generator (values are not reproducible across runtimes)"
    if "training" in name and ("dropout" in name or "batchnorm" in name):
        return "training mode"
    bad = sorted(NO_KERNEL_TYPES[t] for t in _types_in(model) if t in NO_KERNEL_TYPES)
    if bad:
        return f"data type {bad[0]} (TFLite has no kernels for it)"
    return None


# ---------------------------------------------------------------------------------------------
# loading cases (in the worker)

_CACHE = {}


def _quiet_loader(kind):
    import onnx.backend.test.loader as loader

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return loader.load_model_tests(kind=kind)


def _data_dir():
    import onnx

    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")


def list_cases(suite):
    if suite == "node":
        return [c.name for c in _node_cases().values()]
    d = os.path.join(_data_dir(), suite)
    if suite == "light":
        return sorted(f[:-5] for f in os.listdir(d) if f.endswith(".onnx"))
    return sorted(f for f in os.listdir(d) if os.path.isdir(os.path.join(d, f)))


def _node_cases():
    if "node" not in _CACHE:
        _CACHE["node"] = {c.name: c for c in _quiet_loader("node")}
    return _CACHE["node"]


def _read_pb(path):
    import onnx
    from onnx import numpy_helper

    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def load_case(suite, name):
    """(model ModelProto, model bytes, base_dir or None, [(inputs list, outputs list)], rtol, atol)"""
    import onnx

    if suite == "node":
        c = _node_cases()[name]
        from onnx import numpy_helper

        def arr(x):
            if isinstance(x, onnx.TensorProto):
                return numpy_helper.to_array(x)
            return x if isinstance(x, (list, tuple)) or x is None else np.asarray(x)

        sets = [([arr(x) for x in ins], [arr(y) for y in outs]) for ins, outs in (c.data_sets or [])]
        return c.model, c.model.SerializeToString(), c.model_dir, sets, c.rtol, c.atol
    d = os.path.join(_data_dir(), suite)
    if suite == "light":
        path = os.path.join(d, name + ".onnx")
        model = onnx.load(path)
        inits = {i.name for i in model.graph.initializer}
        ins = []
        for vi in model.graph.input:
            if vi.name in inits:
                continue
            shape = tuple(x.dim_value if x.HasField("dim_value") else 1 for x in vi.type.tensor_type.shape.dim)
            n = int(np.prod(shape))
            ins.append((np.arange(n).reshape(shape) / n).astype(np.float32))  # as onnx's own runner does
        outs = [_read_pb(os.path.join(d, f"{name}_output_{i}.pb")) for i in range(len(model.graph.output))]
        with open(path, "rb") as f:
            data = f.read()
        return model, data, d, [(ins, outs)], 1e-3, 1e-7
    mdir = os.path.join(d, name)
    path = os.path.join(mdir, "model.onnx")
    model = onnx.load(path)
    with open(path, "rb") as f:
        data = f.read()
    sets = []
    for ds in sorted(x for x in os.listdir(mdir) if x.startswith("test_data_set")):
        p = os.path.join(mdir, ds)
        n_in = len([f for f in os.listdir(p) if f.startswith("input_")])
        n_out = len([f for f in os.listdir(p) if f.startswith("output_")])
        sets.append(([_read_pb(os.path.join(p, f"input_{i}.pb")) for i in range(n_in)],
                     [_read_pb(os.path.join(p, f"output_{i}.pb")) for i in range(n_out)]))
    return model, data, mdir, sets, 1e-3, 1e-7


def case_op(suite, name, model):
    """The op a case is filed under in the table."""
    if suite != "node":
        return f"({suite})"
    ops = [n.op_type for n in model.graph.node]
    base = name.replace("_expanded_ver18", "").replace("_expanded", "")
    if base != name and base in _node_cases():
        ops = [n.op_type for n in _node_cases()[base].model.graph.node]
    return ops[0] if len(ops) == 1 else (ops[-1] if ops else "?")


# ---------------------------------------------------------------------------------------------
# running one case (in the worker)


def _compare(expected, got, rtol, atol):
    e = np.asarray(expected)
    g = np.asarray(got)
    if e.shape != g.shape:
        return f"shape {list(g.shape)} != expected {list(e.shape)}"
    if e.dtype.kind in "biu" or e.dtype == np.bool_:
        if e.dtype.kind != g.dtype.kind and not (e.dtype == np.bool_ and g.dtype == np.bool_):
            return f"dtype {g.dtype} != expected {e.dtype}"
        if not np.array_equal(e, g):
            return f"{int(np.sum(e != g))} of {e.size} values differ"
        return None
    if g.dtype.kind not in "fc":
        return f"dtype {g.dtype} != expected {e.dtype}"
    e64 = e.astype(np.float64)
    g64 = g.astype(np.float64)
    same_nan = np.isnan(e64) == np.isnan(g64)
    if not same_nan.all():
        return "NaN where none is expected (or the reverse)"
    ok = np.isclose(g64, e64, rtol=rtol, atol=atol, equal_nan=True)
    if not ok.all():
        d = np.abs(g64 - e64)[~ok]
        return f"{int((~ok).sum())} of {e.size} values differ, max abs diff {float(np.nanmax(d)):.3g}"
    return None


def _beyond_float32(a):
    if not isinstance(a, np.ndarray) or a.dtype != np.float64 or a.size == 0:
        return False
    f = np.abs(a[np.isfinite(a)])
    return bool(f.size) and float(f.max()) > float(np.finfo(np.float32).max)


def run_case(suite, name):
    import liteport

    model, data, base_dir, sets, rtol, atol = load_case(suite, name)
    op = case_op(suite, name, model)
    res = {"suite": suite, "name": name, "op": op}
    na = not_applicable(model, name)
    if not na and any(not isinstance(v, np.ndarray) for ins, outs in sets for v in list(ins) + list(outs)):
        na = "sequence/optional values in the test data (TFLite has tensors only)"
    if not na and any(_beyond_float32(v) for ins, outs in sets for v in list(ins) + list(outs)):
        # TFLite has no float64 arithmetic kernels; liteport computes float64 in float32
        na = "float64 test data outside the float32 range (TFLite has no float64 kernels)"
    if na:
        res.update(outcome="n/a", reason=na)
        return res
    try:
        report = liteport.convert(data, base_dir=base_dir)
    except liteport.ConversionError as e:
        res.update(outcome="unsupported" if e.status == "unsupported" else "mismatch",
                   reason=("" if e.status == "unsupported" else f"conversion error ({e.status}): ") + e.message)
        return res
    res["transposes"] = report.transposes
    try:
        lite = liteport.LiteRTModel(report.tflite, report)
    except Exception as e:  # LiteRT refused our flatbuffer
        res.update(outcome="mismatch", reason=f"LiteRT cannot load the model: {str(e).splitlines()[0][:300]}")
        return res
    in_names = list(report.input_names)
    out_names = list(report.output_names)
    for k, (ins, outs) in enumerate(sets):
        if len(ins) != len(in_names):
            res.update(outcome="mismatch", reason=f"{len(in_names)} model inputs, {len(ins)} test inputs")
            return res
        try:
            got = lite(dict(zip(in_names, ins)))
        except Exception as e:
            res.update(outcome="mismatch", reason=f"LiteRT failed on data set {k}: {str(e).splitlines()[0][:300]}")
            return res
        for j, exp in enumerate(outs):
            why = _compare(exp, got[out_names[j]], rtol, atol)
            if why:
                if name in DEVIATIONS:
                    res.update(outcome="deviation", reason=DEVIATIONS[name] + f" ({why})")
                else:
                    res.update(outcome="mismatch", reason=f"output '{out_names[j]}' data set {k}: {why}")
                return res
    res.update(outcome="pass")
    return res


def worker():
    """Reads 'suite name' lines, writes one JSON result per line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # keep stdout for results: everything the runtimes print goes to stderr
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    for line in sys.stdin:
        suite, name = line.split()
        try:
            r = run_case(suite, name)
        except Exception as e:  # a bug in this runner or an unexpected Python error
            r = {"suite": suite, "name": name, "op": "?", "outcome": "mismatch",
                 "reason": f"runner error: {type(e).__name__}: {str(e)[:300]}"}
        out.write(json.dumps(r) + "\n")


# ---------------------------------------------------------------------------------------------
# the pool (in the parent)


class Worker:
    def __init__(self):
        self.p = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.case = None
        self.t0 = 0.0

    def send(self, case):
        self.case = case
        self.t0 = time.time()
        self.p.stdin.write(f"{case[0]} {case[1]}\n")
        self.p.stdin.flush()

    def kill(self):
        try:
            self.p.kill()
            self.p.wait(5)
        except Exception:
            pass


def run_all(cases, jobs, verbose=False, progress=True):
    import selectors

    results = []
    todo = list(cases)
    workers = [Worker() for _ in range(max(1, min(jobs, len(todo))))]
    sel = selectors.DefaultSelector()
    for w in workers:
        sel.register(w.p.stdout, selectors.EVENT_READ, w)
    idle = list(workers)
    total = len(todo)
    t_start = time.time()

    def record(r):
        results.append(r)
        if verbose or (r["outcome"] in ("mismatch", "crash") and progress):
            print(f"{r['outcome']:11s} {r['suite']}/{r['name']}: {r.get('reason', '')}", file=sys.stderr)
        if progress and len(results) % 50 == 0:
            print(f"  {len(results)}/{total} cases, {time.time() - t_start:.0f} s", file=sys.stderr)

    while todo or len(idle) < len(workers):
        while todo and idle:
            idle.pop().send(todo.pop(0))
        events = sel.select(timeout=1.0)
        for key, _ in events:
            w = key.data
            line = w.p.stdout.readline()
            if line:
                record(json.loads(line))
                idle.append(w)
            else:  # the worker died: the case crashed it
                suite, name = w.case
                record({"suite": suite, "name": name, "op": "?", "outcome": "crash",
                        "reason": f"worker process died (exit code {w.p.poll()})"})
                sel.unregister(w.p.stdout)
                w.kill()
                nw = Worker()
                workers[workers.index(w)] = nw
                sel.register(nw.p.stdout, selectors.EVENT_READ, nw)
                idle.append(nw)
        now = time.time()
        for w in list(workers):
            if w not in idle and w.case and now - w.t0 > TIMEOUT:
                suite, name = w.case
                record({"suite": suite, "name": name, "op": "?", "outcome": "crash",
                        "reason": f"timed out after {TIMEOUT} s"})
                sel.unregister(w.p.stdout)
                w.kill()
                nw = Worker()
                workers[workers.index(w)] = nw
                sel.register(nw.p.stdout, selectors.EVENT_READ, nw)
                idle.append(nw)
    for w in workers:
        w.kill()
    # crashed cases have no op yet: fill it in from the model
    for r in results:
        if r["op"] == "?":
            try:
                model = load_case(r["suite"], r["name"])[0]
                r["op"] = case_op(r["suite"], r["name"], model)
            except Exception:
                pass
    return results


OUTCOMES = ["pass", "mismatch", "unsupported", "crash", "deviation", "n/a"]


def summarize(results):
    by_suite = collections.OrderedDict()
    for r in results:
        by_suite.setdefault(r["suite"], collections.Counter())[r["outcome"]] += 1
    return by_suite


def write_markdown(results, path, elapsed):
    by_suite = summarize(results)
    lines = ["# Conformance: the ONNX backend test suite through LiteRT", "",
             "Generated by `tools/conformance.py` (do not edit by hand). Each case is converted by liteport "
             "and every data set is run through the LiteRT interpreter (ai-edge-litert, XNNPACK) and compared "
             "with the expected outputs at the case's tolerance (default rtol 1e-3, atol 1e-7).", "",
             "| suite | cases | applicable | pass | mismatch | unsupported | crash | deviation | not applicable | pass rate (applicable) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for suite, c in by_suite.items():
        n = sum(c.values())
        app = n - c["n/a"]
        rate = f"{100.0 * c['pass'] / app:.1f}%" if app else "-"
        lines.append(f"| {suite} | {n} | {app} | {c['pass']} | {c['mismatch']} | {c['unsupported']} | {c['crash']} "
                     f"| {c['deviation']} | {c['n/a']} | {rate} |")
    lines += ["", f"Run time {elapsed:.0f} s.", ""]
    # by op (node suite)
    ops = collections.OrderedDict()
    for r in sorted(results, key=lambda r: (r["op"], r["name"])):
        if r["suite"] != "node":
            continue
        ops.setdefault(r["op"], collections.Counter())[r["outcome"]] += 1
    lines += ["## By op (node suite)", "", "| op | pass | mismatch | unsupported | crash | n/a |", "|---|---|---|---|---|---|"]
    for op, c in ops.items():
        lines.append(f"| {op} | {c['pass']} | {c['mismatch']} | {c['unsupported']} | {c['crash']} | {c['n/a']} |")
    for title, outcome in [("Mismatches", "mismatch"), ("Crashes", "crash"),
                           ("Deliberate deviations from the ONNX reference", "deviation"), ("Unsupported", "unsupported"),
                           ("Not applicable (excluded from the pass rate)", "n/a")]:
        rows = [r for r in results if r["outcome"] == outcome]
        lines += ["", f"## {title} ({len(rows)})", ""]
        if not rows:
            lines.append("None.")
            continue
        lines += ["| suite | case | op | reason |", "|---|---|---|---|"]
        for r in sorted(rows, key=lambda r: (r["suite"], r["op"], r["name"])):
            reason = r.get("reason", "").replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {r['suite']} | {r['name']} | {r['op']} | {reason} |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def select_cases(suites, ops=None, names=None):
    """[(suite, name)] for the given suites, optionally only the given ops or case names."""
    out = []
    for s in suites:
        for n in list_cases(s):
            if names and n not in names:
                continue
            out.append((s, n))
    if ops:
        keep = []
        for s, n in out:
            model = load_case(s, n)[0]
            if case_op(s, n, model) in ops:
                keep.append((s, n))
        out = keep
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--suite", action="append", choices=SUITES, help="suite(s) to run (default: all)")
    ap.add_argument("--ops", help="comma-separated op types (node suite)")
    ap.add_argument("--cases", help="comma-separated case names")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--json", help="write all results as JSON here")
    ap.add_argument("--markdown", default=None, help="table path (default docs/conformance.md for a full run)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--update-expected", action="store_true",
                    help="write the passing cases to tests/conformance_expected.json (full runs only)")
    args = ap.parse_args(argv)
    if args.worker:
        worker()
        return 0
    suites = args.suite or SUITES
    ops = set(args.ops.split(",")) if args.ops else None
    names = set(args.cases.split(",")) if args.cases else None
    cases = select_cases(suites, ops, names)
    t0 = time.time()
    results = run_all(cases, args.jobs, verbose=args.verbose)
    elapsed = time.time() - t0
    by_suite = summarize(results)
    for suite, c in by_suite.items():
        n = sum(c.values())
        app = n - c["n/a"]
        print(f"{suite:18s} {n:5d} cases: " + ", ".join(f"{o} {c[o]}" for o in OUTCOMES) +
              (f"  -> {100.0 * c['pass'] / app:.1f}% of {app} applicable" if app else ""))
    print(f"{len(results)} cases in {elapsed:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    md = args.markdown or (os.path.join(ROOT, "docs", "conformance.md") if not (ops or names or args.suite) else None)
    if args.update_expected:
        if ops or names or args.suite:
            ap.error("--update-expected needs a full run (no --suite/--ops/--cases)")
        passing = sorted(f"{r['suite']}/{r['name']}" for r in results if r["outcome"] == "pass")
        with open(os.path.join(ROOT, "tests", "conformance_expected.json"), "w") as f:
            json.dump({"pass": passing}, f, indent=0)
            f.write("\n")
        print(f"{len(passing)} passing cases written to tests/conformance_expected.json")
    if md:
        write_markdown(results, md, elapsed)
        print(f"table written to {os.path.relpath(md)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
