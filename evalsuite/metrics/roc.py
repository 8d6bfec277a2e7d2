"""Membership-inference metrics over (label, score) pairs, as RL-MIA's evaluate_all_methods.py defines them (§4.4).

Non-finite scores are dropped; with one class left every metric is NaN; AUC is never flipped to max(AUC, 1-AUC).
Confidence intervals resample members and non-members separately (a stratified bootstrap), so every replicate
keeps both classes even for the 15 + 15 docs of an AIME subset.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from evalsuite.metrics.base import metric

NAN = float("nan")


def _clean(labels: Sequence, scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray] | None:
    y = np.asarray(labels, dtype=float)
    s = np.asarray(scores, dtype=float)
    keep = np.isfinite(s) & np.isfinite(y)
    y, s = y[keep].astype(int), s[keep]
    return (y, s) if np.unique(y).size == 2 else None


def roc_points(labels: Sequence, scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) of sklearn's roc_curve (collinear points dropped); empty with one class."""
    from sklearn.metrics import roc_curve

    data = _clean(labels, scores)
    if data is None:
        return np.array([]), np.array([]), np.array([])
    return roc_curve(*data)


def _tpr_before(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """TPR at the ROC point just before the first one with FPR >= target."""
    above = np.flatnonzero(fpr >= target)
    if not above.size:
        return float(tpr[-1])
    return float(tpr[above[0] - 1] if above[0] > 0 else tpr[0])


@metric("mia_auc", higher_is_better=True, label="ROC-AUC", plot="roc",
        definition=("ROC-AUC of a membership detector: chance a random training member scores as more member-like than "
                    "a random non-member."),
        source=("Tao et al. 2025, contamination detection in RL post-training: Self-Critique and RL-MIA (arXiv "
                "2510.09259)"))
def roc_auc(labels: Sequence, scores: Sequence[float]) -> float:
    """Area under the ROC curve of member-oriented scores (sklearn roc_curve + auc)."""
    from sklearn.metrics import auc

    fpr, tpr, _ = roc_points(labels, scores)
    return float(auc(fpr, tpr)) if fpr.size else NAN


def tpr_at_fpr(labels: Sequence, scores: Sequence[float], target: float) -> float:
    """TPR at the ROC point just before the first point with FPR >= target (the reference repo's rule)."""
    fpr, tpr, _ = roc_points(labels, scores)
    return _tpr_before(fpr, tpr, target) if fpr.size else NAN


@metric("mia_tpr_at_1fpr", higher_is_better=True, label="TPR@1%FPR",
        definition="Share of members detected at the threshold that flags 1% of non-members.",
        source="Carlini et al. 2022, Membership Inference Attacks From First Principles")
def tpr_at_1fpr(labels: Sequence, scores: Sequence[float]) -> float:
    return tpr_at_fpr(labels, scores, 0.01)


@metric("mia_tpr_at_5fpr", higher_is_better=True, label="TPR@5%FPR",
        definition="Share of members detected at the threshold that flags 5% of non-members.",
        source="Carlini et al. 2022, Membership Inference Attacks From First Principles")
def tpr_at_5fpr(labels: Sequence, scores: Sequence[float]) -> float:
    return tpr_at_fpr(labels, scores, 0.05)


def best_f1_threshold(labels: Sequence, scores: Sequence[float]) -> tuple[float, float]:
    """(best F1, its threshold) over the precision-recall curve; F1 = 2PR/(P+R+1e-6), last PR point excluded."""
    from sklearn.metrics import precision_recall_curve

    data = _clean(labels, scores)
    if data is None:
        return NAN, NAN
    p, r, th = precision_recall_curve(*data)
    f = 2 * p * r / (p + r + 1e-6)
    i = int(np.argmax(f[:-1])) if f.size > 1 else 0
    return float(f[i]), float(th[i])


@metric("mia_best_f1", higher_is_better=True, label="Best F1",
        definition="Best F1 (member = positive) over all detector thresholds.",
        source=("Tao et al. 2025, contamination detection in RL post-training: Self-Critique and RL-MIA (arXiv "
                "2510.09259)"))
def best_f1(labels: Sequence, scores: Sequence[float]) -> float:
    return best_f1_threshold(labels, scores)[0]


def _fast_roc(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's roc_curve (with drop_intermediate) without its input checks, for bootstrap loops."""
    order = np.argsort(s, kind="mergesort")[::-1]
    s, y = s[order], y[order]
    idx = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[idx]
    fps = idx + 1 - tps
    if fps.size > 2:
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        fps, tps = fps[keep], tps[keep]
    fps, tps = np.r_[0, fps], np.r_[0, tps]
    return fps / fps[-1], tps / tps[-1]


def rank_auc(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Row-wise ROC-AUC of member scores [B, n1] against non-member scores [B, n0] (Mann-Whitney U, ties 1/2)."""
    from scipy.stats import rankdata

    pos, neg = np.atleast_2d(pos), np.atleast_2d(neg)
    n1, n0 = pos.shape[1], neg.shape[1]
    ranks = rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    return (ranks[:, :n1].sum(1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def bootstrap_roc(labels: Sequence, scores: Sequence[float], targets: Sequence[float] = (0.01, 0.05),
                  n_boot: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """Stratified bootstrap replicates: {"roc_auc": [n_boot], "tpr@<t>": [n_boot] per target}; NaN with one class."""
    data = _clean(labels, scores)
    keys = ["roc_auc"] + [f"tpr@{t}" for t in targets]
    if data is None:
        return {k: np.full(n_boot, NAN) for k in keys}
    y, s = data
    pos, neg = s[y == 1], s[y == 0]
    rng = np.random.default_rng(seed)
    bp = pos[rng.integers(0, pos.size, (n_boot, pos.size))]
    bn = neg[rng.integers(0, neg.size, (n_boot, neg.size))]
    out = {"roc_auc": rank_auc(bp, bn)}
    yy = np.r_[np.ones(pos.size, dtype=int), np.zeros(neg.size, dtype=int)]
    curves = [_fast_roc(yy, np.concatenate([bp[b], bn[b]])) for b in range(n_boot)]
    for t in targets:
        out[f"tpr@{t}"] = np.array([_tpr_before(f, r, t) for f, r in curves])
    return out


def percentile_ci(replicates: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates, NaNs dropped."""
    r = np.asarray(replicates, dtype=float)
    r = r[np.isfinite(r)]
    if not r.size:
        return NAN, NAN
    lo, hi = np.quantile(r, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
