"""Token-overlap metrics of short free-text answers (HotpotQA's official F1, computed per answer by the scorer)."""
from __future__ import annotations

import numpy as np

from evalsuite.metrics.base import metric


@metric("answer_f1", higher_is_better=True, label="Answer token F1", plot="rounds",
        definition="Token-overlap F1 between the answer and the gold answer after SQuAD normalisation.",
        source="Yang et al. 2018, HotpotQA")
def answer_f1(f1: np.ndarray) -> float:
    """Mean per-answer token F1, pooled over samples."""
    v = np.asarray(f1, dtype=float)
    return float(v.mean()) if v.size else float("nan")
