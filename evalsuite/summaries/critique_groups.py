"""The `critique` group summarizer (a group card's `aggregate: [critique]`, e.g. `criticbench`): critique
accuracy, F1 (wrong = positive) and verdict parse rate over the first judged attempt of every subset, twice and
labelled: pooled over all subsets' judgements, and the unweighted mean over subsets. CIs resample questions (within each subset for the mean).
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Callable

import numpy as np

from evalsuite.metrics.critique import critique_accuracy, critique_f1, verdict_parse_rate
from evalsuite.registry import group_summarizer
from evalsuite.summaries.base import Group, MetricRow, Summary
from evalsuite.summaries.critique import N_BOOT, Judgement, _arrays, critique_rows, judgements, verdict_matrix
from evalsuite.summaries.groups import Members

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


@group_summarizer("critique")
def critique_group(m: Members) -> Summary | None:
    """Critique accuracy, F1 and parse rate over the members' first judged attempts: pooled, and their mean."""
    per = {}
    for t, ss in m.samples.items():
        js = [j for j in judgements(ss) if j.attempt == 0]
        if js:
            per[t] = [dataclasses.replace(j, cluster=f"{t}/{j.cluster}") for j in js]
    if not per:
        return None
    group = Group(m.group, m.protocol, [s for t in per for s in m.samples[t]], seed=m.seed, subset=POOLED)
    got, ex = critique_rows(group, [j for js in per.values() for j in js], 0, m.seed)
    note = f"pooled over the judgements of {len(per)} subsets"
    rows = [dataclasses.replace(r, label=f"{r.label} · {POOLED}", note=note) for r in got]
    rows += mean_rows(group, per, m.seed)
    plot = dataclasses.replace(verdict_matrix(ex, "Critique verdicts"), protocol=m.protocol)
    return Summary(rows, {"subsets": list(per), POOLED: ex}, [plot])
