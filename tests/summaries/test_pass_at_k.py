"""The pass@k summary: official skip rule, several samples per doc, rounds carried forward."""
from __future__ import annotations

import math

import pytest

from evalsuite.records import Generation, Request, Sample
from evalsuite.summaries.base import Group
from evalsuite.summaries.pass_at_k import doc_counts, summarize_pass_at_k

GEN = Generation(text="", token_ids=[], stats={}, finish_reason="stop", backend="hf", model_id="m")


def _s(doc: str, idx: int, correct: bool, attempt: int = 0, skipped: bool | None = None) -> Sample:
    info = {"exec": {"status": "passed" if correct else "failed"}}
    if skipped is not None:
        info["skipped"] = skipped
    return Sample(task="t", doc_id=doc, protocol="direct", round=attempt, sample_idx=idx, key=f"{doc}{idx}{attempt}",
                  request=Request(), generation=GEN, kind="answer", attempt=attempt, target="", correct=correct,
                  info=info)


def _rows(samples, protocol="direct"):
    out = summarize_pass_at_k(Group("t", protocol, samples))
    return {(r.metric, r.round): r for r in out.rows}, out.extras


def test_skipped_generations_leave_n_unless_nothing_passes():
    # doc a: skipped, pass, fail -> n=2, c=1; doc b: skipped, skipped, fail -> no pass, so n=3, c=0
    a = [_s("a", 0, False, skipped=True), _s("a", 1, True, skipped=False), _s("a", 2, False, skipped=False)]
    b = [_s("b", 0, False, skipped=True), _s("b", 1, False, skipped=True), _s("b", 2, False, skipped=False)]
    assert doc_counts(a) == (2, 1) and doc_counts(b) == (3, 0)
    rows, extras = _rows(a + b)
    assert rows[("pass@1", 0)].value == pytest.approx((0.5 + 0.0) / 2)
    assert rows[("pass@1", 0)].n == 2
    assert rows[("exec_skipped", 0)].value == 3
    assert ("pass@5", 0) not in rows  # 3 samples per doc < 5
    assert extras["per_round"][0]["skipped"] == 3


def test_pass_at_5_from_ten_samples():
    samples = [_s("a", i, i < 2) for i in range(10)] + [_s("b", i, False) for i in range(10)]
    rows, _ = _rows(samples)
    assert rows[("pass@1", 0)].value == pytest.approx((0.2 + 0) / 2)
    assert rows[("pass@5", 0)].value == pytest.approx((7 / 9 + 0) / 2)
    assert ("exec_skipped", 0) not in rows  # HumanEval-style samples carry no skip flag


def test_pass_at_5_below_five_counted_samples_is_not_reported():
    # doc a: 5 samples, 2 skipped, 1 pass -> n=3 < 5 after the skip rule; doc b: 5 samples, nothing passes -> n=5
    a = [_s("a", i, i == 2, skipped=i < 2) for i in range(5)]
    b = [_s("b", i, False, skipped=False) for i in range(5)]
    assert doc_counts(a) == (3, 1) and doc_counts(b) == (5, 0)
    rows, extras = _rows(a + b)
    five = rows[("pass@5", 0)]
    assert math.isnan(five.value) and math.isnan(five.ci_low) and math.isnan(five.ci_high)
    assert five.note == "not reported: n < k (1 of 2 docs have fewer than 5 counted samples)"
    assert rows[("pass@1", 0)].value == pytest.approx((1 / 3 + 0) / 2)
    assert math.isnan(extras["per_round"][0]["pass@5"])


def test_unequal_sample_counts_leave_pass_at_5_unreported():
    samples = [_s("a", i, True) for i in range(5)] + [_s("b", i, True) for i in range(2)]
    rows, _ = _rows(samples)
    assert math.isnan(rows[("pass@5", 0)].value) and "n < k" in rows[("pass@5", 0)].note
    assert rows[("pass@1", 0)].value == pytest.approx(1.0)


def test_chains_that_stopped_keep_their_last_answer():
    # chain a passes at round 0 and stops; chain b fails, then passes at round 1; chain c fails twice
    samples = [_s("a", 0, True, 0), _s("b", 0, False, 0), _s("b", 0, True, 1), _s("c", 0, False, 0),
               _s("c", 0, False, 1), _s("c", 0, False, 2)]
    rows, extras = _rows(samples)
    assert [rows[("pass@1", r)].value for r in range(3)] == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    assert rows[("pass@1", 1)].note.startswith("1 chains carried")
    assert [e["carried"] for e in extras["per_round"]] == [0, 1, 2]


def test_not_applicable_without_execution():
    s = _s("a", 0, True)
    plain = Sample(**{**s.__dict__, "info": {}})
    assert summarize_pass_at_k(Group("t", "direct", [plain])) is None
