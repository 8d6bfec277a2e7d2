"""Critique metrics (SPEC-metrics §7): critique accuracy, precision/recall/F1 with "response is wrong" as the
positive class (Lin et al.'s Q), G and C, and Luo et al.'s self-check vote against plain self-consistency.

Inputs are arrays over judgements: `response_ok` (the judged response is correct) and `judged_ok` (1.0 = the critic
said correct, 0.0 = incorrect, NaN = no parseable verdict). How an unparseable verdict counts is `unparsed`:
"lin" (always an error: the opposite of the gold label), "luo" (read as "correct") or "exclude" (dropped).
Precision, recall and F1 are NaN when their denominator is zero.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from evalsuite.metrics.base import metric

UNPARSED = ("lin", "luo", "exclude")


def predicted_wrong(response_ok: np.ndarray, judged_ok: np.ndarray, unparsed: str = "lin"
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(truly wrong, predicted wrong) as booleans under an unparsed-verdict convention (rows dropped for "exclude")."""
    if unparsed not in UNPARSED:
        raise ValueError(f"unparsed must be one of {UNPARSED}, got {unparsed!r}")
    ok = np.asarray(response_ok, dtype=bool)
    judged = np.asarray(judged_ok, dtype=float)
    missing = np.isnan(judged)
    if unparsed == "exclude":
        ok, judged, missing = ok[~missing], judged[~missing], missing[~missing]
    pred_wrong = judged == 0.0
    if unparsed == "lin":
        pred_wrong = np.where(missing, ok, pred_wrong)
    return ~ok, pred_wrong


def confusion(response_ok: np.ndarray, judged_ok: np.ndarray, unparsed: str = "lin") -> dict[str, int]:
    """Counts with "response is wrong" as the positive class: tp, fp, fn, tn."""
    wrong, pred = predicted_wrong(response_ok, judged_ok, unparsed)
    return {"tp": int(np.sum(wrong & pred)), "fp": int(np.sum(~wrong & pred)),
            "fn": int(np.sum(wrong & ~pred)), "tn": int(np.sum(~wrong & ~pred))}


def _ratio(num: float, den: float) -> float:
    return float(num) / den if den else float("nan")


@metric("critique_accuracy", higher_is_better=True, label="Critique accuracy",
        definition="Share of labelled responses whose verdict (right or wrong) matches the label.",
        source="Luo et al. 2023, Critique Ability of Large Language Models (arXiv 2310.04815)")
def critique_accuracy(response_ok: np.ndarray, judged_ok: np.ndarray, unparsed: str = "lin") -> float:
    """Fraction of judgements whose verdict matches the response's label."""
    c = confusion(response_ok, judged_ok, unparsed)
    return _ratio(c["tp"] + c["tn"], sum(c.values()))


@metric("critique_precision", higher_is_better=True, label="Critique precision (wrong = positive)",
        definition="Of the responses the model calls wrong, the share that are wrong.",
        source="Lin et al. 2024, CriticBench (arXiv 2402.14809)")
def critique_precision(response_ok: np.ndarray, judged_ok: np.ndarray, unparsed: str = "lin") -> float:
    """Of the responses flagged wrong, the fraction that are wrong."""
    c = confusion(response_ok, judged_ok, unparsed)
    return _ratio(c["tp"], c["tp"] + c["fp"])


@metric("critique_recall", higher_is_better=True, label="Critique recall (wrong = positive)",
        definition="Of the wrong responses, the share the model calls wrong.",
        source="Lin et al. 2024, CriticBench (arXiv 2402.14809)")
def critique_recall(response_ok: np.ndarray, judged_ok: np.ndarray, unparsed: str = "lin") -> float:
    """Of the wrong responses, the fraction flagged wrong."""
    c = confusion(response_ok, judged_ok, unparsed)
    return _ratio(c["tp"], c["tp"] + c["fn"])


@metric("critique_f1", higher_is_better=True, label="Critique F1 (wrong = positive; Lin's Q)",
        definition="Harmonic mean of critique precision and recall, wrong = positive (Lin et al.'s Q score).",
        source="Lin et al. 2024, CriticBench (arXiv 2402.14809)")
def critique_f1(response_ok: np.ndarray, judged_ok: np.ndarray, unparsed: str = "lin") -> float:
    """F1 of flagging wrong responses: 2tp / (2tp + fp + fn)."""
    c = confusion(response_ok, judged_ok, unparsed)
    return _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])


@metric("verdict_parse_rate", higher_is_better=True, label="Verdict parsed",
        definition="Share of critiques whose verdict could be read.",
        source="evalsuite")
def verdict_parse_rate(judged_ok: np.ndarray) -> float:
    """Fraction of critiques with a parseable verdict."""
    j = np.asarray(judged_ok, dtype=float)
    return float(np.mean(~np.isnan(j))) if j.size else float("nan")


@metric("response_error_rate", higher_is_better=None, label="Responses wrong (base rate)",
        definition="Share of the judged responses that are wrong: the base rate critique F1 is read against.",
        source="evalsuite")
def response_error_rate(response_ok: np.ndarray) -> float:
    """Fraction of judged responses that are wrong: the share of the positive class."""
    ok = np.asarray(response_ok, dtype=bool)
    return float(np.mean(~ok)) if ok.size else float("nan")


generation_accuracy = metric(
    "generation_accuracy", higher_is_better=True, label="G: generation accuracy",
    definition="G: accuracy of the model's own first answers.",
    source="Lin et al. 2024, CriticBench (arXiv 2402.14809)", aggregate="mean")


@metric("correction_accuracy", higher_is_better=True, label="C: correction accuracy",
        definition="C: accuracy of the corrected answers over all items (a missing correction counts as wrong).",
        source="Lin et al. 2024, CriticBench (arXiv 2402.14809)")
def correction_accuracy(correct: np.ndarray) -> float:
    """Lin's C: accuracy of the corrected answers over all items (a missing correction counts as incorrect)."""
    c = np.nan_to_num(np.asarray(correct, dtype=float), nan=0.0)
    return float(c.mean()) if c.size else float("nan")


def vote(answers: Sequence[str | None]) -> tuple[str | None, int]:
    """Majority answer and its certainty (votes of the top answer minus votes of the runner-up).

    Answers that are None (nothing extracted) do not vote; ties go to the answer that appeared first."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None, 0
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])  # stable: first appearance wins ties
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    return ranked[0][0], ranked[0][1] - runner_up


def self_check(answers: Sequence[str | None], judged_ok: Sequence[float], threshold: int) -> tuple[str | None, bool]:
    """Luo et al.'s self-check: when certainty < `threshold`, drop the answers the model judged wrong, then vote.

    Returns (answer, whether the filter was applied). Unparseable verdicts are kept; if every answer was judged
    wrong the plain vote stands."""
    winner, certainty = vote(answers)
    if certainty >= threshold:
        return winner, False
    kept = [a for a, j in zip(answers, judged_ok) if not (j == 0.0)]
    if not any(a is not None for a in kept):
        return winner, True
    return vote(kept)[0], True


self_consistency_accuracy = metric(
    "self_consistency_accuracy", higher_is_better=True, label="Self-consistency accuracy (majority vote)",
    definition="Accuracy of each question's majority answer over the samples.",
    source="Wang et al. 2023, Self-Consistency Improves Chain of Thought Reasoning", aggregate="mean")


self_check_accuracy = metric(
    "self_check_accuracy", higher_is_better=True, label="Self-check accuracy (Luo et al.)",
    definition=("Accuracy after self-check: when the vote is close, answers the model judged wrong are dropped "
                "before voting."),
    source="Luo et al. 2023, Critique Ability of Large Language Models (arXiv 2310.04815)", aggregate="mean")
