"""The calibration summary on hand-built samples: missing confidences counted, not imputed; NaN says why."""
from __future__ import annotations

import pytest

from evalsuite.records import Generation, Request, Sample
from evalsuite.summaries.base import Group
from evalsuite.summaries.calibration import summarize_calibration


def _answer(doc: str, correct: bool, conf: dict) -> Sample:
    gen = Generation(text="", token_ids=[1], stats={}, finish_reason="stop", backend="hf", model_id="m")
    return Sample(task="t", doc_id=doc, protocol="confidence", round=0, sample_idx=0, key=doc,
                  request=Request(prompt="q"), generation=gen, kind="answer", attempt=0, target="1",
                  extracted="1", correct=correct, confidence=conf)


def test_missing_verbal_confidence_is_counted_and_excluded():
    samples = [_answer("a", True, {"verbal": 0.9}), _answer("b", False, {"verbal": 0.2}),
               _answer("c", False, {"verbal": float("nan")}), _answer("d", True, {"verbal": 0.6})]
    rows = {r.metric: r for r in summarize_calibration(Group("t", "confidence", samples)).rows}
    assert rows["confidence_missing[verbal]"].value == pytest.approx(1 / 4)
    # kept: (0.9, right), (0.2, wrong), (0.6, right); Brier = (0.01 + 0.04 + 0.16) / 3
    assert rows["brier[verbal]"].value == pytest.approx(0.07) and rows["brier[verbal]"].n == 3
    assert rows["conf_auroc[verbal]"].value == 1.0


def test_auroc_with_one_class_is_nan_with_its_reason():
    samples = [_answer("a", False, {"ptrue": 0.7}), _answer("b", False, {"ptrue": 0.4})]
    row = {r.metric: r for r in summarize_calibration(Group("t", "confidence", samples)).rows}["conf_auroc[ptrue]"]
    assert row.value != row.value and "undefined: all 2 answers with this confidence are wrong" in row.note
