"""HotpotQA scoring: the official normalisation, EM and F1 on hand-worked cases, and answer extraction."""
from __future__ import annotations

import pytest

from evalsuite.tasks.hotpotqa.utils import HotpotQAScorer, exact_match, extract_answer, f1_precision_recall, normalize_answer


@pytest.mark.parametrize("text, norm", [
    ("The Beatles!", "beatles"),
    ("  An  apple, a day ", "apple day"),
    ("U.S. Navy", "us navy"),
    ("Chief of Protocol", "chief of protocol"),
])
def test_official_normalisation(text, norm):
    assert normalize_answer(text) == norm


def test_f1_hand_worked():
    # prediction tokens: chief of protocol of us (5); gold: chief of protocol (3); overlap 3
    f1, p, r = f1_precision_recall("Chief of Protocol of the US", "Chief of Protocol")
    assert (p, r) == (pytest.approx(0.6), pytest.approx(1.0))
    assert f1 == pytest.approx(0.75)
    # repeated tokens count once per occurrence in both: pred "new new york" vs "new york": overlap 2 of 3
    assert f1_precision_recall("new new york", "new york")[0] == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))


def test_yes_no_answers_get_no_partial_credit():
    assert f1_precision_recall("yes", "no") == (0.0, 0.0, 0.0)
    assert f1_precision_recall("no", "no way") == (0.0, 0.0, 0.0)
    assert f1_precision_recall("yes", "yes")[0] == 1.0


def test_exact_match_after_normalisation():
    assert exact_match("the Eiffel Tower.", "Eiffel Tower")
    assert not exact_match("Eiffel", "Eiffel Tower")


@pytest.mark.parametrize("output, answer, rule", [
    ("Scott Derrickson is American and so was Ed Wood.\nAnswer: yes", "yes", "answer_line"),
    ("**Answer:** Chief of Protocol.", "Chief of Protocol", "answer_line"),
    ("So the answer is Shirley Temple. She was an actress.", "Shirley Temple", "answer_is"),
    ("The result is \\boxed{1923}", "1923", "boxed"),
    ("Let me think.\n\nGreenwich Village", "Greenwich Village", "last_line"),
    ("", None, None),
])
def test_extraction(output, answer, rule):
    assert extract_answer(output) == (answer, rule)


def test_scorer_conventions_and_f1_info():
    s = HotpotQAScorer()
    sc = s.score("I think it is the Chief of Protocol of the US.\nAnswer: Chief of Protocol of the US",
                 s.gold({"answer": "Chief of Protocol"}))
    assert sc.correct is False and sc.conventions == {"em": False, "contains": True}
    assert sc.info["f1"] == pytest.approx(0.75)
    ok = s.score("Answer: The Chief of Protocol", "Chief of Protocol")
    assert ok.correct and ok.info["f1"] == 1.0
