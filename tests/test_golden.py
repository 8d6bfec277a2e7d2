"""Golden outputs: fixed runs on the tiny test model, recorded with the code before the explicit-contracts and
scale-out redesigns (commit 3194d4b), must come out the same. Rows may be renamed only through RENAMED below."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "golden"
spec = importlib.util.spec_from_file_location("golden_record", HERE / "record.py")
record = importlib.util.module_from_spec(spec)
spec.loader.exec_module(record)

RENAMED: dict[str, str] = {}
"""Old metric name -> new one, for a deliberate rename; empty: every metric keeps its name."""


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
        return [d for k, v in want.items()
                for d in (_missing_or_changed(v, got[k], f"{path}.{k}") if k in got else [f"{path}.{k}: missing"])]
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [d for i, (w, g) in enumerate(zip(want, got)) for d in _missing_or_changed(w, g, f"{path}[{i}]")]
    return [] if want == got else [f"{path}: {want!r:.120} -> {got!r:.120}"]


@pytest.mark.parametrize("name", sorted([*record.RUNS, "rescore"]))
def test_outputs_match_the_recorded_golden_run(current, name):
    want = _renamed(json.loads((HERE / "data" / f"{name}.json").read_text()))
    got = _renamed(json.loads(json.dumps(current[name], sort_keys=True)))
    assert _missing_or_changed(want, got) == []


def test_the_comparison_catches_a_changed_or_missing_value():
    want = {"a": [{"x": 1, "y": 2}], "b": "s"}
    assert _missing_or_changed(want, {"a": [{"x": 1, "y": 2, "new": 0}], "b": "s", "c": 1}) == []
    assert _missing_or_changed(want, {"a": [{"x": 1, "y": 3}], "b": "s"}) == [".a[0].y: 2 -> 3"]
    assert _missing_or_changed(want, {"a": [{"x": 1}], "b": "s"}) == [".a[0].y: missing"]
    assert _missing_or_changed(want, {"a": [], "b": "s"}) != []
