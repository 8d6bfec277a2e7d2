"""Scored samples -> metric rows (value, 95% bootstrap CI, n), one row per task x protocol x round x metric."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np

from evalsuite.metrics import accuracy, bootstrap_mean_ci, mean_tokens, parse_rate
from evalsuite.metrics.base import spec
from evalsuite.records import Sample


@dataclass(frozen=True)
class MetricRow:
    """One tidy result row; `round` is the answer round (0 = first answer)."""

    task: str
    subset: str
    protocol: str
    round: int
    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int
    direction: str
    label: str

    def to_dict(self) -> dict:
        return asdict(self)


def _row(task: str, protocol: str, rnd: int, name: str, value: float, ci: tuple[float, float], n: int,
         subset: str = "") -> MetricRow:
    meta = spec(name)
    label = meta.label if meta else name
    if "[" in name:
        label += " (" + name.split("[", 1)[1].rstrip("]") + ")"
    return MetricRow(task, subset, protocol, rnd, name, value, ci[0], ci[1], n,
                     meta.direction if meta else "none", label)


def summarize(samples: list[Sample], seed: int = 0, primary: dict[str, str] | None = None) -> list[MetricRow]:
    """Per-round accuracy under every scorer convention, parse rate and output length, with doc-level CIs.

    `accuracy` is the task's primary convention (`primary[task]`); the other conventions get `accuracy[name]`.
    """
    primary = primary or {}
    groups: dict[tuple[str, str, int], list[Sample]] = defaultdict(list)
    for s in samples:
        if s.attempt is not None:
            groups[(s.task, s.protocol, s.attempt)].append(s)
    rows: list[MetricRow] = []
    for (task, proto, rnd), ss in sorted(groups.items()):
        docs = np.array([s.doc_id for s in ss])
        correct = np.array([bool(s.correct) for s in ss], dtype=float)
        rows.append(_row(task, proto, rnd, "accuracy", accuracy(correct),
                         bootstrap_mean_ci(correct, docs, seed=seed), len(ss)))
        for conv in sorted({k for s in ss for k in s.conventions} - {primary.get(task)}):
            vals = np.array([bool(s.conventions.get(conv)) for s in ss], dtype=float)
            rows.append(_row(task, proto, rnd, f"accuracy[{conv}]", accuracy(vals),
                             bootstrap_mean_ci(vals, docs, seed=seed), len(ss)))
        parsed = np.array([s.extracted is not None for s in ss], dtype=float)
        rows.append(_row(task, proto, rnd, "parse_rate", parse_rate(parsed),
                         bootstrap_mean_ci(parsed, docs, seed=seed), len(ss)))
        ntok = np.array([len(s.generation.token_ids) for s in ss], dtype=float)
        rows.append(_row(task, proto, rnd, "mean_tokens", mean_tokens(ntok),
                         bootstrap_mean_ci(ntok, docs, seed=seed), len(ss)))
    return rows
