"""Critique results of a task group (e.g. `criticbench`): critique accuracy, F1 (wrong = positive) and verdict
parse rate over the first judged attempt of every subset, twice and labelled: pooled over all subsets' judgements,
and the unweighted mean over subsets. CIs resample questions (within each subset for the mean).
"""
from __future__ import annotations

import dataclasses
import warnings
from collections import defaultdict
from typing import Any, Callable

import numpy as np

from evalsuite.metrics.critique import critique_accuracy, critique_f1, verdict_parse_rate
from evalsuite.records import Sample
from evalsuite.summaries.base import Group, MetricRow
from evalsuite.summaries.critique import N_BOOT, Judgement, _arrays, critique_rows, judgements

POOLED, MEAN = "pooled", "mean over subsets"
MEAN_METRICS: tuple[tuple[str, Callable[..., float]], ...] = (
    ("critique_accuracy", critique_accuracy), ("critique_f1", critique_f1),
    ("verdict_parse_rate", lambda ok, judged: verdict_parse_rate(judged)),
)


class _Resampler:
    """Draws a bootstrap copy of one subset's judgements, whole questions at a time."""

    def __init__(self, js: list[Judgement]):
        self.ok, self.judged, clusters = _arrays(js)
        _, inv = np.unique(clusters, return_inverse=True)
        order = np.argsort(inv, kind="stable")
        self.members = np.split(order, np.cumsum(np.bincount(inv))[:-1])

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        pick = np.concatenate([self.members[c] for c in rng.integers(0, len(self.members), len(self.members))])
        return self.ok[pick], self.judged[pick]


def mean_rows(group: Group, per: dict[str, list[Judgement]], seed: int) -> list[MetricRow]:
    """Unweighted mean over subsets of accuracy, F1 and parse rate, with a CI from per-subset resampling."""
    rng = np.random.default_rng(seed)
    boots = {name: np.empty(N_BOOT) for name, _ in MEAN_METRICS}
    samplers = [_Resampler(js) for js in per.values()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for b in range(N_BOOT):
            draws = [sm.draw(rng) for sm in samplers]
            for name, fn in MEAN_METRICS:
                boots[name][b] = np.nanmean([fn(ok, judged) for ok, judged in draws])
        rows = []
        n = sum(len(js) for js in per.values())
        for name, fn in MEAN_METRICS:
            values = np.array([fn(*_arrays(js)[:2]) for js in per.values()], dtype=float)
            missing = [t for t, v in zip(per, values) if not np.isfinite(v)]
            note = f"unweighted mean over {len(per) - len(missing)} of {len(per)} subsets"
            note += f"; undefined in {', '.join(missing)}" if missing else ""
            finite = boots[name][np.isfinite(boots[name])]
            ci = tuple(np.quantile(finite, [0.025, 0.975])) if finite.size else (float("nan"), float("nan"))
            row = dataclasses.replace(group, subset=MEAN).row(0, name, float(np.nanmean(values)), ci, n, note)
            rows.append(dataclasses.replace(row, label=f"{row.label} · {MEAN}"))
    return rows


def summarize_critique_groups(tasks: list[str] | str, samples: list[Sample], seed: int = 0
                              ) -> tuple[list[MetricRow], dict[str, dict[str, Any]]]:
    """Rows and extras (`{group: {protocol: {"critique": ...}}}`) for every group named in `tasks`."""
    from evalsuite.tasks.cards import GroupCard, catalog

    names = [n.strip() for n in (tasks.split(",") if isinstance(tasks, str) else tasks) if n.strip()]
    cards = catalog()
    by: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for s in samples:
        by[(s.task, s.protocol)].append(s)
    rows: list[MetricRow] = []
    extras: dict[str, dict[str, Any]] = {}
    for name in names:
        card = cards.get(name)
        if not isinstance(card, GroupCard):
            continue
        for proto in sorted({p for (t, p) in by if t in card.tasks}):
            per = {}
            for t in card.tasks:
                js = [j for j in judgements(by.get((t, proto), [])) if j.attempt == 0]
                if js:
                    per[t] = [dataclasses.replace(j, cluster=f"{t}/{j.cluster}") for j in js]
            if not per:
                continue
            members = [s for t in per for s in by[(t, proto)]]
            group = Group(name, proto, members, seed=seed, subset=POOLED)
            pooled = [j for js in per.values() for j in js]
            got, ex = critique_rows(group, pooled, 0, seed)
            note = f"pooled over the judgements of {len(per)} subsets"
            rows.extend(dataclasses.replace(r, label=f"{r.label} · {POOLED}", note=note) for r in got)
            rows.extend(mean_rows(group, per, seed))
            extras.setdefault(name, {})[proto] = {"critique": {"subsets": list(per), POOLED: ex}}
    return rows, extras


def add_critique_groups(tasks: list[str] | str, samples: list[Sample], seed: int, rows: list[MetricRow],
                        extras: dict[str, dict[str, Any]]) -> tuple[list[MetricRow], dict[str, dict[str, Any]]]:
    """`rows`/`extras` of the other group summaries with the critique group results added."""
    more_rows, more = summarize_critique_groups(tasks, samples, seed)
    merged = {name: {proto: dict(v) for proto, v in ex.items()} for name, ex in extras.items()}
    for name, ex in more.items():
        for proto, v in ex.items():
            merged.setdefault(name, {}).setdefault(proto, {}).update(v)
    return rows + more_rows, merged
