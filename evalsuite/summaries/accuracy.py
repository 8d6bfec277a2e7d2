"""Per-round accuracy under every scorer convention, parse rate and output length, with doc-level CIs."""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from evalsuite.metrics import accuracy, bootstrap_mean_ci, mean_tokens, parse_rate
from evalsuite.summaries.base import Group, Summary, summarizer


@summarizer("accuracy")
def summarize_accuracy(g: Group) -> Summary | None:
    """`accuracy` is the task's primary convention; other conventions are `accuracy[name]`."""
    by_round = defaultdict(list)
    for s in g.samples:
        if s.attempt is not None and s.correct is not None:
            by_round[s.attempt].append(s)
    if not by_round:
        return None
    rows = []
    for rnd, ss in sorted(by_round.items()):
        docs = np.array([s.doc_id for s in ss])

        def add(name: str, values: np.ndarray, fn) -> None:
            rows.append(g.row(rnd, name, fn(values), bootstrap_mean_ci(values, docs, seed=g.seed), len(ss)))

        add("accuracy", np.array([bool(s.correct) for s in ss], dtype=float), accuracy)
        for conv in sorted({k for s in ss for k in s.conventions} - {g.primary}):
            add(f"accuracy[{conv}]", np.array([bool(s.conventions.get(conv)) for s in ss], dtype=float), accuracy)
        add("parse_rate", np.array([s.extracted is not None for s in ss], dtype=float), parse_rate)
        add("mean_tokens", np.array([len(s.generation.token_ids) for s in ss], dtype=float), mean_tokens)
    return Summary(rows)
