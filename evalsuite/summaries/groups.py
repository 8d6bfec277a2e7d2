"""Results of a task group (e.g. `correctbench`): accuracy at every round and, from round 1 on, Δ, Δi→c, Δc→i, CL,
CS and RSS (round 0 → r), each twice and labelled: the unweighted mean over subsets, and pooled over all subsets'
chains. CIs resample docs within each subset. Only the accuracy and self-correction families are aggregated.
"""
from __future__ import annotations

import dataclasses
import warnings
from collections import defaultdict
from typing import Any

import numpy as np

from evalsuite.metrics.self_correction import acc_after, undefined_reason
from evalsuite.records import Sample
from evalsuite.plot_specs import PlotSpec
from evalsuite.summaries.base import Group, MetricRow, correction_rounds
from evalsuite.summaries.self_correction import (
    CARRIED, N_BOOT, ROUND_METRICS, Chains, build_chains, combine, flip_extras, flip_plots, join, percentile_ci,
    resampled_flips,
)

POOLED, MEAN = "pooled", "mean over subsets"


def _names(tasks: list[str] | str) -> list[str]:
    return [n.strip() for n in (tasks.split(",") if isinstance(tasks, str) else tasks) if n.strip()]


def _nanmean(x: np.ndarray, axis=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


def _rows_for(group: Group, chs: dict[str, Chains], rng: np.random.Generator) -> list[MetricRow]:
    rounds = max(c.rounds for c in chs.values())
    chs = {t: c.padded(rounds) for t, c in chs.items()}
    pooled = combine(list(chs.values()))
    rows = []
    for r in range(rounds + 1):
        carried = int((~pooled.answered[:, r]).sum())
        carry_note = CARRIED.format(k=carried, n=len(pooled.docs)) if carried else ""
        metrics = [("accuracy", acc_after)] + (list(ROUND_METRICS) if r else [])
        for name, fn in metrics:
            b, a = pooled.correct[:, 0], pooled.correct[:, r]
            ci = percentile_ci(fn(resampled_flips(pooled.docs, b, a, N_BOOT, rng)))
            note = join(f"pooled over the chains of {len(chs)} subsets", carry_note,
                        undefined_reason(name, b, a) if name != "accuracy" else "")
            row = dataclasses.replace(group, subset=POOLED).row(r, name, fn(b, a), ci, len(pooled.docs), note)
            rows.append(dataclasses.replace(row, label=f"{row.label} · {POOLED}"))
            values = np.array([fn(c.correct[:, 0], c.correct[:, r]) for c in chs.values()], dtype=float)
            boots = np.vstack([fn(resampled_flips(c.docs, c.correct[:, 0], c.correct[:, r], N_BOOT, rng))
                               for c in chs.values()])
            missing = [t for t, v in zip(chs, values) if not np.isfinite(v)]
            note = join(f"unweighted mean over {len(chs) - len(missing)} of {len(chs)} subsets",
                        f"undefined in {', '.join(missing)}" if missing else "", carry_note)
            row = dataclasses.replace(group, subset=MEAN).row(
                r, name, float(_nanmean(values)), percentile_ci(_nanmean(boots, axis=0)), len(pooled.docs), note)
            rows.append(dataclasses.replace(row, label=f"{row.label} · subset mean"))
    return rows


def summarize_groups(
    tasks: list[str] | str, samples: list[Sample], seed: int = 0, rounds: int | None = None
) -> tuple[list[MetricRow], dict[str, dict[str, Any]]]:
    """Rows and extras for every group named in `tasks` (task names are ignored), per protocol.

    `rounds` (the run's --rounds) pads the self-correction protocols' chains that all stopped early."""
    from evalsuite.tasks.cards import GroupCard, catalog

    cards = catalog()
    by: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for s in samples:
        by[(s.task, s.protocol)].append(s)
    rows: list[MetricRow] = []
    extras: dict[str, dict[str, Any]] = {}
    for name in _names(tasks):
        card = cards.get(name)
        if not isinstance(card, GroupCard):
            continue
        for proto in sorted({p for (t, p) in by if t in card.tasks}):
            hint = correction_rounds(proto, rounds)
            chs = {t: ch for t in card.tasks
                   if (ch := build_chains(by.get((t, proto), []), hint, prefix=f"{t}/")) is not None}
            if not chs:
                continue
            members = [s for t in chs for s in by[(t, proto)]]
            group = Group(name, proto, members, seed=seed)
            rows.extend(_rows_for(group, chs, np.random.default_rng(seed)))
            extras.setdefault(name, {})[proto] = {"subsets": list(chs),
                                                  POOLED: flip_extras(combine(list(chs.values())))}
    return rows, extras


def group_plots(extras: dict[str, Any]) -> list[PlotSpec]:
    """The plots of one group's extras (`{protocol: ...}` as summarize_groups and add_critique_groups write them):
    the pooled flips and the pooled critique verdicts of each protocol."""
    from evalsuite.summaries.critique import verdict_matrix

    out: list[PlotSpec] = []
    for proto, ex in extras.items():
        if POOLED in ex:
            out += flip_plots(ex[POOLED], protocol=proto)
        if "critique" in ex:
            out.append(dataclasses.replace(verdict_matrix(ex["critique"][POOLED], "Critique verdicts"),
                                           protocol=proto))
    return out
