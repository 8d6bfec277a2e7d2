"""Self-correction rows for every multi-attempt group: Δ, Δi→c, Δc→i, CL, CS, RSS from round 0 to each round r.

A chain is one (doc, sample). Its answer at round r is its last answer with attempt <= r, so a chain that stopped
early (self_refine's "correct" verdict, oracle's correct answer) still counts at later rounds; such rows carry a
note and an `accuracy_carried` row. CIs resample docs (all samples of a doc together). The 2×2 flip matrices of
consecutive rounds and of round 0 → r go to extras for the report.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

import numpy as np

from evalsuite.metrics.bootstrap import bootstrap_mean_ci
from evalsuite.metrics.self_correction import (
    Flips, accuracy_carried, confidence_level, critique_score, delta, delta_c2i, delta_i2c, flip_counts,
    relative_self_correction, undefined_reason,
)
from evalsuite.records import Kind, Sample
from evalsuite.plot_specs import FlipMatrix, FlipPanel
from evalsuite.summaries.base import Group, Summary, summarizer

N_BOOT = 1000
ROUND_METRICS: tuple[tuple[str, Callable], ...] = (
    ("delta", delta), ("delta_i2c", delta_i2c), ("delta_c2i", delta_c2i),
    ("cl", confidence_level), ("cs", critique_score), ("rss", relative_self_correction),
)
CARRIED = "last answer carried forward for {k} of {n} chains that stopped early"


@dataclass(frozen=True)
class Chains:
    """Per-chain correctness by round: `correct[i, r]` with the last answer carried forward, `answered[i, r]`
    False where it was carried; `docs[i]` is the doc a chain belongs to (the bootstrap's resampling unit)."""

    docs: np.ndarray
    correct: np.ndarray
    answered: np.ndarray
    oracle: bool = False

    @property
    def rounds(self) -> int:
        return self.correct.shape[1] - 1

    def padded(self, rounds: int) -> "Chains":
        """The same chains with the last round carried forward up to `rounds`."""
        extra = rounds - self.rounds
        if extra <= 0:
            return self
        last = np.repeat(self.correct[:, -1:], extra, axis=1)
        return Chains(self.docs, np.hstack([self.correct, last]),
                      np.hstack([self.answered, np.zeros((len(self.docs), extra), bool)]), self.oracle)


def build_chains(samples: list[Sample], rounds: int | None = None, prefix: str = "") -> Chains | None:
    """Chains from a group's answer samples; None when a chain gives two answers in one engine round (the
    answers are then alternatives, not rounds). `rounds` pads to at least that many corrections."""
    by_chain: dict[tuple[str, int], dict[int, tuple[int, bool]]] = defaultdict(dict)
    oracle = False
    for s in samples:
        oracle = oracle or bool(s.info.get("oracle"))
        if s.kind == Kind.ANSWER and s.attempt is not None:
            by_chain[(s.doc_id, s.sample_idx)][s.attempt] = (s.round, bool(s.correct))
    if not by_chain:
        return None
    for att in by_chain.values():
        engine_rounds = [rnd for rnd, _ in att.values()]
        if len(set(engine_rounds)) != len(engine_rounds):
            return None
    width = max(max(att) for att in by_chain.values()) + 1
    width = max(width, (rounds or 0) + 1)
    keys = sorted(by_chain)
    correct = np.zeros((len(keys), width), bool)
    answered = np.zeros((len(keys), width), bool)
    for i, key in enumerate(keys):
        att, last = by_chain[key], False
        for r in range(width):
            if r in att:
                last = att[r][1]
                answered[i, r] = True
            correct[i, r] = last
    docs = np.array([prefix + k[0] for k in keys])
    return Chains(docs, correct, answered, oracle)


def combine(chains: list[Chains]) -> Chains:
    """Pool chains of several subsets (doc ids must already be distinct)."""
    width = max(c.rounds for c in chains)
    cs = [c.padded(width) for c in chains]
    return Chains(np.concatenate([c.docs for c in cs]), np.vstack([c.correct for c in cs]),
                  np.vstack([c.answered for c in cs]), any(c.oracle for c in cs))


def resampled_flips(docs: np.ndarray, before: np.ndarray, after: np.ndarray, n_boot: int,
                    rng: np.random.Generator) -> Flips:
    """Flip counts of `n_boot` bootstrap resamples of the docs, as arrays."""
    _, inv = np.unique(docs, return_inverse=True)
    d = int(inv.max()) + 1 if inv.size else 0
    b, a = np.asarray(before, bool), np.asarray(after, bool)
    per_doc = [np.bincount(inv, weights=m.astype(float), minlength=d) for m in (b & a, b & ~a, ~b & a, ~b & ~a)]
    sums = [np.empty(n_boot) for _ in per_doc]
    step = max(1, 2_000_000 // max(d, 1))
    for lo in range(0, n_boot, step):
        idx = rng.integers(0, d, size=(min(step, n_boot - lo), d))
        for out, counts in zip(sums, per_doc):
            out[lo : lo + len(idx)] = counts[idx].sum(1)
    return Flips(*sums)


def percentile_ci(stats: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile interval of the finite bootstrap statistics (NaN when there are none)."""
    stats = np.asarray(stats, dtype=float)
    stats = stats[np.isfinite(stats)]
    if not stats.size:
        return float("nan"), float("nan")
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def flip_extras(ch: Chains) -> dict:
    """Per-round accuracy, answered/carried counts and the flip matrices, for the report."""
    c = ch.correct
    return {
        "rounds": ch.rounds,
        "n_chains": int(c.shape[0]),
        "accuracy": [float(x) for x in c.mean(0)],
        "answered": [int(x) for x in ch.answered.sum(0)],
        "carried_forward": [int(x) for x in (~ch.answered).sum(0)],
        "flips": [{"from": r - 1, "to": r, **flip_counts(c[:, r - 1], c[:, r]).as_dict()}
                  for r in range(1, ch.rounds + 1)],
        "flips_from_first": [{"from": 0, "to": r, **flip_counts(c[:, 0], c[:, r]).as_dict()}
                             for r in range(1, ch.rounds + 1)],
        "oracle": ch.oracle,
    }


def _panels(flips: list[dict]) -> list[FlipPanel]:
    return [FlipPanel(f["from"], f["to"], [[f["right→right"], f["right→wrong"]],
                                           [f["wrong→right"], f["wrong→wrong"]]]) for f in flips]


def flip_plots(ex: dict, protocol: str = "") -> list[FlipMatrix]:
    """The flip figures of `flip_extras`: consecutive attempts, then attempt 0 to each attempt after the first."""
    out = []
    if ex["flips"]:
        one = ex["flips"][0]
        title = ("Flips between consecutive attempts" if len(ex["flips"]) > 1
                 else f"Flips from attempt {one['from']} to attempt {one['to']}")
        out.append(FlipMatrix(_panels(ex["flips"]), title, protocol=protocol))
    later = [f for f in ex["flips_from_first"] if f["to"] != 1]
    if later:
        out.append(FlipMatrix(_panels(later), "Flips from attempt 0 to each later attempt", protocol=protocol))
    return out


def conditioned_n(name: str, before: np.ndarray, n: int) -> int:
    """The chains a metric is computed over: CL conditions on those right at attempt 0, CS on those wrong there."""
    if name == "cl":
        return int(before.sum())
    if name == "cs":
        return int((~before).sum())
    return n


@summarizer("self_correction")
def summarize_self_correction(g: Group) -> Summary | None:
    """Rows at every round r >= 1 comparing round r with round 0; extras with the flip matrices."""
    ch = build_chains(g.samples, g.rounds)
    if ch is None or ch.rounds < 1:
        return None
    rng = np.random.default_rng(g.seed)
    n = len(ch.docs)
    rows = []
    for r in range(1, ch.rounds + 1):
        before, after = ch.correct[:, 0], ch.correct[:, r]
        carried = int((~ch.answered[:, r]).sum())
        note = CARRIED.format(k=carried, n=n) if carried else ""
        if carried:
            rows.append(g.row(r, "accuracy_carried", accuracy_carried(after),
                              bootstrap_mean_ci(after.astype(float), ch.docs, seed=g.seed), n, note))
        boot = resampled_flips(ch.docs, before, after, N_BOOT, rng)
        for name, fn in ROUND_METRICS:
            rows.append(g.row(r, name, fn(before, after), percentile_ci(fn(boot)), conditioned_n(name, before, n),
                              join(note, undefined_reason(name, before, after))))
    ex = flip_extras(ch)
    return Summary(rows, ex, flip_plots(ex))

