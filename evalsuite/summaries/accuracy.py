"""Per-round accuracy under every scorer convention, and every per-answer metric that declares what it reads
(parse rate, output length, answer F1, ...), with doc-level CIs."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from evalsuite.metrics import accuracy
from evalsuite.metrics.base import AGGREGATIONS, MetricName, MetricSpec, per_answer_metrics
from evalsuite.records import Sample
from evalsuite.summaries.base import Group, MetricRow, Summary, summarizer


def _answers_by_round(samples: list[Sample]) -> dict[int, list[Sample]]:
    by_round: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        if s.attempt is not None:
            by_round[s.attempt].append(s)
    return by_round


def _accuracy_rows(g: Group, rnd: int, ss: list[Sample]) -> list[MetricRow]:
    """`accuracy` under the task's primary convention, `accuracy[name]` under each other one."""
    ss = [s for s in ss if s.correct is not None]
    if not ss:
        return []
    docs = np.array([s.doc_id for s in ss])
    agg = AGGREGATIONS[accuracy.aggregate]
    named = [(MetricName("accuracy"), [bool(s.correct) for s in ss])]
    named += [(MetricName("accuracy", conv), [bool(s.conventions.get(conv)) for s in ss])
              for conv in sorted({k for s in ss for k in s.conventions} - {g.primary})]
    return [g.row(rnd, name, accuracy(v := np.array(vals, dtype=float)), agg.ci(v, docs, g.seed), len(ss))
            for name, vals in named]


def per_answer_row(g: Group, rnd: int, ss: list[Sample], m: MetricSpec) -> MetricRow | None:
    """Metric `m` over the answers it reads a value from; None when it reads none."""
    got = [(s.doc_id, v) for s in ss if (v := m.reads(s)) is not None]
    if not got:
        return None
    docs = np.array([d for d, _ in got])
    values = np.array([v for _, v in got], dtype=float)
    ci = AGGREGATIONS[m.aggregate].ci(values, docs, g.seed) if m.aggregate else (float("nan"), float("nan"))
    return g.row(rnd, m.name, m(values), ci, len(got))


@summarizer("accuracy")
def summarize_accuracy(g: Group) -> Summary | None:
    """Rows per answer round: accuracy (and its conventions), then each registered per-answer metric."""
    rows: list[MetricRow] = []
    metrics = per_answer_metrics()
    for rnd, ss in sorted(_answers_by_round(g.samples).items()):
        rows += _accuracy_rows(g, rnd, ss)
        rows += [r for m in metrics if (r := per_answer_row(g, rnd, ss, m)) is not None]
    return Summary(rows) if rows else None
