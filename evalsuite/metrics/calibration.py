"""Calibration of a confidence c in [0, 1] against correctness y (SPEC-metrics §5): ECE with equal-width and
equal-mass bins, the reliability diagram's bins, Brier score, AUROC and AURC.

Bin conventions. Equal-width: M bins [k/M, (k+1)/M) with edges computed as k/M (so a verbal 0.3 sits in
[0.3, 0.4), not below it by float rounding), and the last bin closed: c = 1.0 lands in bin M. Equal-mass: sort
by c and cut at round(j·N/M) for j = 1..M-1; a cut that would split a run of equal confidences moves to the end
of that run, so ties share a bin; bins left empty are dropped. Empty bins contribute 0 to ECE.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalsuite.metrics.base import metric, term

N_BINS = 10


@dataclass(frozen=True)
class Confidence:
    """How a confidence method is reported: its short label, and whether it is a probability of being right (every
    calibration metric) or an unbounded score (the ranking metrics AUROC and AURC only)."""

    label: str
    probability: bool


CONFIDENCES: dict[str, Confidence] = {
    "verbal": Confidence("verbalized", True), "ptrue": Confidence("P(True)", True),
    "tokenprob": Confidence("answer-token probability", True),
    "self_predict": Confidence("self-prediction, P(Yes)", True),
    "self_predict_verbal": Confidence("self-prediction, stated", True),
    "self_certainty_streamed": Confidence("self-certainty, streamed", False),
    "self_certainty_official": Confidence("self-certainty, official", False),
    "mean_logprob": Confidence("mean log-prob", False),
}


def confidence(name: str) -> Confidence:
    """The declared confidence method `name`; an undeclared one is a score shown by its name."""
    return CONFIDENCES.get(name) or Confidence(name, False)

term("verbal", "Verbalised confidence", "The model states its confidence in words (\"Confidence: 80%\") with its answer.",
     "Tian et al. 2023, Just Ask for Calibration (arXiv 2305.14975)")
term("ptrue", "P(True)", "Shown its own answer in a fresh conversation, the probability the model puts on \"True\" "
     "(renormalised over True/False).", "Kadavath et al. 2022, Language Models (Mostly) Know What They Know")
term("tokenprob", "Answer token probability", "exp(mean log-probability) of the tokens that write the extracted answer.",
     "Kadavath et al. 2022, Language Models (Mostly) Know What They Know")
term("self_predict", "Self-prediction confidence", "The model's own prediction, asked separately, that its answer is "
     "right.", "Binder et al. 2024, Looking Inward (arXiv 2410.13787)")


def _arrays(conf, correct) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(conf, dtype=float)
    y = np.asarray(correct, dtype=float)
    if c.shape != y.shape:
        raise ValueError(f"confidence and correctness differ in length ({c.size} vs {y.size})")
    return c, y


def width_bins(conf, n_bins: int = N_BINS) -> np.ndarray:
    """Equal-width bin index of each confidence: [k/M, (k+1)/M), with 1.0 in the last bin."""
    c = np.asarray(conf, dtype=float)
    edges = np.arange(1, n_bins) / n_bins
    return np.searchsorted(edges, c, side="right")


def mass_bins(conf, n_bins: int = N_BINS) -> np.ndarray:
    """Equal-mass bin index of each confidence (≈ N/M items each; equal confidences never straddle a cut)."""
    c = np.asarray(conf, dtype=float)
    n = c.size
    order = np.argsort(c, kind="stable")
    s = c[order]
    cuts = []
    for j in range(1, n_bins):
        k = int(round(j * n / n_bins))
        while 0 < k < n and s[k] == s[k - 1]:
            k += 1
        if 0 < k < n and (not cuts or k > cuts[-1]):
            cuts.append(k)
    sorted_bin = np.searchsorted(np.array(cuts, dtype=int), np.arange(n), side="right")
    out = np.empty(n, dtype=int)
    out[order] = sorted_bin
    return out


def reliability(conf, correct, n_bins: int = N_BINS, binning: str = "width") -> list[dict]:
    """The reliability diagram's data: per non-empty bin, its range, count, mean confidence and accuracy."""
    c, y = _arrays(conf, correct)
    if binning not in ("width", "mass"):
        raise ValueError(f"binning must be 'width' or 'mass', got {binning!r}")
    idx = width_bins(c, n_bins) if binning == "width" else mass_bins(c, n_bins)
    rows = []
    for b in np.unique(idx):
        m = idx == b
        lo, hi = (b / n_bins, (b + 1) / n_bins) if binning == "width" else (float(c[m].min()), float(c[m].max()))
        rows.append({"bin": int(b), "lo": float(lo), "hi": float(hi), "count": int(m.sum()),
                     "mean_confidence": float(c[m].mean()), "accuracy": float(y[m].mean())})
    return rows


def _ece(conf, correct, n_bins: int, binning: str) -> float:
    c, _ = _arrays(conf, correct)
    if c.size == 0:
        return float("nan")
    return float(sum(r["count"] * abs(r["accuracy"] - r["mean_confidence"])
                     for r in reliability(conf, correct, n_bins, binning)) / c.size)


@metric("ece", higher_is_better=False, label="ECE (10 equal-width bins)", plot="reliability",
        definition=("Expected calibration error: Σ over 10 equal-width confidence bins of (bin share) × |bin accuracy −"
                    " bin mean confidence|."),
        source="Naeini et al. 2015; Guo et al. 2017, On Calibration of Modern Neural Networks")
def ece(conf, correct, n_bins: int = N_BINS) -> float:
    """Expected calibration error, Σ_b |B|/N · |acc(B) − conf(B)|, with equal-width bins."""
    return _ece(conf, correct, n_bins, "width")


@metric("ece_mass", higher_is_better=False, label="ECE (10 equal-mass bins)", plot="reliability",
        definition="ECE over 10 equal-mass bins (each holds about N/10 answers; adaptive ECE).",
        source="Nixon et al. 2019, Measuring Calibration in Deep Learning")
def ece_mass(conf, correct, n_bins: int = N_BINS) -> float:
    """Expected calibration error with equal-mass (adaptive) bins."""
    return _ece(conf, correct, n_bins, "mass")


@metric("brier", higher_is_better=False, label="Brier score",
        definition="Mean of (confidence − correct)², correct being 1 or 0; lower is better calibrated and sharper.",
        source="Brier 1950, Verification of forecasts expressed in terms of probability")
def brier(conf, correct) -> float:
    """Mean squared difference between confidence and correctness (binary form)."""
    c, y = _arrays(conf, correct)
    return float(np.mean((c - y) ** 2)) if c.size else float("nan")


@metric("conf_auroc", higher_is_better=True, label="AUROC (right vs wrong)", plot="roc",
        definition=("Chance that a random right answer gets a higher confidence than a random wrong one (ROC area; 0.5 "
                    "= no signal)."),
        source="Hendrycks & Gimpel 2017, A Baseline for Detecting Misclassified Examples")
def conf_auroc(conf, correct) -> float:
    """ROC-AUC of the confidence separating correct from wrong answers (ties count ½); NaN with one class.

    Computed as the Mann-Whitney statistic with average ranks, which equals sklearn's trapezoidal
    `roc_auc_score` (checked in the tests) at a fraction of its cost inside a bootstrap."""
    from scipy.stats import rankdata

    c, y = _arrays(conf, correct)
    if c.size == 0 or y.min() == y.max():
        return float("nan")
    pos = y > 0.5
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return float((rankdata(c)[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


@metric("aurc", higher_is_better=False, label="AURC (risk–coverage)",
        definition=("Area under the risk–coverage curve: error rate of the k most confident answers, averaged over k = "
                    "1..N."),
        source="Geifman & El-Yaniv 2017, Selective Classification for Deep Neural Networks")
def aurc(conf, correct) -> float:
    """Area under the risk–coverage curve: mean over k = 1..N of the error rate of the k most confident answers.

    Equal confidences are averaged over their orderings: within a tie block every position carries the block's
    mean error."""
    c, y = _arrays(conf, correct)
    if c.size == 0:
        return float("nan")
    err = 1.0 - y
    order = np.argsort(-c, kind="stable")
    c, err = c[order], err[order]
    expected = err.copy()
    start = 0
    for k in range(1, c.size + 1):
        if k == c.size or c[k] != c[start]:
            expected[start:k] = err[start:k].mean()
            start = k
    risk = np.cumsum(expected) / np.arange(1, c.size + 1)
    return float(risk.mean())


confidence_missing = metric(
    "confidence_missing", higher_is_better=False, label="Confidence missing",
    definition=("Share of answers whose confidence could not be read; they are left out of the calibration metrics,"
                " never set to 0.5."),
    source="evalsuite", aggregate="mean")


mean_confidence = metric(
    "mean_confidence", higher_is_better=None, label="Mean confidence",
    definition="Mean confidence of the answers that have one.",
    source="evalsuite", aggregate="mean")
