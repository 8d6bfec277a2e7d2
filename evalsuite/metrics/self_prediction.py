"""Self-prediction metrics: how often a prediction about one's own answer comes true, the majority baseline it
has to beat, and the introspective advantage over an observer model (self minus observer, paired by item)."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from evalsuite.metrics.base import metric


self_predict_accuracy = metric(
    "self_predict_accuracy", higher_is_better=True, label="Self-prediction accuracy",
    definition="Share of the model's predictions about its own answer that came true (unreadable = miss).",
    source="Binder et al. 2024, Looking Inward: LMs can learn about themselves by introspection (arXiv 2410.13787)", aggregate="mean")


@metric("self_predict_baseline", higher_is_better=None, label="Majority baseline (always the commonest value)",
        definition="Accuracy of always predicting the most common actual value (on the same items: optimistic).",
        source="Binder et al. 2024, Looking Inward: LMs can learn about themselves by introspection (arXiv 2410.13787)")
def majority_baseline(values: Sequence) -> float:
    """Accuracy of always predicting the most common actual value (computed on the same items: optimistic)."""
    if not len(values):
        return float("nan")
    return Counter(values).most_common(1)[0][1] / len(values)


observer_accuracy = metric(
    "observer_accuracy", higher_is_better=None, label="Observer-model prediction accuracy",
    definition="Share of items where another model's prediction of this model's behaviour came true.",
    source="Binder et al. 2024, Looking Inward: LMs can learn about themselves by introspection (arXiv 2410.13787)", aggregate="mean")


@metric("introspective_advantage", higher_is_better=True, label="Introspective advantage (self − observer)",
        definition=("Self-prediction accuracy minus the observer model's on the same items; positive = privileged "
                    "self-knowledge."),
        source="Binder et al. 2024, Looking Inward: LMs can learn about themselves by introspection (arXiv 2410.13787)")
def introspective_advantage(self_hit, observer_hit) -> float:
    """Self-prediction accuracy minus the observer's on the same items; positive = privileged self-knowledge."""
    a, b = np.asarray(self_hit, dtype=float), np.asarray(observer_hit, dtype=float)
    return float(a.mean() - b.mean()) if a.size else float("nan")
