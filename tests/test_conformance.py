"""The ONNX backend test suite as regression tests (see tools/conformance.py and
docs/conformance.md).

Every case listed in tests/conformance_expected.json must still pass; no case may end in a
mismatch or a crash (a wrong result or a dead process is a bug, a clean "unsupported" is a gap).
Unsupported and not-applicable cases are listed with their reasons in the printed summary and in
docs/conformance.md. Refresh the expected list after a fix with
`tools/conformance.py --update-expected`."""
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import conformance  # noqa: E402

EXPECTED = os.path.join(ROOT, "tests", "conformance_expected.json")


@pytest.fixture(scope="module")
def results():
    cases = conformance.select_cases(conformance.SUITES)
    return conformance.run_all(cases, jobs=os.cpu_count() or 2, progress=False)


def test_no_mismatch_and_no_crash(results):
    bad = [f"{r['outcome']}: {r['suite']}/{r['name']} ({r['op']}): {r.get('reason', '')}" for r in results
           if r["outcome"] in ("mismatch", "crash")]
    assert not bad, "\n".join(bad)


def test_every_expected_case_still_passes(results):
    with open(EXPECTED) as f:
        expected = set(json.load(f)["pass"])
    passing = {f"{r['suite']}/{r['name']}" for r in results if r["outcome"] == "pass"}
    lost = sorted(expected - passing)
    by_key = {f"{r['suite']}/{r['name']}": r for r in results}
    assert not lost, "\n".join(f"{k}: {by_key.get(k, {}).get('outcome')} {by_key.get(k, {}).get('reason', '')}"
                               for k in lost)
    gained = sorted(passing - expected)
    summary = conformance.summarize(results)
    print()
    for suite, c in summary.items():
        print(f"{suite}: " + ", ".join(f"{o} {c[o]}" for o in conformance.OUTCOMES))
    if gained:
        print(f"{len(gained)} cases pass that tests/conformance_expected.json does not list yet "
              "(run tools/conformance.py --update-expected)")
    unsupported = [r for r in results if r["outcome"] == "unsupported"]
    print(f"{len(unsupported)} unsupported cases, each with its reason in docs/conformance.md")


def test_deviations_are_still_deviations(results):
    """Each listed deviation from the ONNX reference is still one (or the list is out of date)."""
    by_name = {r["name"]: r for r in results}
    stale = [n for n in conformance.DEVIATIONS if by_name.get(n, {}).get("outcome") != "deviation"]
    assert not stale, f"listed in DEVIATIONS but now {[by_name.get(n, {}).get('outcome') for n in stale]}: {stale}"


def test_node_suite_pass_rate(results):
    """Issue 4's bar: at least 90% of the applicable node cases pass."""
    c = conformance.summarize(results)["node"]
    applicable = sum(c.values()) - c["n/a"]
    rate = c["pass"] / applicable
    assert rate >= 0.90, f"{c['pass']} of {applicable} applicable node cases pass ({100 * rate:.1f}%)"
