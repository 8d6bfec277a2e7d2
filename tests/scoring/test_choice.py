"""Multiple-choice scoring: letters read robustly, option text accepted, layouts of AQuA/CSQA/GPQA."""
from __future__ import annotations

import pytest

from evalsuite.scoring.choice import ChoiceScorer, extract_choice, gold_letter, options
from evalsuite.tasks.correctbench.utils import gpqa_prepare

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
    ("People keep money safe.\nA bank", "A", "last_line"),
    ("People keep money safe.\nThe best place is a bank", None, None),
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


FACTORIALS = {"question": "q", "options": ["A)2!", "B)3!", "C)7!", "D)8!", "E)9!"], "correct": "C"}
APPLES = {"question": "q", "options": ["A)20", "B)15", "C)5", "D)25", "E)10"], "correct": "B"}

CUT_OFF = [  # replies cut off mid-reasoning: an option's text (or letters) appear, but no answer is stated
    (FACTORIALS, "We have 7 letters to choose from: A, B, C, D, E"),
    (FACTORIALS, "Let's count: 7! ways to arrange the letters, but"),
    (FACTORIALS, "There are 3! orderings of the vowels and"),
    (FACTORIALS, "First arrange the 2 vowels in 2! ways, then the other 8"),
    (APPLES, "First, there are 20 apples and we remove 5"),
    (APPLES, "So we need 15 more"),
    (APPLES, "20 apples minus 5 apples leaves"),
    (APPLES, "Step 1: 25 - 10 = 15, so"),
    (APPLES, "To answer this, we have 20 apples"),
    (APPLES, "The answer depends on whether 5 or 10 are removed"),
    (APPLES, "Options: A) 20 B) 15 C) 5"),
    (APPLES, "We can choose A, B or C first, then"),
    (CSQA, "People keep money in a bank, but a library also"),
    (CSQA, "A mall has many shops and a department store"),
    (CSQA, "Going to new york would take"),
    (CSQA, "The bank is closed on Sundays so"),
    (CSQA, "I think about the library first because"),
    (CSQA, "Between bank and mall, the"),
    (CSQA, "Answering requires knowing where people keep money, like a bank"),
    (CSQA, "In a department store you can buy"),
]

STATED = [  # (doc, reply, letter): the answer is stated, by letter, after an answer marker, or as the whole line
    (FACTORIALS, "The answer is 7!", "C"),
    (FACTORIALS, "Answer: 3!", "B"),
    (FACTORIALS, "So the final answer is 9!.", "E"),
    (FACTORIALS, "Arrange the letters.\n7!", "C"),
    (FACTORIALS, "Reasoning about the order.\n8!", "D"),
    (APPLES, "Answer: 20 apples", "A"),
    (APPLES, "The answer is 15.", "B"),
    (APPLES, "Therefore, the answer is: 5", "C"),
    (APPLES, "We add them up.\n25", "D"),
    (APPLES, "The answer would be 10", "E"),
    (CSQA, "Answer: bank", "A"),
    (CSQA, "the answer is the library", "B"),
    (CSQA, "Final answer: department store, since it sells clothes", "C"),
    (CSQA, "Thinking about shops.\nMall", "D"),
    (CSQA, "**new york**", "E"),
    (CSQA, "The answer is (B).", "B"),
    (CSQA, "Answer: A", "A"),
    (CSQA, "\\boxed{C}", "C"),
    (CSQA, "I choose D.", "D"),
    (CSQA, "E) new york", "E"),
]


@pytest.mark.parametrize("doc, reply", CUT_OFF)
def test_a_reply_cut_off_mid_reasoning_gets_no_answer(doc, reply):
    assert extract_choice(reply, options(doc)) == (None, None)


@pytest.mark.parametrize("doc, reply, letter", STATED)
def test_a_stated_answer_is_read(doc, reply, letter):
    assert extract_choice(reply, options(doc))[0] == letter


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
