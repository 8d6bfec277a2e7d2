"""Typed plot specs: summaries return them, results.json stores them, the report draws them by type; the reader
refuses a malformed entry with one line; and a run written before specs (the golden runs) renders, after
`evalsuite upgrade`, without the live registry."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evalsuite.records import Generation, Request, Sample
from evalsuite.reporting.outputs import _clean
from evalsuite.plot_specs import ConfusionMatrix, FlipMatrix, Reliability, ShapeError, from_dict, to_dict
from evalsuite.reporting.plots import task_figures
from evalsuite.summaries.base import Group
from evalsuite.summaries.calibration import summarize_calibration
from evalsuite.summaries.critique import verdict_matrix
from evalsuite.cli import main
from evalsuite.results import MODEL_FIELDS, Results, SchemaError, TaskResult
from evalsuite.summaries.self_correction import flip_plots

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "data"
BINS = [{"lo": 0.1, "hi": 0.2, "count": 1, "mean_confidence": 0.15, "accuracy": 0.0}]
"""Reliability bins in the shape older summarizers wrote to their extras (reporting/legacy.py translates it)."""


def _answer(doc: str, correct: bool, conf: float) -> Sample:
    gen = Generation(text="", token_ids=[1], stats={}, finish_reason="stop", backend="hf", model_id="m")
    return Sample(task="t", doc_id=doc, protocol="confidence", round=0, sample_idx=0, key=doc,
                  request=Request(prompt="q"), generation=gen, kind="answer", attempt=0, target="1",
                  extracted="1", correct=correct, confidence={"verbal": conf})


def _stored(spec) -> dict:
    """A spec as results.json holds it (NaN written as null)."""
    return json.loads(json.dumps(_clean(to_dict(spec))))


def test_calibration_returns_a_reliability_spec_that_round_trips_and_is_drawn():
    out = summarize_calibration(Group("t", "confidence", [_answer("a", True, 0.95), _answer("b", False, 0.15)]))
    (spec,) = out.plots
    assert isinstance(spec, Reliability) and spec.method == "verbalized"
    assert spec.title == "Reliability: verbalized, attempt 0" and set(spec.bins) == {"equal-width", "equal-mass"}
    # equal-width bins: 0.15 in [0.1, 0.2) with accuracy 0, 0.95 in [0.9, 1.0] with accuracy 1
    assert [(b.lo, b.count, b.accuracy) for b in spec.bins["equal-width"]] == [(0.1, 1, 0.0), (0.9, 1, 1.0)]
    assert from_dict(_stored(spec)) == spec
    figs, notes = task_figures(TaskResult(extras={"x": {"width": BINS}}, plots=[from_dict(_stored(spec))]))
    assert notes == [] and [f.kind for f in figs] == ["reliability"], "stored specs only: extras are not guessed"
    assert figs[0].caption.endswith("Source: plots[0].")


def test_flip_and_confusion_specs_from_the_summaries_extras():
    flips = [{"from": 0, "to": 1, "right→right": 5, "right→wrong": 1, "wrong→right": 3, "wrong→wrong": 2},
             {"from": 1, "to": 2, "right→right": 6, "right→wrong": 2, "wrong→right": 1, "wrong→wrong": 2}]
    first = [dict(flips[0]), {"from": 0, "to": 2, "right→right": 5, "right→wrong": 1, "wrong→right": 3,
                              "wrong→wrong": 2}]
    consecutive, from_first = flip_plots({"flips": flips, "flips_from_first": first})
    assert isinstance(consecutive, FlipMatrix) and consecutive.title == "Flips between consecutive attempts"
    assert [p.counts for p in consecutive.panels] == [[[5, 1], [3, 2]], [[6, 2], [1, 2]]]
    assert [(p.from_round, p.to_round) for p in from_first.panels] == [(0, 2)], "0→1 is already drawn"
    ex = {"confusion": {"exclude": {"tp": 7, "fp": 2, "fn": 1, "tn": 9}},
          "unparsed": {"response_correct": 4, "response_wrong": 0}}
    m = verdict_matrix(ex, "Critique verdicts, answer 0 judged")
    assert isinstance(m, ConfusionMatrix) and m.counts == [[9, 2, 4], [1, 7, 0]]
    figs, _ = task_figures(TaskResult(plots=[from_dict(_stored(s)) for s in (consecutive, from_first, m)]))
    assert [f.kind for f in figs] == ["flip_matrix", "flip_matrix", "confusion"]


def test_malformed_entries_are_refused_on_read_with_where_they_are():
    bad = {"plot": "roc", "detectors": {"ppl": {"fpr": [0, 1], "tpr": [0]}}}
    with pytest.raises(SchemaError, match=r"^tasks\.t\.plots\[0\]: detector 'ppl': fpr and tpr need the same length"):
        Results.from_dict({"schema_version": 2, "model": dict.fromkeys(MODEL_FIELDS), "config": {},
                           "tasks": {"t": {"metrics": [], "plots": [bad]}}})
    with pytest.raises(ShapeError):
        from_dict({"plot": "pie"})
    rel = from_dict({"plot": "reliability", "method": "v", "bins": [{"lo": 0, "hi": 1, "count": 0,
                                                                      "confidence": None, "accuracy": None}]})
    assert math.isnan(rel.bins[""][0].accuracy)


@pytest.mark.parametrize("name, kind", [("review", "flip_matrix"), ("confidence", "reliability"),
                                        ("best_of_n", "accuracy_vs_n"), ("critique", "confusion")])
def test_a_run_written_before_typed_plots_renders_without_the_live_registry(name, kind, tmp_path):
    golden = json.loads((GOLDEN / f"{name}.json").read_text())
    run = tmp_path / "old-run"
    run.mkdir()
    model = {"spec": "hf:tiny", "backend": "hf", "model_id": "tiny", "revision": None}  # dropped as volatile
    results = {**golden["results"], "model": model}
    (run / "results.json").write_text(json.dumps(results))
    (run / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in golden["samples"]))
    assert main(["upgrade", str(run)]) == 0
    script = textwrap.dedent(f"""
        import sys
        import evalsuite.registry as registry
        def refuse():
            raise AssertionError("the report asked the live registry")
        registry.load_plugins = refuse
        from evalsuite.reporting.html import write_report
        html = write_report({str(run)!r}).read_text()
        plugins = sorted(m for m in sys.modules if m.startswith(("evalsuite.protocols.", "evalsuite.backends."))
                         and not m.endswith((".base", ".options")))
        import re
        print(",".join(sorted(set(re.findall(r'data-plot="([a-z_]+)"', html)))), plugins)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    kinds, plugins = out.stdout.split(" ", 1)
    assert kind in kinds.split(",") and plugins.strip() == "[]"
