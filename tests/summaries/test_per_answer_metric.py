"""A metric registered once, from a module of its own, appears in results.csv without touching a summarizer."""
from __future__ import annotations

import csv
import importlib.util
import json
import textwrap

import pytest

from evalsuite import evaluate
from evalsuite.registry import METRICS

PLUGIN = '''
from evalsuite.metrics.base import metric

output_chars = metric("output_chars", higher_is_better=None, label="Output characters (mean)", aggregate="mean",
                      reads=lambda s: None if s.correct is None else float(len(s.generation.text)),
                      definition="Mean length of the answer text in characters.", source="test plugin")
'''


@pytest.fixture
def plugin_metric(tmp_path):
    path = tmp_path / "my_metric.py"
    path.write_text(textwrap.dedent(PLUGIN))
    spec = importlib.util.spec_from_file_location("my_metric", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    yield METRICS["output_chars"]
    METRICS.pop("output_chars", None)


def test_a_registered_per_answer_metric_reaches_results_csv(plugin_metric, tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    evaluate(tasks="gsm8k", model=f"hf:{tiny_model_dir}", limit=3, output_dir=out, max_tokens=6, progress=False,
             log=lambda m: None)
    lengths = [len(json.loads(line)["output"]) for line in (out / "samples.jsonl").read_text().splitlines()]
    rows = [r for r in csv.DictReader(open(out / "results.csv")) if r["metric"] == "output_chars"]
    assert len(rows) == 1 and rows[0]["attempt"] == "0" and rows[0]["n"] == "3"
    assert float(rows[0]["value"]) == pytest.approx(sum(lengths) / 3)
    assert rows[0]["label"] == "Output characters (mean)" and rows[0]["direction"] == "none"
    payload = json.loads((out / "results.json").read_text())
    row = next(m for m in payload["tasks"]["gsm8k"]["metrics"] if m["metric"] == "output_chars")
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
