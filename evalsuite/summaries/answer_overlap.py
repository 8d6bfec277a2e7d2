"""Per-round mean token F1 for tasks whose scorer records `info["f1"]` (HotpotQA), with doc-level CIs."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from evalsuite.metrics.answer_overlap import answer_f1
from evalsuite.metrics.bootstrap import bootstrap_mean_ci
from evalsuite.summaries.base import Group, Summary, summarizer


@summarizer("answer_overlap")
def summarize_answer_overlap(g: Group) -> Summary | None:
    """`answer_f1` at every answer round; nothing for tasks without per-answer F1."""
    by_round: dict[int, list] = defaultdict(list)
    for s in g.samples:
        if s.attempt is not None and "f1" in s.info:
            by_round[s.attempt].append(s)
    rows = []
    for rnd, ss in sorted(by_round.items()):
        values = np.array([float(s.info["f1"]) for s in ss])
        docs = np.array([s.doc_id for s in ss])
        rows.append(g.row(rnd, "answer_f1", answer_f1(values), bootstrap_mean_ci(values, docs, seed=g.seed), len(ss)))
    return Summary(rows) if rows else None
