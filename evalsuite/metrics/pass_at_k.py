"""pass@k: the unbiased estimator of Chen et al. (2021) over n samples with c correct, averaged over problems."""
from __future__ import annotations

from typing import Callable

import numpy as np

from evalsuite.metrics.base import metric


def pass_at_k(n: int, c: int, k: int) -> float:
    """P(at least one of k samples drawn without replacement from n is correct) = 1 - C(n-c, k) / C(n, k).

    Computed stably as 1 - prod_{i=n-c+1..n} (1 - k/i); 0.0 when c = 0; 1.0 when k <= n < c + k (every k-subset
    holds a correct one). Not reported when n < k: NaN, since no k-subset exists (the official CRUXEval/HumanEval
    code returns 1.0 there and an earlier version here 0.0; neither is an estimate of pass@k).
    """
    if n <= 0 or c < 0 or c > n or k <= 0:
        raise ValueError(f"pass@k needs 0 <= c <= n, n > 0, k > 0; got n={n}, c={c}, k={k}")
    if n < k:
        return float("nan")
    if c == 0:
        return 0.0
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(n: np.ndarray, c: np.ndarray, k: int) -> float:
    """pass@k averaged over problems; `n[i]`, `c[i]` are problem i's sample and correct counts.

    NaN (not reported) when there are no problems or any problem has fewer than k samples."""
    n, c = np.asarray(n, dtype=int), np.asarray(c, dtype=int)
    if n.size == 0:
        return float("nan")
    return float(np.mean([pass_at_k(int(a), int(b), k) for a, b in zip(n, c)]))


@metric("pass@1", higher_is_better=True, label="pass@1", plot="rounds",
        definition=("Unbiased estimate of the chance one sample passes: 1 − C(n−c, k)/C(n, k) with k = 1 over n "
                    "samples, c passing."),
        source="Chen et al. 2021, Evaluating LLMs Trained on Code (HumanEval)")
def pass_at_1(n: np.ndarray, c: np.ndarray) -> float:
    """Mean unbiased pass@1 (= mean of c/n per problem)."""
    return mean_pass_at_k(n, c, 1)


@metric("pass@5", higher_is_better=True, label="pass@5",
        definition="Unbiased estimate of the chance at least one of 5 samples passes: 1 − C(n−c, 5)/C(n, 5).",
        source="Chen et al. 2021, Evaluating LLMs Trained on Code (HumanEval)")
def pass_at_5(n: np.ndarray, c: np.ndarray) -> float:
    """Mean unbiased pass@5; NaN (not reported) when any problem has fewer than 5 samples."""
    return mean_pass_at_k(n, c, 5)


PASS_AT: dict[int, Callable[[np.ndarray, np.ndarray], float]] = {1: pass_at_1, 5: pass_at_5}
"""k -> the registered pass@k metric the pass_at_k summarizer reports."""


exec_skipped = metric(
    "exec_skipped", higher_is_better=None, label="Skipped generations (official rule)", fmt=".0f", aggregate="sum",
    definition=("Generations the benchmark's official rule does not execute (e.g. a CRUXEval answer that calls the "
                "function)."),
    source="Gu et al. 2024, CRUXEval (arXiv 2401.03065)")
