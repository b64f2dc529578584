"""The hostile-input corpus (tests/hostile/gen.py, about 900 cases: broken protobuf, truncations,
bit flips, impossible shapes, huge attributes, bad external data, graphs that break ONNX's rules)
through build/liteport, build-asan/liteport (AddressSanitizer, UndefinedBehaviorSanitizer and
LeakSanitizer) and the Python binding. Every case must end in a clean success or a clean refusal:

- exit status 0 or 1, no signal, no time-out, no sanitizer report, bounded memory;
- on refusal: exactly one line "liteport: error: MODEL: ...", printable, containing the words the
  manifest lists for the case (node, op, attribute, tensor or file at fault) or matching its
  family's pattern; no output file created, an existing one left byte for byte, no stray files;
- "reject" cases are refused, "accept" cases convert and LiteRT matches onnxruntime on them;
- the Python binding gives the same message as the CLI for every case.
"""
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "build", "hostile")
SENTINEL = b"previous output, must survive a failed conversion"
SAN_WORDS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:", "==ERROR")


@pytest.fixture(scope="module")
def corpus():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "hostile", "gen.py"), CORPUS],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(CORPUS, "manifest.json")) as f:
        return json.load(f)


def _run(binary, name, meta, asan):
    d = os.path.join(CORPUS, name)
    model, out = os.path.join(d, "model.onnx"), os.path.join(d, "out.tflite")
    with open(out, "wb") as f:
        f.write(SENTINEL)
    before = sorted(os.listdir(d))
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=1:allocator_may_return_null=1:hard_rss_limit_mb=2048:abort_on_error=0"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"

    def limit():
        if not asan:  # ASan reserves terabytes of address space: its own hard_rss_limit_mb applies
            resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        os.setsid()

    timeout = 60 if asan else 15
    t0 = time.time()
    with tempfile.TemporaryFile() as fe:
        p = subprocess.Popen([binary, "convert", model, "-o", out, "-q", *meta["args"]], stdout=subprocess.DEVNULL,
                             stderr=fe, preexec_fn=limit, env=env)
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.time() - t0 > timeout:
                os.killpg(p.pid, 9)
                pid, status, ru = os.wait4(p.pid, 0)
                return [f"timed out after {timeout} s"], ""
            time.sleep(0.005)
        fe.seek(0)
        err = fe.read().decode("utf-8", "replace")
    rc = os.waitstatus_to_exitcode(status)
    bad = []
    if any(w in err for w in SAN_WORDS):
        bad.append("sanitizer report: " + err[-1500:])
    if rc < 0:
        bad.append(f"killed by signal {-rc}")
    elif rc not in (0, 1):
        bad.append(f"exit status {rc}")
    if not asan and ru.ru_maxrss > (1 << 20):  # KiB
        bad.append(f"peak memory {ru.ru_maxrss >> 10} MiB")
    after = sorted(os.listdir(d))
    if after != before:
        bad.append(f"files changed in the folder: {sorted(set(before) ^ set(after))}")
    data = open(out, "rb").read() if os.path.exists(out) else b""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    msg = ""
    if rc == 1:
        if data != SENTINEL:
            bad.append("the existing output was changed by a failed conversion")
        prefix = f"liteport: error: {model}: "
        alt = "liteport: error: "  # errors opening the model itself name the file differently
        if len(lines) != 1 or not lines[0].startswith(alt):
            bad.append(f"not one 'liteport: error:' line: {err[-800:]!r}")
        else:
            msg = lines[0][len(prefix):] if lines[0].startswith(prefix) else lines[0][len(alt):]
            if any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in lines[0]):
                bad.append("control characters in the message")
            if "internal error" in msg or msg.endswith("conversion failed"):
                bad.append(f"an internal or unspecific error: {msg}")
            if "words" not in meta and "family" not in meta:
                bad.append(f"refused, but tests/hostile/gen.py's WORDS does not say what the line must name: {msg}")
            missing = [w for w in meta.get("words", []) if w not in msg]
            if missing:
                bad.append(f"message lacks {missing}: {msg}")
            if "family" in meta and not re.search(meta["family"], msg):
                bad.append(f"message does not match /{meta['family']}/: {msg}")
    elif rc == 0:
        if len(data) < 8 or data[4:8] != b"TFL3":
            bad.append("succeeded without a TFLite file")
    if meta["expect"] == "reject" and rc != 1:
        bad.append("converted a model it must refuse")
    if meta["expect"] == "accept" and rc != 0:
        bad.append(f"refused a valid model: {err.strip()[-300:]}")
    if os.path.exists(out):
        os.remove(out)
    return bad, msg


def _run_all(binary, corpus, asan):
    assert os.path.exists(binary), f"{binary} is missing: `make test` builds it first"
    names = sorted(corpus)
    with ThreadPoolExecutor(2) as ex:
        results = dict(zip(names, ex.map(lambda n: _run(binary, n, corpus[n], asan), names)))
    failures = {n: bad for n, (bad, _) in results.items() if bad}
    assert not failures, "\n".join(f"{n}: {b}" for n, b in sorted(failures.items()))
    return {n: msg for n, (_, msg) in results.items()}


def test_corpus_covers_the_issue(corpus):
    """At least 50 files, and every kind of broken input issue 7 lists is refused by some case."""
    assert len(corpus) >= 50
    kinds = {
        "empty file": ["pb_empty"], "random bytes": ["pb_random_00"], "truncated": ["trunc_base_0010"],
        "bit flips": ["flip_base_000_"], "wrong wire types": ["pb_graph_wrong_wire", "pb_wire7_in_graph"],
        "lengths past the end": ["pb_len_past_end", "pb_len_huge"],
        "11-byte varints": ["pb_varint_11_bytes_in_dims", "pb_varint_11_bytes_ir_version"],
        "negative, zero and huge dims": ["graph_input_neg_dim", "init_dims_neg", "init_dims_zero_and_huge",
                                         "graph_input_dim_2p62"],
        "dims whose product overflows": ["init_dims_overflow", "init_dims_2p62_sq"],
        "raw_data short or long": ["init_raw_short", "init_raw_long"],
        "data_type out of range": ["init_dtype_99", "init_dtype_neg", "graph_input_dtype_99", "cast_to_99"],
        "missing graph": ["model_no_graph"], "undefined tensors": ["node_undefined_input"],
        "a cycle": ["node_cycle", "node_self_loop"], "duplicate outputs": ["node_two_writers", "graph_output_twice"],
        "attributes of the wrong type": ["conv_attr_type_mismatch", "cast_to_float_attr", "attr_int_for_ints"],
        "missing required attributes": ["concat_no_axis", "maxpool_no_kernel", "missing_required_attr_cast_to"],
        "unknown opset domain": ["node_custom_domain", "node_unknown_domain_op"],
        "opset beyond what we know": ["model_opset_29", "model_opset_int_max"],
        "external data outside the folder": ["ext_dotdot", "ext_absolute", "ext_symlink_out_abs"],
        "external data missing": ["ext_missing"], "external data past the end": ["ext_length_past_end"],
        "impossible Reshape": ["reshape_impossible_const_shape", "reshape_wrong_count"],
        "Conv weight vs input channels": ["conv_weight_channels_mismatch"],
        "types inconsistent": ["conv_weight_int64", "graph_output_declared_int64"],
    }
    for kind, names in kinds.items():
        for n in names:
            hits = [c for c in corpus if c == n or (n.endswith("_") and c.startswith(n))]
            assert hits, (kind, n)
            for h in hits:
                assert corpus[h]["expect"] == "reject" or "family" in corpus[h], (kind, h)


def test_corpus_release_build(corpus):
    msgs = _run_all(os.path.join(ROOT, "build", "liteport"), corpus, asan=False)
    # the truncations and random bytes, at least, are all refused (family cases)
    assert all(msgs[n] for n in corpus if n.startswith(("pb_random_", "trunc_")))
    test_corpus_release_build.msgs = msgs


def test_corpus_under_sanitizers(corpus):
    msgs = _run_all(os.path.join(ROOT, "build-asan", "liteport"), corpus, asan=True)
    ref = getattr(test_corpus_release_build, "msgs", None)
    if ref is not None:  # the sanitizer build decides exactly as the release build
        diff = {n: (ref[n], msgs[n]) for n in corpus if ref[n] != msgs[n]}
        assert not diff, diff


def test_corpus_python_binding(corpus):
    """In one process through liteport.convert(bytes): the same decision and message as the CLI."""
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "hostile", "inprocess.py"), CORPUS],
                       capture_output=True, text=True, timeout=600)
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    started = [x["start"] for x in rows if "start" in x]
    done = {x["case"]: x for x in rows if "case" in x}
    assert r.returncode == 0 and len(done) == len(started), \
        f"the binding died on {started[-1] if started else '?'}: {r.stderr[-2000:]}"
    assert len(done) > 800
    cli = getattr(test_corpus_release_build, "msgs", None)
    for name, x in done.items():
        if corpus[name]["expect"] == "reject":
            assert not x["ok"], name
        if corpus[name]["expect"] == "accept":
            assert x["ok"], (name, x)
        if not x["ok"]:
            assert x["message"].startswith("<memory>: "), x
            m = x["message"][len("<memory>: "):]
            for w in corpus[name].get("words", []):
                assert w in m, (name, w, m)
            if cli is not None:
                assert cli[name] == m or "model.onnx" in cli[name], (name, cli[name], m)
        elif cli is not None:
            assert cli[name] == "", (name, cli[name])


def test_accepted_cases_match_onnxruntime(corpus, tmp_path):
    """The valid models of the corpus (odd encodings, external data through symlinks and subfolders)
    convert to models whose outputs LiteRT computes as onnxruntime does."""
    import liteport

    accepted = [n for n in sorted(corpus) if corpus[n]["expect"] == "accept"]
    assert len(accepted) >= 5
    for n in accepted:
        model = os.path.join(CORPUS, n, "model.onnx")
        out = str(tmp_path / f"{n}.tflite")
        rep = liteport.convert(model, out)
        res = liteport.verify(model, out, report=rep)
        assert res.ok, (n, str(res))
