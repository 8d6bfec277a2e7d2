"""Accuracy-type metrics over per-sample correctness."""
from __future__ import annotations

import numpy as np

from evalsuite.metrics.base import metric


@metric("accuracy", higher_is_better=True, label="Accuracy", plot="rounds",
        definition=("Share of answers scored right under the task's primary convention (a bracket names another "
                    "convention)."),
        source="the task's official scorer (see its card)")
def accuracy(correct: np.ndarray) -> float:
    """Fraction correct, pooled over samples."""
    c = np.asarray(correct, dtype=float)
    return float(c.mean()) if c.size else float("nan")


@metric("parse_rate", higher_is_better=True, label="Answer parsed",
        definition="Share of answers from which the scorer could extract an answer at all.",
        source="evalsuite")
def parse_rate(parsed: np.ndarray) -> float:
    """Fraction of outputs from which an answer could be extracted."""
    p = np.asarray(parsed, dtype=float)
    return float(p.mean()) if p.size else float("nan")


@metric("mean_tokens", higher_is_better=None, label="Output tokens (mean)", fmt=".1f",
        definition="Mean number of generated tokens per answer.",
        source="evalsuite")
def mean_tokens(n_tokens: np.ndarray) -> float:
    """Mean number of generated tokens per output."""
    n = np.asarray(n_tokens, dtype=float)
    return float(n.mean()) if n.size else float("nan")
