"""Verdict parsing and the three conventions for an unparseable verdict (Lin: error, Luo: correct, keyword)."""
from __future__ import annotations

import pytest

from evalsuite.scoring.verdict import VerdictScorer, keyword_verdict, label_of, parse_verdict


@pytest.mark.parametrize("text, want", [
    ("The sum is 18.\nVerdict: correct", "correct"),
    ("**Verdict:** Incorrect.", "incorrect"),
    ('{"analysis": "step 2 subtracts wrongly", "verdict": "wrong"}', "incorrect"),
    ("My verdict is correct", "correct"),
    ("Verdict: [incorrect]", "incorrect"),
    ("Verdict: incorrect\n...on second thought...\nVerdict: correct", "correct"),
    ("VERDICT - INCORRECT", "incorrect"),
])
def test_fixed_form_is_read_from_the_last_verdict(text, want):
    assert parse_verdict(text) == want


@pytest.mark.parametrize("text", [
    "The answer looks correct to me.",
    "Verdict: not sure",
    "Verdict: correctly computed, but",
    "verdicts vary; incorrect",
    "",
])
def test_anything_else_is_unparseable(text):
    assert parse_verdict(text) is None


def test_keyword_rule_checks_negative_words_first():
    assert keyword_verdict("This is incorrect") == "incorrect"
    assert keyword_verdict("The reasoning has an error but the result is correct") == "incorrect"
    assert keyword_verdict("Looks accurate.") == "correct"
    assert keyword_verdict("Hmm.") is None


def test_labels_normalise_and_reject_unknown_values():
    assert [label_of(v) for v in (True, False, 1, 0, "correct", "Wrong", "false")] == [
        "correct", "incorrect", "correct", "incorrect", "correct", "incorrect", "incorrect"]
    with pytest.raises(ValueError):
        label_of("maybe")


def test_scorer_conventions_on_parsed_and_unparsed_verdicts():
    sc = VerdictScorer()
    assert sc.gold({"label": True}) == "correct"
    hit = sc.score("Checked.\nVerdict: incorrect", "incorrect", {"domain": "math", "question_id": 3})
    assert hit.extracted == "incorrect" and hit.correct
    assert hit.conventions == {"lin": True, "luo": True, "keyword": True}
    assert hit.info["cluster"] == "3" and hit.info["critique_label"] == "incorrect"
    # no fixed-form verdict on a wrong response: Lin counts an error, Luo reads "correct" (also an error),
    # the keyword rule finds "wrong" and gets it right
    miss = sc.score("The second step is wrong.", "incorrect")
    assert miss.extracted is None and not miss.correct
    assert miss.conventions == {"lin": False, "luo": False, "keyword": True}
    # no verdict on a correct response: only Luo's default credits it
    blank = sc.score("I cannot tell.", "correct")
    assert blank.conventions == {"lin": False, "luo": True, "keyword": False}
