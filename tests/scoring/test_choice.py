"""Multiple-choice scoring: letters read robustly, option text accepted, layouts of AQuA/CSQA/GPQA."""
from __future__ import annotations

import pytest

from evalsuite.scoring.choice import ChoiceScorer, extract_choice, gold_letter, gpqa_prepare, options

CSQA = {"answerKey": "A", "id": "x", "question": {"stem": "Where?", "choices": [
    {"label": "A", "text": "bank"}, {"label": "B", "text": "library"}, {"label": "C", "text": "department store"},
    {"label": "D", "text": "mall"}, {"label": "E", "text": "new york"}]}}
AQUA = {"question": "q", "options": ["A)21", "B)21.5", "C)22", "D)5(√3 + 1)", "E)None of these"], "correct": "B"}


def test_layouts():
    assert options(CSQA)[2] == ("C", "department store") and gold_letter(CSQA) == "A"
    assert options(AQUA)[1] == ("B", "21.5") and gold_letter(AQUA) == "B"
    hub = {"question": "Where?", "choices": {"label": ["A", "B"], "text": ["bank", "library"]}, "answerKey": "B"}
    assert options(hub) == [("A", "bank"), ("B", "library")]


@pytest.mark.parametrize("output, letter, rule", [
    ("B", "B", "leading_letter"),
    ("(B)", "B", "leading_letter"),
    ("B) library, because books.", "B", "leading_letter"),
    ("The answer is (C).", "C", "letter"),
    ("**Answer: D**", "D", "letter"),
    ("Answer: \\boxed{\\text{B}}", "B", "letter"),
    ("\\boxed{E}", "E", "letter"),
    ("The correct option is D.", "D", "letter"),
    ("A) bank B) library ... Answer: C", "C", "letter"),
    ("First I thought the answer is A, but on reflection the answer is E.", "E", "letter"),
    ("Answer: mall", "D", "answer_text"),
    ("So the answer is department store.", "C", "answer_text"),
    ("the answer is a bank", "A", "answer_text"),
    ("People keep money safe.\nThe best place is a bank", "A", "last_line"),
    ("I am not sure.", None, None),
    ("The answer is F.", None, None),
])
def test_extraction(output, letter, rule):
    assert extract_choice(output, options(CSQA)) == (letter, rule)


def test_numeric_option_text_does_not_match_a_longer_number():
    opts = options(AQUA)
    assert extract_choice("Answer: 21.5", opts) == ("B", "answer_text")
    assert extract_choice("The answer is 21", opts) == ("A", "answer_text")
    assert extract_choice("answer: 5(√3 + 1)", opts) == ("D", "answer_text")


def test_scorer_conventions():
    s = ChoiceScorer()
    text = s.score("Answer: library", "B", {**CSQA, "answerKey": "B"})
    assert text.correct and text.conventions == {"flexible": True, "letter": False}
    letter = s.score("Answer: (B)", "B", CSQA)
    assert letter.correct and letter.conventions["letter"]
    assert not s.score("Answer: A", "B", CSQA).correct


def test_gpqa_prepare_is_seeded_and_keeps_the_gold():
    rec = {"Question": "Which?", "Correct Answer": "right", "Incorrect Answer 1": "w1",
           "Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3"}
    a, b = gpqa_prepare(rec), gpqa_prepare(dict(rec))
    assert a["choices"] == b["choices"]
    assert sorted(c["text"] for c in a["choices"]) == ["right", "w1", "w2", "w3"]
    assert dict(options(a))[a["answerKey"]] == "right"
    letters = {gpqa_prepare({**rec, "Question": f"Which {i}?"})["answerKey"] for i in range(40)}
    assert letters == {"A", "B", "C", "D"}
