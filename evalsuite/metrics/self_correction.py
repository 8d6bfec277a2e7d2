"""Self-correction metrics over paired correctness before/after correction (SPEC-metrics §1 and §2).

Inputs are boolean arrays, one entry per (doc, sample) chain: `before` at an earlier round, `after` at a later
one. Everything is pooled over chains (CL/CS are micro ratios, as in the Confidence-v.s.-Critique code); Δ^{i→c}
and Δ^{c→i} divide by ALL chains (SCoRe). Functions also accept `Flips` of count arrays, so a bootstrap can
evaluate many resamples at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalsuite.metrics.base import metric

YANG = ("Yang et al. 2025, Confidence v.s. Critique: A Decomposition of Self-Correction Capability for LLMs "
        "(arXiv 2412.19513, ACL 2025)")
SCORE = "Kumar et al. 2024, Training Language Models to Self-Correct via Reinforcement Learning (SCoRe, arXiv 2409.12917)"


@dataclass(frozen=True)
class Flips:
    """The 2×2 flip counts between two rounds: right→right, right→wrong, wrong→right, wrong→wrong."""

    rr: np.ndarray | float
    rw: np.ndarray | float
    wr: np.ndarray | float
    ww: np.ndarray | float

    @property
    def n(self):
        return self.rr + self.rw + self.wr + self.ww

    def as_dict(self) -> dict[str, int]:
        return {"right→right": int(self.rr), "right→wrong": int(self.rw),
                "wrong→right": int(self.wr), "wrong→wrong": int(self.ww)}


def flip_counts(before: np.ndarray, after: np.ndarray) -> Flips:
    """Count the four transitions between two paired boolean arrays."""
    b = np.asarray(before, dtype=bool)
    a = np.asarray(after, dtype=bool)
    if b.shape != a.shape:
        raise ValueError(f"before and after must pair up, got shapes {b.shape} and {a.shape}")
    return Flips(float(np.sum(b & a)), float(np.sum(b & ~a)), float(np.sum(~b & a)), float(np.sum(~b & ~a)))


def _flips(before, after=None) -> Flips:
    return before if isinstance(before, Flips) else flip_counts(before, after)


def _ratio(num, den):
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    out = np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)
    return float(out) if out.ndim == 0 else out


def acc_before(before, after=None):
    """Accuracy at the earlier round, from arrays or flip counts."""
    f = _flips(before, after)
    return _ratio(f.rr + f.rw, f.n)


def acc_after(before, after=None):
    """Accuracy at the later round, from arrays or flip counts."""
    f = _flips(before, after)
    return _ratio(f.rr + f.wr, f.n)


@metric("delta", higher_is_better=True, label="Δ accuracy (0→r)",
        definition="Accuracy at attempt r minus accuracy at attempt 0, over all problems (= Δ i→c − Δ c→i).",
        source=SCORE)
def delta(before, after=None):
    """Δ(t1, tk) = Acc(tk) − Acc(t1)."""
    f = _flips(before, after)
    return _ratio(f.wr - f.rw, f.n)


@metric("delta_i2c", higher_is_better=True, label="Δ i→c (0→r)",
        definition="Share of all problems wrong at attempt 0 and right at attempt r (incorrect → correct).",
        source=SCORE)
def delta_i2c(before, after=None):
    """Δ^{i→c}: wrong before and right after, as a fraction of ALL chains (SCoRe)."""
    f = _flips(before, after)
    return _ratio(f.wr, f.n)


@metric("delta_c2i", higher_is_better=False, label="Δ c→i (0→r)",
        definition="Share of all problems right at attempt 0 and wrong at attempt r (correct → incorrect).",
        source=SCORE)
def delta_c2i(before, after=None):
    """Δ^{c→i}: right before and wrong after, as a fraction of ALL chains (SCoRe)."""
    f = _flips(before, after)
    return _ratio(f.rw, f.n)


@metric("cl", higher_is_better=True, label="CL (0→r)",
        definition=("Confidence Level: P(right at attempt r | right at attempt 0), pooled over samples; how often a "
                    "right answer is kept."),
        source=YANG)
def confidence_level(before, after=None):
    """CL = #(right→right) / #(right before), pooled; NaN when nothing was right before."""
    f = _flips(before, after)
    return _ratio(f.rr, f.rr + f.rw)


@metric("cs", higher_is_better=True, label="CS (0→r)",
        definition=("Critique Score: P(right at attempt r | wrong at attempt 0), pooled over samples; how often a wrong"
                    " answer is fixed."),
        source=YANG)
def critique_score(before, after=None):
    """CS = #(wrong→right) / #(wrong before), pooled; NaN when nothing was wrong before."""
    f = _flips(before, after)
    return _ratio(f.wr, f.wr + f.ww)


@metric("rss", higher_is_better=True, label="RSS (0→r)",
        definition=("Relative Self-correction Score: (Acc_r − Acc_0²) / (2·Acc_0·(1 − Acc_0)); 0 at CL = Acc_0 and CS ="
                    " 0, 1 at CL = 1 and CS = Acc_0."),
        source=YANG)
def relative_self_correction(before, after=None):
    """RSS = (Acc2 − Acc1²) / (2·Acc1·(1 − Acc1)), exactly as the official code; NaN when Acc1 is 0 or 1."""
    f = _flips(before, after)
    a1 = np.asarray(acc_before(f), dtype=float)
    a2 = np.asarray(acc_after(f), dtype=float)
    return _ratio(a2 - a1 ** 2, 2 * a1 * (1 - a1))


def undefined_reason(name: str, before, after=None) -> str:
    """Why `cl`, `cs` or `rss` is NaN on these data ("" when it is defined)."""
    f = _flips(before, after)
    if f.n == 0:
        return "undefined: no chains"
    right = f.rr + f.rw
    if name == "cl" and right == 0:
        return "undefined: no answer right at round 0"
    if name == "cs" and right == f.n:
        return "undefined: no answer wrong at round 0"
    if name == "rss" and right in (0, f.n):
        return f"undefined: round-0 accuracy is {int(right == f.n)}"
    return ""


accuracy_carried = metric(
    "accuracy_carried", higher_is_better=True, label="Accuracy (last answer carried)", plot="rounds",
    definition="Accuracy at attempt r, a chain that stopped early counting with its last answer.",
    source="evalsuite, after " + SCORE, aggregate="mean")
