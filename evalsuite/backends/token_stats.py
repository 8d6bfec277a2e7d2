"""Per-token statistics reduced from full next-token logits to scalars (SPEC-metrics §3, §4)."""
from __future__ import annotations

import math
from typing import Sequence

import torch

TOPK_ENTROPY = "entropy_top"
"""`entropy_top<k>`: -sum p log p over the k most likely tokens, p from the full softmax and not renormalised,
as the RL-MIA code computes it from vLLM's top-k logprobs (SPEC-metrics §4.2 step 2)."""


def logits_stats(logits: torch.Tensor, chosen: torch.Tensor, want: Sequence[str]) -> dict[str, torch.Tensor]:
    """Reduce logits [N, V] and chosen token ids [N] to the wanted per-row scalars (float32).

    V is the logits width (which may exceed the tokenizer's vocabulary, as in the Self-Certainty code).
    """
    logp = torch.log_softmax(logits.float(), dim=-1)
    out: dict[str, torch.Tensor] = {}
    if "logprob" in want:
        out["logprob"] = logp.gather(-1, chosen.view(-1, 1)).squeeze(-1)
    if "sc_term" in want:
        out["sc_term"] = -math.log(logp.shape[-1]) - logp.mean(-1)
    if {"entropy", "mink_mu", "mink_sigma"} & set(want):
        p = logp.exp()
        mu = (p * logp).sum(-1)
        if "entropy" in want:
            out["entropy"] = -mu
        if "mink_mu" in want:
            out["mink_mu"] = mu
        if "mink_sigma" in want:
            out["mink_sigma"] = ((p * logp * logp).sum(-1) - mu * mu).clamp_min(0).sqrt()
    for name in want:
        if name.startswith(TOPK_ENTROPY) and name[len(TOPK_ENTROPY):].isdigit():
            top = logp.topk(min(int(name[len(TOPK_ENTROPY):]), logp.shape[-1]), dim=-1).values
            out[name] = -(top.exp() * top).sum(-1)
    return out
