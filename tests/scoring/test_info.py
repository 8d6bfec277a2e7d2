"""Typed Score.info facts: each writes exactly the keys samples.jsonl has always had and reads them back."""
from __future__ import annotations

from evalsuite.score_info import ExecReport, Overlap, Skip, SubsetLabel, Verdict
from evalsuite.scoring.verdict import VerdictScorer
from evalsuite.tasks.hotpotqa.utils import HotpotQAScorer


def test_each_fact_round_trips_through_its_info_keys():
    facts = [ExecReport("failed", "ZeroDivisionError", "x = 1 / 0", "ZeroDivisionError\n  at x = 1 / 0", 0.0123),
             Verdict("incorrect", "correct", "math", "gsm8k", "q7"), Overlap("answer_is", 0.5, 1.0, 1 / 3),
             SubsetLabel("kk"), Skip(True, "calls the function"), Skip(False)]
    for fact in facts:
        assert type(fact).from_info({"other": 1, **fact.to_info()}) == fact
        assert type(fact).from_info({"other": 1}) is None
    assert ExecReport.from_info(facts[0].to_info()).passed is False
    assert Verdict.from_info(facts[1].to_info()).response_ok is False
    assert Skip(False).to_info() == {"skipped": False}


def test_the_verdict_scorer_writes_the_layout_readers_expect():
    sc = VerdictScorer().score("Verdict: incorrect", "incorrect", {"domain": "math", "source": "s", "question_id": 3})
    assert sc.info == {"critique_label": "incorrect", "verdict": "incorrect", "domain": "math", "source": "s",
                       "cluster": "3"}
    assert Verdict.from_info(sc.info) == Verdict("incorrect", "incorrect", "math", "s", "3")


def test_hotpotqa_f1_is_read_as_an_overlap():
    # gold "Paris France" vs answer "Paris": precision 1/1, recall 1/2, F1 = 2 * 1 * 0.5 / 1.5 = 2/3
    info = HotpotQAScorer().score("The answer is Paris", "Paris France").info
    got = Overlap.from_info(info)
    assert got is not None and abs(got.f1 - 2 / 3) < 1e-9 and got.precision == 1.0 and got.recall == 0.5
    assert set(info) == {"rule", "f1", "precision", "recall"}
