"""Self-correction summary and group results on hand-built samples: carry-forward, notes, flips, pooled vs mean."""
from __future__ import annotations

import math

import numpy as np
import pytest

from evalsuite.records import Generation, Request, Sample
from evalsuite.summaries.base import Group
from evalsuite.summaries.groups import summarize_groups
from evalsuite.summaries.self_correction import build_chains, resampled_flips, summarize_self_correction

GEN = Generation(text="", token_ids=[], stats={}, finish_reason="stop", backend="hf", model_id="m")


def answer(doc: str, attempt: int, correct: bool, task: str = "t", protocol: str = "review", idx: int = 0,
           oracle: bool = False, rnd: int | None = None) -> Sample:
    return Sample(task=task, doc_id=doc, protocol=protocol, round=2 * attempt if rnd is None else rnd,
                  sample_idx=idx, key=f"{task}{doc}{attempt}{idx}", request=Request(), generation=GEN,
                  kind="answer", attempt=attempt, target="1", correct=correct,
                  info={"oracle": True} if oracle else {})


def feedback(doc: str, rnd: int, task: str = "t", protocol: str = "review") -> Sample:
    return Sample(task=task, doc_id=doc, protocol=protocol, round=rnd, sample_idx=0, key=f"{task}{doc}f{rnd}",
                  request=Request(kind="feedback"), generation=GEN, kind="feedback", attempt=None, target="1")


def rows_by(summary, rnd):
    return {r.metric: r for r in summary.rows if r.round == rnd}


def test_carry_forward_of_stopped_chains():
    # doc a stops right after round 0 (correct), doc b goes on: wrong, right.
    samples = [answer("a", 0, True), answer("b", 0, False), feedback("b", 1), answer("b", 1, False),
               answer("b", 2, True)]
    ch = build_chains(samples)
    assert ch.correct.tolist() == [[True, True, True], [False, False, True]]
    assert ch.answered.tolist() == [[True, False, False], [True, True, True]]
    summary = summarize_self_correction(Group("t", "self_refine", samples))
    r1, r2 = rows_by(summary, 1), rows_by(summary, 2)
    assert r1["accuracy_carried"].value == 0.5 and r2["accuracy_carried"].value == 1.0
    assert "carried forward for 1 of 2 chains" in r1["accuracy_carried"].note
    assert "carried forward" in r2["delta"].note
    assert r2["delta"].value == 0.5 and r2["delta_i2c"].value == 0.5 and r2["delta_c2i"].value == 0.0
    assert r2["cl"].value == 1.0 and r2["cs"].value == 1.0
    assert math.isnan(r1["cs"].value) is False and r1["cs"].value == 0.0
    ex = summary.extras
    assert ex["flips"][1] == {"from": 1, "to": 2, "right→right": 1, "right→wrong": 0, "wrong→right": 1,
                              "wrong→wrong": 0}
    assert ex["carried_forward"] == [0, 1, 1]


def test_rounds_hint_pads_chains_that_all_stopped():
    samples = [answer("a", 0, True), answer("b", 0, False)]
    assert summarize_self_correction(Group("t", "direct", samples)) is None
    summary = summarize_self_correction(Group("t", "self_refine", samples, rounds=2))
    r2 = rows_by(summary, 2)
    assert r2["accuracy_carried"].value == 0.5 and r2["delta"].value == 0.0 and r2["cl"].value == 1.0


def test_rows_have_cis_that_cover_the_value_and_an_rss_reason():
    rng = np.random.default_rng(0)
    samples = []
    for d in range(30):
        first = bool(rng.random() < 0.5)
        samples += [answer(str(d), 0, first), answer(str(d), 1, first if rng.random() < 0.8 else not first)]
    summary = summarize_self_correction(Group("t", "review", samples, seed=1))
    for r in summary.rows:
        assert r.ci_low <= r.value + 1e-12 and r.value <= r.ci_high + 1e-12, r
    allright = [answer(str(d), 0, True) for d in range(3)] + [answer(str(d), 1, d != 0) for d in range(3)]
    rss = rows_by(summarize_self_correction(Group("t", "review", allright)), 1)["rss"]
    assert math.isnan(rss.value) and "round-0 accuracy is 1" in rss.note


def test_oracle_rows_are_marked():
    samples = [answer("a", 0, False, oracle=True), answer("a", 1, True, oracle=True)]
    summary = summarize_self_correction(Group("t", "oracle", samples))
    assert all(r.note.startswith("oracle") for r in summary.rows)
    assert summary.extras["oracle"] is True


def test_two_answers_in_one_engine_round_are_not_rounds():
    samples = [answer("a", 0, True, rnd=0), answer("a", 1, False, rnd=0)]
    assert build_chains(samples) is None


def test_bootstrap_resamples_docs_with_all_their_samples():
    docs = np.array(["a", "a", "b", "b"])
    before = np.array([1, 1, 0, 0], bool)
    after = np.array([1, 1, 1, 1], bool)
    f = resampled_flips(docs, before, after, 200, np.random.default_rng(0))
    # every resample holds 2 docs of 2 samples each, and a doc's two chains always move together
    assert set(np.unique(f.rr)) <= {0, 2, 4} and np.all(f.rr + f.wr == 4)


def test_group_mean_over_subsets_and_pooled_hand_worked():
    # subset x: 2 docs, round 0 [1, 0] -> round 1 [1, 1]; subset y: 4 docs, [1, 1, 0, 0] -> [1, 0, 0, 0].
    samples = []
    for task, before, after in (("correctbench_gsm8k", [1, 0], [1, 1]),
                                ("correctbench_csqa", [1, 1, 0, 0], [1, 0, 0, 0])):
        for i, (b, a) in enumerate(zip(before, after)):
            samples += [answer(str(i), 0, bool(b), task=task), answer(str(i), 1, bool(a), task=task)]
    rows, extras = summarize_groups("correctbench", samples, seed=0)
    got = {(r.subset, r.round, r.metric): r for r in rows}
    # accuracy at round 1: x 1.0, y 0.25 -> mean 0.625; pooled 3/6
    assert got[("mean over subsets", 1, "accuracy")].value == pytest.approx(0.625)
    assert got[("pooled", 1, "accuracy")].value == pytest.approx(0.5)
    assert got[("pooled", 0, "accuracy")].value == pytest.approx(0.5)
    # Δ: x +0.5, y -0.25 -> mean 0.125; pooled (1 - 1) / 6 = 0
    assert got[("mean over subsets", 1, "delta")].value == pytest.approx(0.125)
    assert got[("pooled", 1, "delta")].value == pytest.approx(0.0)
    # CL: x 1/1, y 1/2 -> mean 0.75; pooled 2/3.  CS: x 1/1, y 0/2 -> mean 0.5; pooled 1/3
    assert got[("mean over subsets", 1, "cl")].value == pytest.approx(0.75)
    assert got[("pooled", 1, "cl")].value == pytest.approx(2 / 3)
    assert got[("pooled", 1, "cs")].value == pytest.approx(1 / 3)
    assert got[("mean over subsets", 1, "cs")].value == pytest.approx(0.5)
    assert got[("pooled", 1, "cl")].label.endswith("· pooled")
    assert got[("mean over subsets", 1, "cl")].label.endswith("· subset mean")
    assert all(r.task == "correctbench" for r in rows)
    group = extras["correctbench"]
    assert group.aggregate == ["self_correction"] and group.tasks == ["correctbench_gsm8k", "correctbench_csqa"]
    assert group.extras["self_correction"]["review"]["pooled"]["flips"][0]["right→wrong"] == 1
    assert [(type(p).__name__, p.protocol) for p in group.plots] == [("FlipMatrix", "review")]
    assert summarize_groups("gsm8k", samples)[0] == []


def test_group_mean_skips_undefined_subsets_and_says_so():
    samples = []
    for task, before, after in (("correctbench_gsm8k", [1, 0], [1, 1]), ("correctbench_csqa", [0, 0], [0, 1])):
        for i, (b, a) in enumerate(zip(before, after)):
            samples += [answer(str(i), 0, bool(b), task=task), answer(str(i), 1, bool(a), task=task)]
    rows, _ = summarize_groups(["correctbench"], samples)
    rss = next(r for r in rows if r.metric == "rss" and r.subset == "mean over subsets")
    # x: (1 - 0.25) / (2 * 0.5 * 0.5) = 1.5; y undefined (Acc1 = 0)
    assert rss.value == pytest.approx(1.5)
    assert "1 of 2 subsets" in rss.note and "undefined in correctbench_csqa" in rss.note


def test_samples_of_a_doc_are_separate_chains_pooled_in_cl():
    # doc a: sample 0 right -> right, sample 1 right -> wrong; doc b: one sample wrong -> right
    samples = [answer("a", 0, True, idx=0), answer("a", 1, True, idx=0), answer("a", 0, True, idx=1),
               answer("a", 1, False, idx=1), answer("b", 0, False), answer("b", 1, True)]
    ch = build_chains(samples)
    assert ch.docs.tolist() == ["a", "a", "b"]
    r1 = rows_by(summarize_self_correction(Group("t", "review", samples)), 1)
    assert r1["cl"].value == 0.5 and r1["cs"].value == 1.0 and r1["cl"].n == 2 and r1["cs"].n == 1


def test_cl_and_cs_count_the_chains_they_are_conditioned_on():
    """5 docs: right at attempt 0 for docs 0-1 (one stays right), wrong for docs 2-4 (one becomes right).
    CL = 1/2 over the 2 first-right chains, CS = 1/3 over the 3 first-wrong; accuracy is over all 5."""
    first = [True, True, False, False, False]
    second = [True, False, True, False, False]
    samples = [answer(str(d), 0, c) for d, c in enumerate(first)] + [answer(str(d), 1, c)
                                                                     for d, c in enumerate(second)]
    rows = rows_by(summarize_self_correction(Group("t", "review", samples)), 1)
    assert (rows["cl"].value, rows["cl"].n) == (0.5, 2)
    assert (rows["cs"].value, rows["cs"].n) == (pytest.approx(1 / 3), 3)
    assert rows["delta"].n == 5
