"""Self-certainty and best-of-N selection (SPEC-metrics §3): per-response self-certainty, the selectors
(majority vote, highest self-certainty, Borda voting with power p, highest mean log-prob), accuracy vs N from
one set of samples, and oracle pass@N."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from evalsuite.metrics.base import metric, term

UNPARSED = -1e9
"""Score an output without an extractable answer gets when selecting by a score (as the official code does)."""

term("self_certainty", "Self-certainty",
     "Mean over the reply's tokens of KL(uniform ‖ p): how far each next-token distribution is from uniform; "
     "higher = more confident (a selector picks the highest; as confidence, it is streamed during decoding).",
     "Kang et al. 2025, Scalable Best-of-N Selection via Self-Certainty (arXiv 2502.18581)")
term("borda", "Borda vote (power p)",
     "Rank the N samples by self-certainty; each answer gets Σ (N − rank + 1)^p over the samples that give it, and the "
     "answer with the most points wins (p = 0 is majority vote).", "Kang et al. 2025, Scalable Best-of-N Selection via Self-Certainty (arXiv 2502.18581)")
term("majority", "Majority vote", "The answer most samples give (ties: the one seen first); self-consistency.",
     "Wang et al. 2023, Self-Consistency Improves Chain of Thought Reasoning")
term("mean_logprob", "Mean log-probability",
     "Mean log-probability of the reply's chosen tokens; as a selector, the sample with the highest wins.",
     "Kang et al. 2025, Scalable Best-of-N Selection via Self-Certainty (arXiv 2502.18581) (baseline)")


def self_certainty(sc_terms: Sequence[float]) -> float:
    """SC(y) = mean over response tokens of KL(U‖p_i) = −log V − mean_j log p_i(j) (the streamed `sc_term`)."""
    return float(np.mean(sc_terms)) if len(sc_terms) else float("nan")


def majority_vote(answers: Sequence[str | None]) -> int | None:
    """Index of the first output carrying the most frequent extracted answer (ties: the answer seen first);
    None when no output has an answer."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    best = max(counts.values())
    return next(i for i, a in enumerate(answers) if a is not None and counts[a] == best)


def select_max(answers: Sequence[str | None], scores: Sequence[float]) -> int | None:
    """Index of the highest-scoring output with an answer (ties: lowest index); None when none has an answer."""
    keyed = [s if a is not None and s == s else UNPARSED for a, s in zip(answers, scores)]
    if all(a is None for a in answers):
        return None
    return int(np.argmax(keyed))


def borda_vote(answers: Sequence[str | None], scores: Sequence[float], p: float = 0.5) -> int | None:
    """Borda voting with power p, as `voting_from_list.py` of the Self-Certainty repository does it.

    All N outputs are ranked by score, descending (stable: ties keep their order); rank r (1 = highest) is worth
    (N − r + 1)^p. Each output with an answer adds its worth to the first output with the same answer (exact
    string equality); the output with the largest total wins, ties going to the lowest index. p = 0 is majority
    vote. None when no output has an answer.
    """
    n = len(answers)
    if all(a is None for a in answers):
        return None
    order = sorted(range(n), key=lambda i: -scores[i] if scores[i] == scores[i] else np.inf)
    worth = {i: float(n - rank) ** p for rank, i in enumerate(order)}
    votes = [0.0] * n
    first: dict[str, int] = {}
    for i, a in enumerate(answers):
        if a is None:
            continue
        votes[first.setdefault(a, i)] += worth[i]
    return int(np.argmax(votes))


def n_values(n_max: int) -> list[int]:
    """N = 1, 2, 4, … up to n_max, and n_max itself."""
    out = [1]
    while out[-1] * 2 <= n_max:
        out.append(out[-1] * 2)
    if out[-1] != n_max:
        out.append(n_max)
    return out


bon_accuracy = metric(
    "bon_accuracy", higher_is_better=True, label="Best-of-N accuracy", plot="best_of_n", aggregate="mean",
    definition=("Accuracy of the one answer a selector picks from N samples (majority vote, highest self-certainty,"
                " Borda vote, highest mean log-prob)."),
    source="Kang et al. 2025, Scalable Best-of-N Selection via Self-Certainty (arXiv 2502.18581)")


oracle_pass = metric(
    "oracle_pass", higher_is_better=True, label="Oracle pass@N (any sample correct)", plot="best_of_n",
    definition="Share of problems where any of the N samples is right: the ceiling for every selector.",
    source="Kang et al. 2025, Scalable Best-of-N Selection via Self-Certainty (arXiv 2502.18581)", aggregate="mean")
