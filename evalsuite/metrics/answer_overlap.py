"""Token-overlap metrics of short free-text answers (HotpotQA's official F1, computed per answer by the scorer)."""
from __future__ import annotations

from evalsuite.metrics.base import metric
from evalsuite.score_info import Overlap

answer_f1 = metric("answer_f1", higher_is_better=True, label="Answer token F1", plot="rounds", aggregate="mean",
                   reads=lambda s: (o.f1 if (o := Overlap.from_info(s.info)) else None),
                   definition="Token-overlap F1 between the answer and the gold answer after SQuAD normalisation.",
                   source="Yang et al. 2018, HotpotQA")
