"""Percentile bootstrap confidence intervals that resample docs (all samples and rounds of a doc move together)."""
from __future__ import annotations

from typing import Callable

import numpy as np


def bootstrap_mean_ci(
    values: np.ndarray, groups: np.ndarray | None = None, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """CI of the pooled mean of `values`, resampling the groups (docs) they belong to."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return float("nan"), float("nan")
    if groups is None:
        groups = np.arange(values.size)
    _, inv = np.unique(groups, return_inverse=True)
    sums = np.bincount(inv, weights=values)
    counts = np.bincount(inv).astype(float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, sums.size, size=(n_boot, sums.size))
    stats = sums[idx].sum(1) / counts[idx].sum(1)
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def bootstrap_ci(
    fn: Callable[..., float],
    arrays: list[np.ndarray],
    groups: np.ndarray,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """CI of any statistic `fn(*arrays)`; rows are resampled by group. NaN results are dropped."""
    groups = np.asarray(groups)
    uniq, inv = np.unique(groups, return_inverse=True)
    if uniq.size == 0:
        return float("nan"), float("nan")
    members = [np.flatnonzero(inv == g) for g in range(uniq.size)]
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_boot):
        pick = np.concatenate([members[g] for g in rng.integers(0, uniq.size, size=uniq.size)])
        v = fn(*[np.asarray(a)[pick] for a in arrays])
        if v == v:
            stats.append(v)
    if not stats:
        return float("nan"), float("nan")
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
