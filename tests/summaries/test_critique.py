"""The critique summary on hand-built samples: labels from the judged answer, per-domain rows, G/Q/C, self-check."""
from __future__ import annotations

import pytest

from evalsuite.records import Generation, Request, Sample
from evalsuite.summaries.base import Group
from evalsuite.summaries.critique import judgements, summarize_critique


def _sample(doc, rnd, kind, text, *, idx=0, attempt=None, correct=None, extracted=None, info=None, target="t"):
    gen = Generation(text=text, token_ids=[1], stats={}, finish_reason="stop", backend="hf", model_id="m")
    return Sample(task="t", doc_id=doc, protocol="p", round=rnd, sample_idx=idx, key=f"{doc}-{rnd}-{idx}",
                  request=Request(prompt="q", kind=kind), generation=gen, kind=kind, attempt=attempt, target=target,
                  extracted=extracted, correct=correct, info=info or {})


def _given(doc, label, verdict, domain, cluster):
    info = {"critique_label": label, "verdict": verdict, "domain": domain, "source": domain, "cluster": cluster}
    return _sample(doc, 0, "answer", "", attempt=0, correct=verdict == label, info=info, target=label)


def _rows(summary):
    return {(r.subset, r.round, r.metric): r for r in summary.rows}


def test_given_responses_per_domain_and_overall():
    samples = [_given("a", "correct", "correct", "math", "q1"), _given("b", "incorrect", "correct", "math", "q1"),
               _given("c", "incorrect", "incorrect", "math", "q2"), _given("d", "incorrect", None, "code", "q3"),
               _given("e", "correct", "incorrect", "code", "q4")]
    out = summarize_critique(Group("t", "critique", samples, subset="mix"))
    rows = _rows(out)
    # overall: a TN, b FN, c TP, d unparsed wrong response -> FN, e FP
    assert out.extras["by_attempt"]["0"]["confusion"]["lin"] == {"tp": 1, "fp": 1, "fn": 2, "tn": 1}
    assert rows[("mix", 0, "critique_accuracy")].value == pytest.approx(2 / 5)
    assert rows[("mix", 0, "critique_f1")].value == pytest.approx(2 / 5)
    assert rows[("mix", 0, "critique_accuracy[parsed]")].value == pytest.approx(2 / 4)
    assert rows[("mix", 0, "verdict_parse_rate")].value == pytest.approx(4 / 5)
    # math: a TN, b FN, c TP -> F1 = 2/3; code: d FN, e FP -> F1 = 0
    assert rows[("math", 0, "critique_f1")].value == pytest.approx(2 / 3)
    assert rows[("code", 0, "critique_f1")].value == 0.0
    assert out.extras["by_domain"]["code"]["n"] == 2
    r = rows[("mix", 0, "critique_accuracy")]
    assert r.ci_low <= r.value <= r.ci_high and r.n == 5


def test_critique_turns_take_the_label_of_the_answer_they_judge():
    samples = [
        _sample("x", 0, "answer", "#### 5", attempt=0, correct=True, extracted="5"),
        _sample("x", 1, "critique", "Fine.\nVerdict: correct"),
        _sample("x", 2, "answer", "#### 6", attempt=1, correct=False, extracted="6"),
        _sample("y", 0, "answer", "#### 2", attempt=0, correct=False, extracted="2"),
        _sample("y", 1, "critique", "Verdict: correct"),
        _sample("y", 2, "answer", "#### 3", attempt=1, correct=True, extracted="3"),
    ]
    js = judgements(samples)
    assert [(j.doc_id, j.attempt, j.response_ok, j.verdict, j.given) for j in js] == [
        ("x", 0, True, "correct", False), ("y", 0, False, "correct", False)]
    rows = _rows(summarize_critique(Group("t", "critique_correct", samples)))
    assert rows[("", 0, "critique_accuracy")].value == pytest.approx(1 / 2)
    assert rows[("", 0, "critique_recall")].value == 0.0
    assert rows[("", 0, "generation_accuracy")].value == pytest.approx(1 / 2)
    assert rows[("", 1, "correction_accuracy")].value == pytest.approx(1 / 2)


def test_self_check_against_self_consistency():
    # doc "p": answers 4, 7, 7 (4 right), vote margin 1; the model calls both 7s wrong, so with C = 2 they are
    # dropped and the vote turns to 4. doc "q": answers 9, 8, 8 (9 right), margin 1; one 8 is called wrong, the
    # other has no verdict and stays, so the vote is a 9-8 tie that goes to the first seen, 9.
    plan = {"p": [("4", True, "Verdict: correct"), ("7", False, "Verdict: incorrect"),
                  ("7", False, "Verdict: incorrect")],
            "q": [("9", True, "Verdict: correct"), ("8", False, "Verdict: incorrect"), ("8", False, "Not sure.")]}
    samples = []
    for doc, items in plan.items():
        for i, (ans, ok, critique) in enumerate(items):
            samples.append(_sample(doc, 0, "answer", f"#### {ans}", idx=i, attempt=0, correct=ok, extracted=ans))
            samples.append(_sample(doc, 1, "critique", critique, idx=i))
    strict = summarize_critique(Group("t", "self_critique", samples, options={"selfcheck_threshold": 2}))
    rows = _rows(strict)
    assert rows[("", 0, "self_consistency_accuracy")].value == 0.0
    assert rows[("", 0, "self_check_accuracy")].value == 1.0
    assert strict.extras["self_check"]["low_certainty"] == 2 and strict.extras["self_check"]["answer_changed"] == 2
    loose = _rows(summarize_critique(Group("t", "self_critique", samples, options={"selfcheck_threshold": 1})))
    assert loose[("", 0, "self_check_accuracy")].value == 0.0
    # critique accuracy (Lin): every verdict matches except q's unparsed one on a wrong answer
    assert rows[("", 0, "critique_accuracy")].value == pytest.approx(5 / 6)
    assert rows[("", 0, "verdict_parse_rate")].value == pytest.approx(5 / 6)
    assert strict.extras["self_check"]["critique_accuracy_by_margin"] == {"1": {"n": 6,
                                                                              "critique_accuracy": 5 / 6}}


def test_undefined_ratios_carry_their_reason():
    # two wrong responses, neither verdict parsed: nothing flagged wrong, nothing parsed
    samples = [_given("a", "incorrect", None, "math", "q1"), _given("b", "incorrect", None, "math", "q2")]
    rows = _rows(summarize_critique(Group("t", "critique", samples)))
    assert rows[("", 0, "critique_recall")].value == 0.0 and rows[("", 0, "critique_recall")].note == ""
    assert rows[("", 0, "critique_precision")].note == "undefined: no response judged wrong"
    assert rows[("", 0, "critique_accuracy[parsed]")].note == "undefined: no verdict parsed"
