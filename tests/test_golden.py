"""Golden outputs: fixed runs on the tiny test model, recorded with the code before the explicit-contracts and
scale-out redesigns (commit 3194d4b), must come out the same. Rows may be renamed only through RENAMED below.

What is compared is behaviour, not bits: generated text, answers, verdicts, counts and every non-float field
exactly; floats within REL_TOL. The store key (a hash naming the model build and library versions) is not a
result and is left out; tests/test_resume.py checks that keys are stable within one install.
"""
from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "golden"
spec = importlib.util.spec_from_file_location("golden_record", HERE / "record.py")
record = importlib.util.module_from_spec(spec)
spec.loader.exec_module(record)

RENAMED: dict[str, str] = {}
"""Old metric name -> new one, for a deliberate rename; empty: every metric keeps its name."""

REL_TOL = 1e-4
"""Relative tolerance of float fields. Measured (2026-12-07, tiny model, torch 2.13.0 CPU): the recording
(transformers 5.24.0) against transformers 5.25.0 at 1 and 2 threads differs by at most 3.3e-6 relative
(metric values and CIs built on token probabilities), 1.7e-6 in P(True)/token-probability confidences and 1e-6 in
log-probabilities; no token, answer or verdict changed. The session that filed this saw the same drift at
the 7th significant digit across 1-8 threads and torch 2.13/2.14.1. 1e-4 leaves 30x headroom over the largest
drift seen and is still far below any difference a reader of a metric would act on."""
ABS_TOL = 1e-9
"""For floats at or near zero, where a relative tolerance means nothing."""
IGNORED = {"key"}
RECORDED_ON = (3, 11)
"""The Python the golden runs were recorded on. The sandbox reports the interpreter's own error message, whose
wording differs between versions (3.10: "invalid character '\ufffd' (U+FFFD)", 3.11: "invalid non-printable
character U+001F" for one reply); the sandbox's exception and message fields compare by the exception type, and exec_feedback, which feeds that
message back to the model (so its later prompts and replies follow it), compares only on the recording version."""
FEEDS_INTERPRETER_TEXT = {"exec_feedback"}


@pytest.fixture(scope="module")
def current(build_model, tmp_path_factory):
    model = build_model(tmp_path_factory.mktemp("golden-model") / "tiny")  # the model id is the folder's name
    return record.run_all(model, tmp_path_factory.mktemp("golden-runs"))


def _renamed(obj):
    """Apply RENAMED, and key metric rows by what they measure: their order in a file is not a result."""
    if isinstance(obj, dict):
        return {k: (RENAMED.get(v, v) if k == "metric" else _keyed(v) if k == "metrics" else _renamed(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_renamed(v) for v in obj]
    return obj


def _keyed(rows):
    if not (isinstance(rows, list) and all(isinstance(r, dict) and "metric" in r for r in rows)):
        return _renamed(rows)
    rows = [_renamed(r) for r in rows]
    return {"|".join(str(r.get(k)) for k in ("protocol", "subset", "round", "metric")): r for r in rows}


def _missing_or_changed(want, got, path: str = "") -> list[str]:
    """Every value of the golden run must be in the new one, unchanged; keys the new code adds are allowed."""
    if isinstance(want, dict) and isinstance(got, dict):
        return [d for k, v in want.items() if k not in IGNORED
                for d in (_missing_or_changed(v, got[k], f"{path}.{k}") if k in got else [f"{path}.{k}: missing"])]
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [d for i, (w, g) in enumerate(zip(want, got)) for d in _missing_or_changed(w, g, f"{path}[{i}]")]
    if isinstance(want, float) and isinstance(got, float) and math.isclose(want, got, rel_tol=REL_TOL,
                                                                           abs_tol=ABS_TOL):
        return []
    if path.endswith((".exec.exception", ".exec.message")) and isinstance(want, str) and isinstance(got, str):
        want, got = want.partition(":")[0], got.partition(":")[0]
    same = want == got and isinstance(want, bool) == isinstance(got, bool)
    return [] if same else [f"{path}: {want!r:.120} -> {got!r:.120}"]


@pytest.mark.parametrize("name", sorted([*record.RUNS, "rescore"]))
def test_outputs_match_the_recorded_golden_run(current, name):
    if name in FEEDS_INTERPRETER_TEXT and sys.version_info[:2] != RECORDED_ON:
        pytest.skip(f"{name} feeds the interpreter's error wording back to the model; recorded on Python "
                    f"{'.'.join(map(str, RECORDED_ON))}")
    want = _renamed(json.loads((HERE / "data" / f"{name}.json").read_text()))
    got = _renamed(json.loads(json.dumps(current[name], sort_keys=True)))
    assert _missing_or_changed(want, got) == []


def test_the_comparison_catches_a_changed_or_missing_value():
    want = {"a": [{"x": 1, "y": 2}], "b": "s"}
    assert _missing_or_changed(want, {"a": [{"x": 1, "y": 2, "new": 0}], "b": "s", "c": 1}) == []
    assert _missing_or_changed(want, {"a": [{"x": 1, "y": 3}], "b": "s"}) == [".a[0].y: 2 -> 3"]
    assert _missing_or_changed(want, {"a": [{"x": 1}], "b": "s"}) == [".a[0].y: missing"]
    assert _missing_or_changed(want, {"a": [], "b": "s"}) != []


def test_floats_compare_within_the_stated_tolerance_and_nothing_else_does():
    assert _missing_or_changed({"v": 0.25}, {"v": 0.25 * (1 + 3.3e-6)}) == []
    assert _missing_or_changed({"v": 0.25}, {"v": 0.2503}) == [".v: 0.25 -> 0.2503"]
    assert _missing_or_changed({"v": 0.0}, {"v": 1e-12}) == []
    assert _missing_or_changed({"n": 3}, {"n": 4}) == [".n: 3 -> 4"]
    assert _missing_or_changed({"ok": True}, {"ok": 1.0}) != []
    assert _missing_or_changed({"text": "9"}, {"text": "9.0"}) != []
    assert _missing_or_changed({"key": "abc", "x": 1}, {"key": "def", "x": 1}) == []
    same_type = {"exec": {"exception": "SyntaxError: b", "message": "SyntaxError: b\n  at line 6"}}
    assert _missing_or_changed({"exec": {"exception": "SyntaxError: a", "message": "SyntaxError: a"}}, same_type) == []
    assert _missing_or_changed({"exec": {"exception": "NameError: a"}}, same_type) != []
