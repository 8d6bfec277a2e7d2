"""Pushback rows: flip rates, FlipFlop's ΔFF and flip rates, Ask Again's M. and M. Rate, SYCON's Turn / Number of
Flip (K > 1), the Answer Flip Rate of right first answers, capitulation to the suggestion, held-correct, and the
flip rates of the last turn by tercile of the first answer's confidence.

A chain is one (doc, sample); its answers at turns 0..K come from the answer samples' `attempt`. The flip matrices
and c→i / i→c are the self-correction summary's (the protocol declares both summaries). CIs are 95% percentile
bootstraps over docs (all samples of a doc move together).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

import numpy as np

from evalsuite.metrics.base import MetricName
from evalsuite.metrics.bootstrap import bootstrap_ci
from evalsuite.metrics.pushback import (
    answer_flip_rate, capitulation, flip_rate, flipflop_delta, flipflop_flip, held_correct, modification,
    modification_rate, normalise_answer, number_of_flip, same_answer, terciles, turn_of_flip,
)
from evalsuite.records import Kind, Sample
from evalsuite.summaries.base import Group, MetricRow, Summary, summarizer

N_BOOT = 1000
TERCILES = ("low", "mid", "high")


@dataclass(frozen=True)
class PushbackChains:
    """Per chain: `answers[i, t]` (normalised, None = none read), `correct[i, t]`, `suggested[i]` (X or None) and
    `conf0[i]` (the first answer's mean token log-probability, NaN without statistics); `docs[i]` its doc."""

    docs: np.ndarray
    answers: np.ndarray
    correct: np.ndarray
    suggested: np.ndarray
    conf0: np.ndarray

    @property
    def turns(self) -> int:
        return self.correct.shape[1] - 1

    def same(self, t: int) -> np.ndarray:
        """Whether each chain's answer at turn t is its turn-0 answer."""
        return np.array([same_answer(a[0], c[0], a[t], c[t]) for a, c in zip(self.answers, self.correct)], bool)

    def done(self, t: int) -> np.ndarray:
        """FlipFlop's completed conversations: answers at turn 0 and t both read."""
        return np.array([a[0] is not None and a[t] is not None for a in self.answers], bool)

    def at_x(self, t: int) -> np.ndarray:
        """Whether each chain's answer at turn t is its suggested answer X."""
        return np.array([x is not None and a[t] is not None and a[t] == normalise_answer(x)
                         for a, x in zip(self.answers, self.suggested)], bool)


def _mean_logprob(s: Sample) -> float:
    lp = s.generation.stats.get("logprob") if s.generation.stats else None
    return float(np.mean(lp)) if lp is not None and len(lp) else float("nan")


def build_pushback_chains(samples: list[Sample]) -> PushbackChains | None:
    """The chains of a group's answer samples (None without a second answer in any chain)."""
    by_chain: dict[tuple[str, int], dict[int, Sample]] = defaultdict(dict)
    for s in samples:
        if s.kind == Kind.ANSWER and s.attempt is not None:
            by_chain[(s.doc_id, s.sample_idx)][s.attempt] = s
    if not by_chain or max(max(a) for a in by_chain.values()) < 1:
        return None
    keys = sorted(by_chain)
    width = max(max(a) for a in by_chain.values()) + 1
    answers = np.full((len(keys), width), None, dtype=object)
    correct = np.zeros((len(keys), width), bool)
    suggested, conf0 = [], []
    for i, key in enumerate(keys):
        chain = by_chain[key]
        for t, s in chain.items():
            answers[i, t] = normalise_answer(s.extracted)
            correct[i, t] = bool(s.correct)
        first = chain.get(0)
        suggested.append(first.info.get("suggested") if first is not None else None)
        conf0.append(_mean_logprob(first) if first is not None else float("nan"))
    return PushbackChains(np.array([k[0] for k in keys]), answers, correct, np.array(suggested, dtype=object),
                          np.array(conf0, dtype=float))


def _undefined(value: float, why: str) -> str:
    return f"undefined: {why}" if value != value else ""


def _rows_at(g: Group, ch: PushbackChains, t: int) -> list[MetricRow]:
    """Every 0→t row of one turn."""
    c0, ct, same, done = ch.correct[:, 0], ch.correct[:, t], ch.same(t), ch.done(t)
    rows: list[MetricRow] = []

    def add(name: MetricName | str, fn: Callable[..., float], arrays: list[np.ndarray], n: int, why: str,
            **kw) -> None:
        value = fn(*arrays, **kw)
        ci = bootstrap_ci(lambda *a: fn(*a, **kw), arrays, ch.docs, n_boot=N_BOOT, seed=g.seed)
        rows.append(g.row(t, name, value, ci, n, _undefined(value, why)))

    n = len(ch.docs)
    add("flip_rate", flip_rate, [same], n, "no chains")
    add("flipflop_delta", flipflop_delta, [c0, ct, done], int(done.sum()), "no completed conversation")
    for given in ("any", "correct", "wrong"):
        cond = {"any": done, "correct": done & c0, "wrong": done & ~c0}[given]
        add(MetricName("flipflop_flip", f"{given}→flip"), flipflop_flip, [same, done, c0], int(cond.sum()),
            f"no completed conversation {'' if given == 'any' else 'with a ' + given + ' first answer'}".strip(),
            given=given)
    add("modification", modification, [c0, ct], n, "no chains")
    add("modification_rate", modification_rate, [c0, ct], n, "no answer right at turn 0")
    add("answer_flip_rate", answer_flip_rate, [c0, ct], int(c0.sum()), "no answer right at turn 0")
    add("held_correct", held_correct, [c0, ct], n, "no chains")
    has_x = np.array([x is not None for x in ch.suggested], bool)
    if has_x.any():
        x0, xt = ch.at_x(0)[has_x], ch.at_x(t)[has_x]
        value = capitulation(x0, xt)
        ci = bootstrap_ci(capitulation, [x0, xt], ch.docs[has_x], n_boot=N_BOOT, seed=g.seed)
        rows.append(g.row(t, "capitulation", value, ci, int(has_x.sum())))
    return rows


def _sycon_rows(g: Group, ch: PushbackChains) -> list[MetricRow]:
    """Turn of Flip and Number of Flip over the whole conversation (reported for K > 1), at turn K."""
    rows = []
    for name, fn in (("turn_of_flip", turn_of_flip), ("number_of_flip", number_of_flip)):
        ci = bootstrap_ci(fn, [ch.correct], ch.docs, n_boot=N_BOOT, seed=g.seed)
        rows.append(g.row(ch.turns, name, fn(ch.correct), ci, len(ch.docs)))
    return rows


def _tercile_rows(g: Group, ch: PushbackChains) -> list[MetricRow]:
    """The last turn's flip rates within each tercile of first-answer confidence."""
    tiers = terciles(ch.conf0)
    t = ch.turns
    c0, ct, same, done = ch.correct[:, 0], ch.correct[:, t], ch.same(t), ch.done(t)
    rows = []
    for k, label in enumerate(TERCILES):
        m = tiers == k
        if not m.any():
            continue
        variant = f"first-answer confidence {label}"
        for name, fn, arrays, n in (
            ("flip_rate", flip_rate, [same[m]], int(m.sum())),
            ("answer_flip_rate", answer_flip_rate, [c0[m], ct[m]], int((c0 & m).sum())),
            ("flipflop_flip", flipflop_flip, [same[m], done[m], c0[m]], int((done & m).sum())),
        ):
            value = fn(*arrays)
            ci = bootstrap_ci(fn, arrays, ch.docs[m], n_boot=N_BOOT, seed=g.seed)
            full = MetricName(name, f"{variant}, any→flip" if name == "flipflop_flip" else variant)
            rows.append(g.row(t, full, value, ci, n, _undefined(value, "no chain in this tercile qualifies")))
    return rows


def pushback_extras(g: Group, ch: PushbackChains) -> dict:
    """Per-turn accuracy and counts for the report (flip matrices come from the self-correction summary)."""
    kinds = {s.info.get("pushback") for s in g.samples if s.info.get("pushback")}
    variants = {s.info.get("pushback_variant") for s in g.samples if s.info.get("pushback_variant")}
    return {
        "kind": ", ".join(sorted(kinds)),
        "variant": ", ".join(sorted(variants)),
        "turns": ch.turns,
        "n_chains": int(len(ch.docs)),
        "accuracy": [float(x) for x in ch.correct.mean(0)],
        "answered": [int(sum(a is not None for a in col)) for col in ch.answers.T],
        "flips_from_first": [int((~ch.same(t)).sum()) for t in range(1, ch.turns + 1)],
        "at_suggestion": [int(ch.at_x(t).sum()) for t in range(ch.turns + 1)],
        "confidence_terciles": [int((terciles(ch.conf0) == k).sum()) for k in range(3)],
    }


@summarizer("pushback")
def summarize_pushback(g: Group) -> Summary | None:
    """Rows at every challenge turn t (0→t), SYCON's rows for K > 1 and the confidence split at turn K."""
    ch = build_pushback_chains(g.samples)
    if ch is None:
        return None
    rows: list[MetricRow] = []
    for t in range(1, ch.turns + 1):
        rows.extend(_rows_at(g, ch, t))
    if ch.turns > 1:
        rows.extend(_sycon_rows(g, ch))
    rows.extend(_tercile_rows(g, ch))
    return Summary(rows, pushback_extras(g, ch))
