"""Results of a task group (e.g. `correctbench`): the group card names the group summarizers that aggregate its
member tasks (`aggregate: [self_correction, critique]`), each registered with `@group_summarizer(name)`, and
summarize_groups applies what every requested card declares, per protocol of the members' samples.

`self_correction` (here): accuracy at every round and, from round 1 on, Δ, Δi→c, Δc→i, CL, CS and RSS (round
0 → r), each twice and labelled: the unweighted mean over subsets, and pooled over all subsets' chains. CIs
resample docs within each subset. `critique` is in critique_groups.py.
"""
from __future__ import annotations

import dataclasses
import warnings
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from evalsuite.errors import UsageError
from evalsuite.metrics.self_correction import acc_after, undefined_reason
from evalsuite.records import Sample
from evalsuite.registry import GROUP_SUMMARIZERS, group_summarizer, load_plugins
from evalsuite.results import GroupResult
from evalsuite.summaries.base import Group, MetricRow, Summary, correction_rounds
from evalsuite.summaries.self_correction import (
    CARRIED, N_BOOT, ROUND_METRICS, Chains, build_chains, combine, flip_extras, flip_plots, join, percentile_ci,
    resampled_flips,
)
from evalsuite.tasks.cards import GroupCard, catalog

POOLED, MEAN = "pooled", "mean over subsets"


@dataclass(frozen=True)
class Members:
    """What a group summarizer sees: the samples of a group's member tasks under one protocol, by task in the
    card's order (members without samples left out), the bootstrap seed and the run's --rounds."""

    group: str
    protocol: str
    samples: dict[str, list[Sample]]
    seed: int = 0
    rounds: int | None = None


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


@group_summarizer("self_correction")
def self_correction_group(m: Members) -> Summary | None:
    """Accuracy per round and the self-correction metrics, pooled over the members' chains and their mean."""
    hint = correction_rounds(m.protocol, m.rounds)
    chs = {t: ch for t, ss in m.samples.items() if (ch := build_chains(ss, hint, prefix=f"{t}/")) is not None}
    if not chs:
        return None
    group = Group(m.group, m.protocol, [s for t in chs for s in m.samples[t]], seed=m.seed)
    pooled = flip_extras(combine(list(chs.values())))
    return Summary(_rows_for(group, chs, np.random.default_rng(m.seed)), {"subsets": list(chs), POOLED: pooled},
                   flip_plots(pooled, protocol=m.protocol))


def group_cards(tasks: list[str] | str) -> list[GroupCard]:
    """The group cards named in `tasks` (task names are skipped); one that declares an unregistered group
    summarizer is a UsageError naming the registered ones."""
    cards = catalog()
    out = [c for n in _names(tasks) if isinstance(c := cards.get(n), GroupCard)]
    load_plugins()
    for card in out:
        unknown = [a for a in card.aggregate if a not in GROUP_SUMMARIZERS]
        if unknown:
            raise UsageError(f"group {card.name} declares aggregate {', '.join(unknown)}, which no group summarizer "
                             f"is registered as; choose from: {', '.join(sorted(GROUP_SUMMARIZERS))}")
    return out


def summarize_groups(tasks: list[str] | str, samples: list[Sample], seed: int = 0, rounds: int | None = None
                     ) -> tuple[list[MetricRow], dict[str, GroupResult]]:
    """(rows, results) of every group named in `tasks`: each group summarizer its card declares, per protocol of
    its members' samples. `rounds` (the run's --rounds) pads the chains of protocols that count corrections."""
    by: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for s in samples:
        by[(s.task, s.protocol)].append(s)
    rows: list[MetricRow] = []
    out: dict[str, GroupResult] = {}
    for card in group_cards(tasks):
        res = GroupResult(tasks=[t for t in card.tasks if any(k[0] == t for k in by)], aggregate=list(card.aggregate))
        for proto in sorted({p for (t, p) in by if t in card.tasks}):
            members = Members(card.name, proto, {t: by[(t, proto)] for t in card.tasks if (t, proto) in by}, seed,
                              rounds)
            for agg in card.aggregate:
                got = GROUP_SUMMARIZERS[agg](members)
                if got is None:
                    continue
                res.metrics.extend(got.rows)
                res.extras.setdefault(agg, {})[proto] = got.extras
                res.plots.extend(got.plots)
        if res.extras:
            rows.extend(res.metrics)
            out[card.name] = res
    return rows, out
