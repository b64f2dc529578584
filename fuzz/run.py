#!/usr/bin/env python3
"""Fuzz liteport's targets with libFuzzer for a given time, keeping the corpus between runs.

    python fuzz/run.py [--seconds N] [--targets onnx,convert] [--timeout S]

For each target (fuzz/fuzz_TARGET.c): builds build-fuzz/fuzz_TARGET with clang
(-fsanitize=fuzzer,address,undefined), seeds it with the ONNX backend test models (the
conformance suite's, from the installed onnx package), the C test fixtures and the hostile corpus
(when `make test` has generated them into build/), then runs it for N seconds on the corpus in build-fuzz/corpus/TARGET (kept, so runs add
up). Every crash, leak, timeout or out-of-memory input is copied into tests/fuzz/crashers/, which
`make test` replays under the sanitizers (fuzz/replay.c): it stays there as a regression test once
fixed. Each run appends a line to build-fuzz/runs.tsv (target, seconds, executions, coverage,
features, corpus size, new findings); the totals per target are printed at the end.

Needs clang and libFuzzer (Debian: apt-get install clang libfuzzer-14-dev) and a Python with the
onnx package for the seeds (.venv/bin/python fuzz/run.py).
"""
import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build-fuzz")
CRASHERS = os.path.join(ROOT, "tests", "fuzz", "crashers")
TARGETS = ["onnx", "convert"]
# smaller bounds than a normal build, so the fuzzer spends its time on logic, not on big allocations
LIMITS = ["-DLP_ARENA_BASE=((size_t)64<<20)", "-DLP_MAX_TABLE_BYTES=((size_t)16<<20)",
          "-DLP_MAX_FOLD_BYTES=((size_t)16<<20)"]
MAX_SEED = 64 * 1024


FLAGS = ["-std=c11", "-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=fuzzer,address,undefined",
         "-fno-sanitize-recover=all", "-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(ROOT, "src"), *LIMITS]


def build(targets, cc):
    """Objects in build-fuzz/obj (rebuilt when a source or any header is newer), one binary per target."""
    os.makedirs(os.path.join(OUT, "obj"), exist_ok=True)
    headers = glob.glob(os.path.join(ROOT, "src", "**", "*.h"), recursive=True) + \
        glob.glob(os.path.join(ROOT, "src", "**", "*.def"), recursive=True) + \
        glob.glob(os.path.join(ROOT, "include", "*.h")) + glob.glob(os.path.join(ROOT, "fuzz", "*.h"))
    hdr_time = max(os.path.getmtime(h) for h in headers)
    srcs = sorted(glob.glob(os.path.join(ROOT, "src", "**", "*.c"), recursive=True))
    srcs += [os.path.join(ROOT, "fuzz", f"fuzz_{t}.c") for t in targets]
    jobs = []
    for src in srcs:
        obj = os.path.join(OUT, "obj", os.path.relpath(src, ROOT).replace("/", "_") + ".o")
        if not os.path.exists(obj) or os.path.getmtime(obj) < max(hdr_time, os.path.getmtime(src)):
            jobs.append([cc, *FLAGS, "-c", src, "-o", obj])
    if jobs:
        print(f"compiling {len(jobs)} files", flush=True)
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(os.cpu_count() or 2) as ex:
            for r in ex.map(lambda c: subprocess.run(c), jobs):
                if r.returncode:
                    sys.exit("compilation failed")
    lib = [os.path.join(OUT, "obj", os.path.relpath(s, ROOT).replace("/", "_") + ".o") for s in srcs
           if "/fuzz/" not in s]
    exes = {}
    for t in targets:
        exe = os.path.join(OUT, f"fuzz_{t}")
        objs = lib + [os.path.join(OUT, "obj", f"fuzz_fuzz_{t}.c.o")]
        if not os.path.exists(exe) or os.path.getmtime(exe) < max(os.path.getmtime(o) for o in objs):
            subprocess.run([cc, *FLAGS, *objs, "-lm", "-o", exe], check=True)
        exes[t] = exe
    return exes


def seeds():
    d = os.path.join(OUT, "seeds")
    os.makedirs(d, exist_ok=True)
    blobs = []
    stamp = os.path.join(d, ".conformance")
    if not os.path.exists(stamp):
        # the conformance suites' models (tools/conformance.py builds the node cases in memory)
        try:
            sys.path.insert(0, os.path.join(ROOT, "tools"))
            import conformance

            for suite in ["node", "pytorch-converted", "pytorch-operator", "simple"]:
                for name in conformance.list_cases(suite):
                    try:
                        blobs.append(conformance.load_case(suite, name)[1])
                    except Exception:
                        pass
            open(stamp, "w").close()
        except ImportError as e:
            print(f"no conformance models ({e}): seeding from the test fixtures only", file=sys.stderr)
    for p in glob.glob(os.path.join(ROOT, "build", "fixtures", "*.onnx")) + \
            glob.glob(os.path.join(ROOT, "build", "hostile", "*", "model.onnx")):
        if os.path.isfile(p) and not os.path.islink(p):  # the corpus has FIFOs
            blobs.append(open(p, "rb").read())
    for b in blobs:
        if len(b) > MAX_SEED:
            continue
        dst = os.path.join(d, hashlib.sha1(b).hexdigest())
        if not os.path.exists(dst):
            with open(dst, "wb") as f:
                f.write(b)
    return d, len([f for f in os.listdir(d) if not f.startswith(".")])


def findings(art, before):
    """Inputs libFuzzer stopped on (crash-, leak-, timeout-, oom-). Not its slow-unit- files: those are
    merely slower than 10 s (a loaded machine makes them) and it goes on after writing one."""
    return sorted(a for a in set(os.listdir(art)) - before if not a.startswith("slow-unit-"))


def run(target, exe, seed_dir, seconds, timeout):
    corpus = os.path.join(OUT, "corpus", target)
    art = os.path.join(OUT, "artifacts", target) + "/"
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(art, exist_ok=True)
    before = set(os.listdir(art))
    log = os.path.join(OUT, f"{target}.log")
    cmd = [exe, f"-max_total_time={seconds}", f"-timeout={timeout}", "-rss_limit_mb=2048", "-max_len=65536",
           "-print_final_stats=1", f"-artifact_prefix={art}", corpus, seed_dir]
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    print(" ".join(cmd), flush=True)
    t0 = time.time()
    with open(log, "w") as f:
        # libFuzzer stops at the first finding: set the input aside (it is kept in tests/fuzz/crashers
        # below) and go on until the time is used up
        while time.time() - t0 < seconds:
            left = max(1, int(seconds - (time.time() - t0)))
            cmd[1] = f"-max_total_time={left}"
            p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
            if p.returncode == 0:
                break
            bad = {hashlib.sha1(open(art + a, "rb").read()).hexdigest() for a in findings(art, before)}
            for folder in (corpus, seed_dir):
                for name in os.listdir(folder):
                    q = os.path.join(folder, name)
                    if os.path.isfile(q) and hashlib.sha1(open(q, "rb").read()).hexdigest() in bad:
                        os.remove(q)
    text = open(log, errors="replace").read()
    execs = sum(int(x) for x in re.findall(r"stat::number_of_executed_units: (\d+)", text))
    cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", text)
    cov, ft, corp = cov[-1] if cov else ("?", "?", "?")
    new = findings(art, before)
    os.makedirs(CRASHERS, exist_ok=True)
    for a in new:
        b = open(art + a, "rb").read()
        kind = a.split("-")[0]
        dst = os.path.join(CRASHERS, f"{kind}-{hashlib.sha1(b).hexdigest()[:16]}")
        shutil.copy(art + a, dst)
        print("found:", dst, flush=True)
    spent = round(time.time() - t0)
    with open(os.path.join(OUT, "runs.tsv"), "a") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}\t{target}\t{spent}\t{execs}\t{cov}\t{ft}\t{corp}\t{len(new)}\n")
    print(f"{target}: {spent} s, {execs} executions, cov {cov}, ft {ft}, corpus {corp}, new findings {len(new)}")
    return len(new)


def totals():
    path = os.path.join(OUT, "runs.tsv")
    if not os.path.exists(path):
        return
    tot = {}
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        t = tot.setdefault(f[1], [0, 0, "?", 0])
        t[0] += int(f[2])
        t[1] += int(f[3])
        t[2] = f[4]
        t[3] += int(f[7])
    print("totals over all runs (target: seconds, executions, last coverage, findings):")
    for k, v in sorted(tot.items()):
        print(f"  {k}: {v[0]} s ({v[0] / 60:.1f} min), {v[1]} executions, cov {v[2]}, {v[3]} findings")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--timeout", type=int, default=30,
                    help="seconds per input before it counts as a hang (the sanitized, instrumented build is "
                         "about 10 times slower than a release build)")
    ap.add_argument("--cc", default=os.environ.get("FUZZ_CC", "clang"))
    a = ap.parse_args()
    if not shutil.which(a.cc):
        sys.exit(f"{a.cc} not found: apt-get install clang libfuzzer-14-dev")
    seed_dir, n = seeds()
    print(f"{n} seed files", flush=True)
    targets = a.targets.split(",")
    exes = build(targets, a.cc)
    found = 0
    for t in targets:
        found += run(t, exes[t], seed_dir, a.seconds, a.timeout)
    totals()
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
