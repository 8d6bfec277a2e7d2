"""Best-of-N accuracy per selector and N (1, 2, 4, …, --samples), all from the same samples, and oracle pass@N.

Each doc's answers are taken in sample order and the first N are the candidates (as the official code does).
Selectors: majority vote, highest self-certainty, Borda voting with power p (`--borda-p`) over self-certainty,
and highest mean token log-prob; with the official self-certainty convention run, its selectors are reported
too. An answer that cannot be extracted never wins a vote; a doc where nothing can be selected counts as wrong.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from evalsuite.metrics.base import MetricName
from evalsuite.metrics.bootstrap import bootstrap_mean_ci
from evalsuite.metrics.self_certainty import bon_accuracy, borda_vote, majority_vote, n_values, oracle_pass, select_max
from evalsuite.records import Sample
from evalsuite.plot_specs import AccuracyVsN, Series
from evalsuite.summaries.base import Group, Summary, summarizer

SCORES = {"self_certainty_streamed": "streamed", "self_certainty_official": "official"}


def _selectors(ss: list[Sample], p: float) -> dict[str, int | None]:
    """Selector name -> index of the chosen sample among `ss`."""
    answers = [s.extracted for s in ss]
    out = {"majority": majority_vote(answers)}
    for key, conv in SCORES.items():
        if all(key in s.confidence for s in ss):
            scores = [s.confidence[key] for s in ss]
            out[f"self_certainty ({conv})"] = select_max(answers, scores)
            out[f"borda p={p:g} ({conv})"] = borda_vote(answers, scores, p)
    if all("mean_logprob" in s.confidence for s in ss):
        out["mean_logprob"] = select_max(answers, [s.confidence["mean_logprob"] for s in ss])
    return out


@summarizer("best_of_n")
def summarize_best_of_n(g: Group) -> Summary | None:
    by_doc: dict[str, list[Sample]] = defaultdict(list)
    for s in g.samples:
        if s.attempt == 0 and s.correct is not None:
            by_doc[s.doc_id].append(s)
    if not by_doc:
        return None
    p = g.protocol_options.borda_p
    docs = sorted(by_doc)
    for d in docs:
        by_doc[d].sort(key=lambda s: s.sample_idx)
    n_max = min(len(v) for v in by_doc.values())
    temps = sorted({s.request.gen.temperature for v in by_doc.values() for s in v})
    note = f"T={','.join(f'{t:g}' for t in temps)}, first N of {n_max} samples per doc"
    rows, table, cis = [], defaultdict(list), defaultdict(list)
    ns = n_values(n_max)
    for n in ns:
        chosen: dict[str, list[float]] = defaultdict(list)
        oracle = []
        for d in docs:
            ss = by_doc[d][:n]
            oracle.append(float(any(s.correct for s in ss)))
            for name, idx in _selectors(ss, p).items():
                chosen[name].append(float(idx is not None and bool(ss[idx].correct)))
        groups = np.array(docs)
        for name, vals in chosen.items():
            v = np.array(vals)
            rows.append(g.row(0, MetricName.of("bon_accuracy", name, N=n), bon_accuracy(v),
                              bootstrap_mean_ci(v, groups, seed=g.seed), len(docs), note))
            table[name].append(bon_accuracy(v))
            cis[name].append((rows[-1].ci_low, rows[-1].ci_high))
        v = np.array(oracle)
        rows.append(g.row(0, MetricName.of("oracle_pass", N=n), oracle_pass(v),
                          bootstrap_mean_ci(v, groups, seed=g.seed), len(docs), note))
        table["oracle pass@N"].append(oracle_pass(v))
        cis["oracle pass@N"].append((rows[-1].ci_low, rows[-1].ci_high))
    plot = AccuracyVsN({name: Series(ns, acc, [lo for lo, _ in cis[name]], [hi for _, hi in cis[name]])
                        for name, acc in table.items()}, f"Best-of-N accuracy by selector (Borda p={p:g})")
    return Summary(rows, {"n": ns, "accuracy": dict(table), "borda_p": p, "temperature": temps,
                          "docs": len(docs)}, [plot])
