"""Critique metrics on hand-worked confusion matrices, checked again against scikit-learn; self-check voting."""
from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from evalsuite.metrics.critique import (
    confusion, correction_accuracy, critique_accuracy, critique_f1, critique_precision, critique_recall,
    response_error_rate, self_check, verdict_parse_rate, vote,
)

NAN = float("nan")
# 3 correct responses then 5 wrong ones; verdicts 1 = "correct", 0 = "incorrect", NaN = unparseable
OK = np.array([True, True, True, False, False, False, False, False])
JUDGED = np.array([1.0, 0.0, NAN, 0.0, 0.0, 1.0, NAN, 0.0])


def test_hand_worked_matrix_under_lins_convention():
    # row: 0 TN, 1 FP, 2 unparsed on a correct response -> flagged wrong -> FP, 3 TP, 4 TP, 5 FN,
    # 6 unparsed on a wrong response -> passed as correct -> FN, 7 TP
    assert confusion(OK, JUDGED) == {"tp": 3, "fp": 2, "fn": 2, "tn": 1}
    assert critique_accuracy(OK, JUDGED) == pytest.approx(4 / 8)
    assert critique_precision(OK, JUDGED) == pytest.approx(3 / 5)
    assert critique_recall(OK, JUDGED) == pytest.approx(3 / 5)
    assert critique_f1(OK, JUDGED) == pytest.approx(6 / 10)


def test_hand_worked_matrix_under_luos_and_excluding_conventions():
    # Luo: unparsed = "correct" -> row 2 TN, row 6 FN
    assert confusion(OK, JUDGED, "luo") == {"tp": 3, "fp": 1, "fn": 2, "tn": 2}
    assert critique_accuracy(OK, JUDGED, "luo") == pytest.approx(5 / 8)
    assert critique_f1(OK, JUDGED, "luo") == pytest.approx(6 / 9)
    # excluding rows 2 and 6
    assert confusion(OK, JUDGED, "exclude") == {"tp": 3, "fp": 1, "fn": 1, "tn": 1}
    assert critique_accuracy(OK, JUDGED, "exclude") == pytest.approx(4 / 6)
    assert critique_precision(OK, JUDGED, "exclude") == pytest.approx(3 / 4)
    assert critique_recall(OK, JUDGED, "exclude") == pytest.approx(3 / 4)
    assert critique_f1(OK, JUDGED, "exclude") == pytest.approx(6 / 8)
    assert verdict_parse_rate(JUDGED) == pytest.approx(6 / 8)
    assert response_error_rate(OK) == pytest.approx(5 / 8)


def test_lins_convention_matches_their_f1_recipe_in_sklearn():
    rng = np.random.default_rng(7)
    ok = rng.random(200) < 0.4
    judged = np.where(rng.random(200) < 0.2, NAN, (rng.random(200) < 0.5).astype(float))
    # Lin et al.: golden = not label; an unparsed prediction is set to the label itself (always wrong)
    golden = ~ok
    pred = np.where(np.isnan(judged), ok, judged == 0.0)
    assert critique_f1(ok, judged) == pytest.approx(f1_score(golden, pred))
    assert critique_precision(ok, judged) == pytest.approx(precision_score(golden, pred))
    assert critique_recall(ok, judged) == pytest.approx(recall_score(golden, pred))
    assert critique_accuracy(ok, judged) == pytest.approx(accuracy_score(golden, pred))


def test_undefined_ratios_are_nan():
    ok = np.array([True, True])
    judged = np.array([1.0, 1.0])
    assert critique_accuracy(ok, judged) == 1.0
    assert all(math.isnan(f(ok, judged)) for f in (critique_precision, critique_recall, critique_f1))
    assert math.isnan(critique_accuracy(np.array([True]), np.array([NAN]), "exclude"))
    with pytest.raises(ValueError):
        confusion(ok, judged, "strict")


def test_correction_accuracy_counts_missing_as_incorrect():
    assert correction_accuracy(np.array([1.0, NAN, 0.0, 1.0])) == pytest.approx(2 / 4)


def test_vote_margin_and_first_seen_ties():
    assert vote(["5", "3", "5", None]) == ("5", 1)
    assert vote(["3", "5"]) == ("3", 0)
    assert vote(["4", "4", "4"]) == ("4", 3)
    assert vote([None, None]) == (None, 0)


def test_self_check_drops_answers_judged_wrong_only_below_the_threshold():
    answers = ["7", "7", "9", "9", "9"]
    judged = [1.0, 1.0, 0.0, 0.0, 1.0]
    assert vote(answers) == ("9", 1)
    assert self_check(answers, judged, threshold=1) == ("9", False)
    # margin 1 < 2: the two "9"s judged wrong go, leaving 7, 7, 9
    assert self_check(answers, judged, threshold=2) == ("7", True)
    # unparseable verdicts are kept; every answer judged wrong leaves the plain vote
    assert self_check(["1", "2", "2"], [NAN, 0.0, 0.0], threshold=5) == ("1", True)
    assert self_check(["1", "2", "2"], [0.0, 0.0, 0.0], threshold=5) == ("2", True)
