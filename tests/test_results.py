"""The results schema (evalsuite/results.py): the typed classes write what they read, the reader checks every field
against its annotation and says where a value is wrong, and a file without the current schema_version is refused."""
from __future__ import annotations

import json
import math

import pytest

from evalsuite.metrics.base import MetricName
from evalsuite.plot_specs import FlipMatrix, FlipPanel
from evalsuite.results import (MODEL_FIELDS, SCHEMA_VERSION, GroupResult, MetricRow, Results, SchemaError,
                               TaskResult)

ROW = MetricRow("t", "", "review", 1, MetricName.of("bon_accuracy", "majority", N=4), 0.5, 0.25, 0.75, 8, "higher",
                "Best-of-N accuracy (majority, N=4)")


def _results() -> Results:
    flips = FlipMatrix([FlipPanel(0, 1, [[3.0, 1.0], [2.0, 2.0]])], "Flips", protocol="review")
    return Results(model=dict.fromkeys(MODEL_FIELDS, "x"), config={"temperature": 0.0}, versions={"python": "3"},
                   created="now", tasks={"t": TaskResult(source="local", n_docs=8, protocol="review", metrics=[ROW],
                                                         extras={"self_correction": {"k": 1}}, plots=[flips])},
                   groups={"g": GroupResult(["t"], ["self_correction"], [ROW], {"self_correction": {"review": {}}},
                                            [flips])})


def _payload(**over) -> dict:
    return {**json.loads(json.dumps(_results().to_dict())), **over}


def test_what_is_written_reads_back_equal():
    d = json.loads(json.dumps(_results().to_dict()))
    assert d["schema_version"] == SCHEMA_VERSION == 2
    row = d["tasks"]["t"]["metrics"][0]
    assert (row["metric"], row["name"], row["variant"], row["params"]) == \
        ("bon_accuracy[majority, N=4]", "bon_accuracy", "majority", {"N": 4})
    assert d["tasks"]["t"]["plots"][0]["plot"] == "flip_matrix"
    assert "lm_eval_task" not in d["tasks"]["t"], "a run's task leaves the rescore facts out"
    assert Results.from_dict(d) == _results()


def test_null_reads_as_nan_and_unknown_keys_are_ignored():
    d = _payload()
    d["tasks"]["t"]["metrics"][0].update(value=None, from_a_newer_writer=1)
    got = Results.from_dict(d).tasks["t"].metrics[0]
    assert math.isnan(got.value) and got.ci_low == 0.25 and got.n == 8


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("schema_version"), "it has no schema_version (written before results schema 2)"),
    (lambda d: d.update(schema_version=3), "schema_version is 3; this evalsuite reads 2"),
    (lambda d: d["tasks"]["t"].update(n_docs="8"), "tasks.t.n_docs is a string, expected a number or null"),
    (lambda d: d["tasks"]["t"].update(oracle=1), "tasks.t.oracle is a number, expected true/false"),
    (lambda d: d["tasks"]["t"]["metrics"][0].update(n=True), "tasks.t.metrics[0].n is true/false, expected a number"),
    (lambda d: d["tasks"]["t"]["metrics"][0].pop("label"), "tasks.t.metrics[0] lacks 'label'"),
    (lambda d: d["tasks"]["t"]["metrics"][0].update(params={"K": 1}), "tasks.t.metrics[0]: metric name"),
    (lambda d: d["groups"]["g"].update(aggregate="self_correction"), "groups.g.aggregate is a string, expected a list"),
    (lambda d: d["groups"]["g"]["plots"][0].update(panels=[]), "groups.g.plots[0]"),
])
def test_a_field_of_the_wrong_shape_is_named(edit, message):
    d = _payload()
    edit(d)
    with pytest.raises(SchemaError) as e:
        Results.from_dict(d)
    assert str(e.value).startswith(message), str(e.value)


def test_header_is_the_run_info_and_sections_put_tasks_over_groups():
    r = _results()
    assert list(r.header()) == ["model", "versions", "created"]
    r.groups["t"] = GroupResult()
    assert r.sections()["t"] is r.tasks["t"] and r.sections()["g"] is r.groups["g"]
