"""Accuracy-type metrics over per-sample correctness."""
from __future__ import annotations

from evalsuite.metrics.base import metric


def _scored(s, value: float) -> float | None:
    """A sample's value when it was scored (its correctness is known), else it does not count."""
    return None if s.correct is None else value


accuracy = metric("accuracy", higher_is_better=True, label="Accuracy", plot="rounds", aggregate="mean",
                  definition=("Share of answers scored right under the task's primary convention (a bracket names "
                              "another convention)."),
                  source="the task's official scorer (see its card)")

parse_rate = metric("parse_rate", higher_is_better=True, label="Answer parsed", aggregate="mean",
                    reads=lambda s: _scored(s, float(s.extracted is not None)),
                    definition="Share of answers from which the scorer could extract an answer at all.",
                    source="evalsuite")

mean_tokens = metric("mean_tokens", higher_is_better=None, label="Output tokens (mean)", fmt=".1f", aggregate="mean",
                     reads=lambda s: _scored(s, float(len(s.generation.token_ids))),
                     definition="Mean number of generated tokens per answer.",
                     source="evalsuite")
