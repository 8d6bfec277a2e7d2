"""`evalsuite upgrade RUN_DIR`: an old results.json (no schema_version) becomes schema 2 in place with a
results.json.v1 backup and every recorded value unchanged; every other reader refuses the old file with one line
that names the command."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalsuite.plot_specs import ConfusionMatrix, FlipMatrix
from evalsuite.rundir import load_run

FLIP = {"from": 0, "to": 1, "right→right": 5, "right→wrong": 1, "wrong→right": 3, "wrong→wrong": 2}
OLD = {
    "model": {"spec": "hf:old", "backend": "hf", "model_id": "old", "revision": None},
    "versions": {"evalsuite": "0.0.1"}, "created": "2025-06-01T00:00:00+00:00",
    "config": {"tasks": ["correctbench"], "temperature": 0.0},
    "tasks": {"correctbench_gsm8k": {
        "source": "local", "n_docs": 11, "protocol": "review", "primary_convention": "flexible",
        # a row as the oldest writers left it: the `name[variant, K=V]` text only, no label, protocol or round
        "metrics": [{"task": "correctbench_gsm8k", "metric": "accuracy", "value": 0.7272, "ci_low": 0.45,
                     "ci_high": 1.0, "n": 11, "direction": "higher"},
                    {"task": "correctbench_gsm8k", "metric": "bon_accuracy[majority, N=4]", "round": 0,
                     "value": None, "ci_low": None, "ci_high": None, "n": 11, "direction": "higher"}],
        "extras": {"self_correction": {"flips": [FLIP], "flips_from_first": [FLIP]}}}},
    "groups": {"correctbench": {
        "metrics": [{"task": "correctbench", "metric": "accuracy", "round": 1, "subset": "pooled", "value": 0.5,
                     "ci_low": 0.2, "ci_high": 0.8, "n": 11, "direction": "higher", "label": "Accuracy · pooled"}],
        "extras": {"review": {"subsets": ["correctbench_gsm8k"], "pooled": {"flips": [FLIP], "flips_from_first": [FLIP]},
                              "critique": {"subsets": ["correctbench_gsm8k"], "pooled": {
                                  "confusion": {"exclude": {"tp": 7, "fp": 2, "fn": 1, "tn": 9}},
                                  "unparsed": {"response_correct": 4, "response_wrong": 0}}}}}}},
}


@pytest.fixture
def old_run(tmp_path) -> Path:
    run = tmp_path / "old"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(OLD))
    return run


def test_other_readers_refuse_an_old_file_naming_the_fix(cli, old_run, tmp_path):
    for args in (["report", str(old_run)], ["leaderboard", str(old_run), "--out", str(tmp_path / "lb")]):
        cli(*args).one_line(2, "written before results schema 2", f"evalsuite upgrade {old_run}")


def test_upgrade_rewrites_in_place_with_a_backup_and_the_same_values(cli, old_run):
    before = (old_run / "results.json").read_bytes()
    res = cli("upgrade", str(old_run))
    assert res.returncode == 0 and "results.json.v1" in res.stdout, res.stderr
    assert (old_run / "results.json.v1").read_bytes() == before
    r = load_run(old_run).results
    assert r.schema_version == 2 and r.model["model_id"] == "old" and r.created == "2025-06-01T00:00:00+00:00"
    t = r.tasks["correctbench_gsm8k"]
    acc, bon = t.metrics
    assert (acc.value, acc.ci_low, acc.ci_high, acc.n, acc.round, acc.label) == (0.7272, 0.45, 1.0, 11, 0, "accuracy")
    assert (bon.metric.name, bon.metric.variant, bon.metric.params) == ("bon_accuracy", "majority", (("N", 4),))
    assert bon.value != bon.value, "null stays undefined"
    assert t.n_docs == 11 and t.extras == OLD["tasks"]["correctbench_gsm8k"]["extras"]
    (flips,) = t.plots  # 0→1 is both the consecutive and the from-first flip: drawn once
    assert isinstance(flips, FlipMatrix) and flips.panels[0].counts == [[5, 1], [3, 2]]
    assert r.glossary["metrics"]["accuracy"]["plot"] == "rounds", "a missing glossary is built from the metrics"
    g = r.groups["correctbench"]
    assert g.aggregate == ["self_correction", "critique"] and g.tasks == ["correctbench_gsm8k"]
    assert g.extras["critique"]["review"]["pooled"]["confusion"]["exclude"]["tp"] == 7
    assert g.extras["self_correction"]["review"]["pooled"]["flips"] == [FLIP]
    assert [type(p) for p in g.plots] == [FlipMatrix, ConfusionMatrix]
    assert g.plots[1].counts == [[9, 2, 4], [1, 7, 0]] and g.plots[1].protocol == "review"
    assert cli("report", str(old_run)).returncode == 0


def test_a_second_upgrade_does_nothing(cli, old_run):
    assert cli("upgrade", str(old_run)).returncode == 0
    after = (old_run / "results.json").read_bytes()
    res = cli("upgrade", str(old_run))
    assert res.returncode == 0 and "nothing to do" in res.stdout
    assert (old_run / "results.json").read_bytes() == after


def test_what_cannot_be_upgraded_is_one_line(cli, old_run, tmp_path):
    cli("upgrade", str(tmp_path / "nowhere")).one_line(2, "has no results.json")
    (old_run / "results.json.v1").write_text("{}")
    cli("upgrade", str(old_run)).one_line(2, "results.json.v1 exists and differs", "move it aside")
    (old_run / "results.json.v1").unlink()
    (old_run / "results.json").write_text(json.dumps({**OLD, "tasks": {"t": {"metrics": [{"value": 1}]}}}))
    cli("upgrade", str(old_run)).one_line(2, "tasks.t.metrics[0] is not a metric row")
    (old_run / "results.json").write_text(json.dumps({**OLD, "tasks": {"t": {"n_docs": "11"}}}))
    cli("upgrade", str(old_run)).one_line(2, "cannot be upgraded: tasks.t.n_docs is a string")
    (old_run / "results.json").write_text(json.dumps({"schema_version": 7}))
    cli("upgrade", str(old_run)).one_line(2, "schema_version 7")
    (old_run / "results.json").write_text("[")
    cli("upgrade", str(old_run)).one_line(2, "is not JSON text")
    assert not (old_run / "results.json.v1").exists()
