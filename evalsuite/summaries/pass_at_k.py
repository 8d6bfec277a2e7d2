"""pass@1 / pass@5 per round for tasks scored by execution, with the official CRUXEval skip rule and doc-level CIs.

Per doc, the chains' (one per `--samples`) answers at round r are counted: n generations, c passing. Following the
official CRUXEval evaluator, generations its skip rule refused (`info["skipped"]`) are dropped from n, unless none
of the doc's generations pass, in which case all of them count as failures. A chain that stopped early (e.g.
`exec_feedback` ends at a pass) keeps its last answer for the later rounds, so round r reads "after r revisions".
pass@k gets a row once some doc has k samples; it is not reported (NaN, with a note saying n < k) when any doc
counts fewer than k generations, e.g. after the skip rule dropped some.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from evalsuite.metrics.bootstrap import bootstrap_mean_ci
from evalsuite.metrics.pass_at_k import PASS_AT, exec_skipped, pass_at_k
from evalsuite.records import Sample
from evalsuite.score_info import ExecReport, Skip
from evalsuite.summaries.base import Group, MetricRow, Summary, summarizer

K_VALUES = tuple(PASS_AT)


def _skipped(s: Sample) -> bool:
    skip = Skip.from_info(s.info)
    return skip is not None and skip.skipped


def doc_counts(chains: list[Sample]) -> tuple[int, int]:
    """(n, c) of one doc's generations under the official rule (skipped dropped unless nothing passes)."""
    kept = [s for s in chains if not _skipped(s)]
    c = sum(bool(s.correct) for s in kept)
    return (len(kept), c) if c > 0 else (len(chains), 0)


def answers_by_round(samples: list[Sample]) -> tuple[dict[str, list[dict[int, Sample]]], int]:
    """doc_id -> one {attempt: sample} per chain, and the last attempt seen."""
    chains: dict[tuple[str, int], dict[int, Sample]] = defaultdict(dict)
    for s in samples:
        if s.attempt is not None and s.correct is not None and ExecReport.from_info(s.info) is not None:
            chains[(s.doc_id, s.sample_idx)][s.attempt] = s
    docs: dict[str, list[dict[int, Sample]]] = defaultdict(list)
    for (doc_id, _), by_attempt in sorted(chains.items()):
        docs[doc_id].append(by_attempt)
    last = max((a for ch in chains.values() for a in ch), default=-1)
    return dict(docs), last


def latest(chain: dict[int, Sample], rnd: int) -> Sample | None:
    """The chain's answer at round `rnd`, or its last earlier one when it stopped before."""
    done = [a for a in chain if a <= rnd]
    return chain[max(done)] if done else None



def pass_at_k_row(g: Group, rnd: int, k: int, counts: np.ndarray, note: str) -> MetricRow:
    """The pass@k row over docs' (n, c) counts: NaN with an `n < k` note when any doc has fewer than k."""
    short = int((counts[:, 0] < k).sum())
    if short:
        why = f"not reported: n < k ({short} of {len(counts)} docs have fewer than {k} counted samples)"
        nan = float("nan")
        return g.row(rnd, f"pass@{k}", nan, (nan, nan), len(counts), f"{why}; {note}" if note else why)
    values = np.array([pass_at_k(int(n), int(c), k) for n, c in counts])
    value = PASS_AT[k](counts[:, 0], counts[:, 1])
    return g.row(rnd, f"pass@{k}", value, bootstrap_mean_ci(values, seed=g.seed), len(values), note)


@summarizer("pass_at_k")
def summarize_pass_at_k(g: Group) -> Summary | None:
    """Rows `pass@1` (and `pass@5`) per round, `exec_skipped` per round when the skip rule applies."""
    docs, last = answers_by_round(g.samples)
    if not docs:
        return None
    rows, per_round = [], []
    min_samples = min(len(chains) for chains in docs.values())
    max_samples = max(len(chains) for chains in docs.values())
    has_skip_rule = any(Skip.from_info(s.info) is not None for s in g.samples)
    for rnd in range(max(last, g.rounds or 0) + 1):
        answers = {d: [s for s in (latest(ch, rnd) for ch in chains) if s is not None] for d, chains in docs.items()}
        answers = {d: ss for d, ss in answers.items() if ss}
        counts = np.array([doc_counts(ss) for ss in answers.values()], dtype=int).reshape(-1, 2)
        carried = sum(1 for chains in docs.values() for ch in chains if rnd not in ch and min(ch) < rnd)
        note = f"{carried} chains carried from an earlier round" if carried else ""
        entry = {"round": rnd, "n_docs": len(answers), "carried": carried}
        for k in K_VALUES:
            if max_samples < k:
                continue
            row = pass_at_k_row(g, rnd, k, counts, note)
            rows.append(row)
            entry[row.metric.text] = row.value
        if has_skip_rule:
            flags = np.array([_skipped(s) for ss in answers.values() for s in ss])
            rows.append(g.row(rnd, "exec_skipped", exec_skipped(flags), (float("nan"), float("nan")), flags.size))
            entry["skipped"] = int(flags.sum())
        per_round.append(entry)
    return Summary(rows, {"per_round": per_round, "samples_per_doc": min_samples})
