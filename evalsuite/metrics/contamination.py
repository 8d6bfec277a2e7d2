"""Contamination detectors of RL-MIA (SPEC-metrics §4.2-4.3): pure scores of one doc's generations.

Each detector returns the raw score the reference code computes; DETECTORS gives its direction, the sign that
makes higher mean "member" (§4.4: y_score = score x direction). NaN means "no score" and is dropped before ROC.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from evalsuite.errors import UsageError
from evalsuite.metrics.base import term

NAN = float("nan")
MINK_RATIO = 0.2
CDD_ALPHA = 0.05
CDD_TOKENS = 100
SIGMA_VAR_FLOOR = 1e-6


@dataclass(frozen=True)
class Detector:
    """A detector's display label and direction (+1: a higher raw score means member)."""

    label: str
    direction: int


DETECTORS: dict[str, Detector] = {
    "self_critique": Detector("Self-Critique", +1),
    "ppl": Detector("PPL", -1),
    "mink": Detector("Min-K% (k=20%)", +1),
    "mink_repo": Detector("Min-K% (k=20%, reference-repo orientation)", +1),
    "minkpp": Detector("Min-K%++ (k=20%)", +1),
    "zlib": Detector("zlib ratio", -1),
    "recall": Detector("Recall (teacher-forced)", +1),
    "recall_repo": Detector("Recall (reference repo: perturbed greedy)", +1),
    "cdd": Detector("CDD (alpha=0.05)", +1),
    "entropy_noise": Detector("Entropy-Noise", -1),
    "entropy_temp": Detector("Entropy-Temp", +1),
}

_TERMS = {
    "self_critique": ("The model critiques its own greedy answer and answers again; a member's second answer stays "
                      "close to its first (memorised), so high similarity means member.", "Tao et al. 2025 (arXiv 2510.09259)"),
    "ppl": ("Perplexity of the greedy reply: members are more predictable (lower).",
            "Carlini et al. 2021, Extracting Training Data from Large Language Models"),
    "mink": ("Min-K% Prob: mean log-probability of the 20% least likely reply tokens; higher means member.",
             "Shi et al. 2024, Detecting Pretraining Data from Large Language Models (arXiv 2310.16789)"),
    "mink_repo": ("Min-K% with the sign the RL-MIA reference code uses (inverted against the standard orientation).",
                  "Tao et al. 2025 (arXiv 2510.09259) (reference code)"),
    "minkpp": ("Min-K%++: each token's log-probability standardised by the mean and spread of log p over the "
               "vocabulary, then the mean of the lowest 20%.", "Zhang et al. 2025, Min-K%++ (arXiv 2404.02936)"),
    "zlib": ("Log-likelihood of the reply divided by its zlib-compressed length; lower means member.",
             "Carlini et al. 2021, Extracting Training Data from Large Language Models"),
    "recall": ("Change in the reply's log-likelihood when a non-member prefix is put before it.",
               "Xie et al. 2024, ReCaLL (arXiv 2406.15968)"),
    "recall_repo": ("ReCaLL as the RL-MIA reference code runs it (a perturbed greedy reply).", "Tao et al. 2025 (arXiv 2510.09259) (reference code)"),
    "cdd": ("Contamination detection via output distribution: how peaked sampled replies are around the greedy one "
            "(edit-distance share within alpha).", "Dong et al. 2024, Generalization or Memorization (arXiv 2402.15938)"),
    "entropy_noise": ("Change in mean token entropy when noise is added to the prompt.", "Tao et al. 2025 (arXiv 2510.09259)"),
    "entropy_temp": ("Change in mean token entropy across sampling temperatures.", "Tao et al. 2025 (arXiv 2510.09259)"),
}
for _key, (_definition, _source) in _TERMS.items():
    term(_key, DETECTORS[_key].label, _definition, _source)


def entropy_key(options: dict) -> str:
    """The per-token statistic the entropy-based detectors read: `entropy` or `entropy_top<K>`."""
    k = options.get("entropy_topk")
    return f"entropy_top{int(k)}" if k else "entropy"


def chosen_detectors(options: dict) -> tuple[str, ...]:
    """The detectors `--detectors` names (all by default), validated."""
    raw = options.get("detectors")
    names = [d.strip() for d in str(raw).split(",") if d.strip()] if raw else list(DETECTORS)
    bad = [d for d in names if d not in DETECTORS]
    if bad or not names:
        raise UsageError(f"unknown detector(s) {', '.join(bad) or '(none)'} in --detectors; "
                         f"choose from {', '.join(DETECTORS)}")
    return tuple(names)


def member_score(name: str, raw: float) -> float:
    """The raw score oriented so that higher means member."""
    return DETECTORS[name].direction * raw


def penalized_cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """cos(a, b) after zero-padding the shorter to the longer length, times min(len)/max(len); 0 for a zero norm."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    n = max(len(a), len(b))
    x, y = np.zeros(n), np.zeros(n)
    x[: len(a)], y[: len(b)] = a, b
    na, nb = np.linalg.norm(x), np.linalg.norm(y)
    if na == 0 or nb == 0:
        return 0.0
    return float(x @ y / (na * nb) * min(len(a), len(b)) / n)


def self_critique(first: Sequence[float], second: Sequence[float]) -> float:
    """Penalized cosine of the entropy sequences of the greedy answer and the critique pass; NaN if either is empty."""
    if len(first) == 0 or len(second) == 0:
        return NAN
    return penalized_cosine(first, second)


def perplexity(logprobs: Sequence[float]) -> float:
    """exp(-mean log p) of the chosen tokens."""
    return float(math.exp(-np.mean(logprobs))) if len(logprobs) else NAN


def _lowest(values: Sequence[float], ratio: float) -> np.ndarray | None:
    k = int(len(values) * ratio)
    return np.sort(np.asarray(values, dtype=float))[:k] if k > 0 else None


def min_k(logprobs: Sequence[float], ratio: float = MINK_RATIO) -> float:
    """Min-K% Prob, standard orientation: mean of the lowest floor(ratio*T) chosen-token log-probs."""
    low = _lowest(logprobs, ratio)
    return float(low.mean()) if low is not None else NAN


def min_k_repo(logprobs: Sequence[float], ratio: float = MINK_RATIO) -> float:
    """Min-K% as the RL-MIA code scores it: the negated mean, still used with direction +1 (§4.3 warning)."""
    return -min_k(logprobs, ratio)


def min_k_plus_plus(logprobs: Sequence[float], mu: Sequence[float], sigma: Sequence[float],
                    ratio: float = MINK_RATIO) -> float:
    """Mean of the lowest ratio*T of z_t = (log p(x_t) - mu_t) / sigma_t, sigma_t^2 floored at 1e-6."""
    n = min(len(logprobs), len(mu), len(sigma))
    if n == 0:
        return NAN
    s = np.sqrt(np.maximum(np.square(np.asarray(sigma[:n], dtype=float)), SIGMA_VAR_FLOOR))
    z = (np.asarray(logprobs[:n], dtype=float) - np.asarray(mu[:n], dtype=float)) / s
    low = _lowest(z, ratio)
    return float(low.mean()) if low is not None else NAN


def zlib_ratio(logprobs: Sequence[float], text: str) -> float:
    """Log-perplexity of the reply over its zlib-compressed length in bytes (Carlini et al. 2021)."""
    if not len(logprobs) or not text:
        return NAN
    return float(-np.mean(logprobs) / len(zlib.compress(text.encode("utf-8"))))


def recall_ratio(perturbed_logprobs: Sequence[float], original_logprobs: Sequence[float]) -> float:
    """Mean log-likelihood under the perturbed prompt over that under the original; NaN when the latter is 0."""
    if not len(perturbed_logprobs) or not len(original_logprobs):
        return NAN
    base = float(np.mean(original_logprobs))
    return float(np.mean(perturbed_logprobs)) / base if base != 0 else NAN


def token_edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    """Levenshtein distance between two token-id sequences (insert, delete, substitute all cost 1)."""
    x = np.asarray(a)
    idx = np.arange(len(x) + 1)
    prev = idx.copy()
    for i, t in enumerate(b, 1):
        best = np.empty_like(prev)
        best[0] = i
        best[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (x != t))
        prev = np.minimum.accumulate(best - idx) + idx
    return int(prev[-1])


def cdd_peak(greedy_ids: Sequence[int], sample_ids: Sequence[Sequence[int]], alpha: float = CDD_ALPHA,
             tokens: int = CDD_TOKENS) -> float:
    """CDD: share of samples within alpha*(mean length of all outputs) edits of the greedy reply (first 100 tokens)."""
    if not len(greedy_ids):
        return NAN
    dists = [token_edit_distance(greedy_ids[:tokens], s[:tokens]) for s in sample_ids if len(s)]
    if not dists:
        return NAN
    threshold = alpha * float(np.mean([len(s) for s in sample_ids] + [len(greedy_ids)]))
    return sum(d <= threshold for d in dists) / len(dists)


def entropy_noise(original: Sequence[float], perturbed: Sequence[float]) -> float:
    """Penalized cosine of the greedy entropy sequences under the original and the perturbed prompt."""
    if len(original) == 0 or len(perturbed) == 0:
        return NAN
    return penalized_cosine(original, perturbed)


def entropy_temp(greedy: Sequence[float], samples: Sequence[Sequence[float]]) -> float:
    """Mean penalized cosine of greedy vs sampled entropy sequences, times stability 1 - min(std, 1)."""
    if len(greedy) == 0:
        return NAN
    sims = [penalized_cosine(greedy, s) for s in samples if len(s)]
    if not sims:
        return NAN
    return float(np.mean(sims) * (1 - min(float(np.std(sims)), 1.0)))
