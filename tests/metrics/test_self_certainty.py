"""Self-certainty against a brute-force full-logit computation on the tiny model, and best-of-N selectors on
hand-worked vote tables (SPEC-metrics §3)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from evalsuite.metrics.self_certainty import borda_vote, majority_vote, n_values, select_max, self_certainty
from evalsuite.records import GenParams, Request


def _kl_uniform(logits: torch.Tensor) -> torch.Tensor:
    """KL(U || p) per row, written out as sum_j (1/V) log((1/V) / p_j), in float64."""
    logp = torch.log_softmax(logits.double(), -1)
    v = logits.shape[-1]
    return ((1.0 / v) * (math.log(1.0 / v) - logp)).sum(-1)


def test_streamed_self_certainty_equals_full_logit_brute_force(tiny_backend):
    be = tiny_backend
    req = Request(messages=(("user", "Janet has 3 ducks and buys 2 more. How many ducks?"),),
                  gen=GenParams(max_tokens=12), want=("sc_term",))
    gen = be.generate([req])[0]
    assert len(gen.token_ids) > 0
    text, special = be.render(req)
    prompt_ids = be.tokenizer(text, add_special_tokens=special)["input_ids"]
    ids = torch.tensor([prompt_ids + gen.token_ids])
    with torch.inference_mode():
        logits = be.model(input_ids=ids).logits[0]
    n, p = len(gen.token_ids), len(prompt_ids)
    brute = _kl_uniform(logits[p - 1 : p - 1 + n]).mean().item()
    assert self_certainty(gen.stats["sc_term"]) == pytest.approx(brute, abs=1e-5)


def test_official_positions_are_shifted_by_one(tiny_backend):
    be = tiny_backend
    req = Request(messages=(("user", "How many legs do 4 cats have?"),))
    reply = "4 cats have 16 legs."
    text, special = be.render(req)
    p_ids = be.tokenizer(text, add_special_tokens=special)["input_ids"]
    c_ids = be.tokenizer(reply, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = be.model(input_ids=torch.tensor([p_ids + c_ids])).logits[0]
    p, n = len(p_ids), len(c_ids)
    official = self_certainty(be.score(req, reply, ["sc_term"], offset=1)["sc_term"])
    assert official == pytest.approx(_kl_uniform(logits[p : p + n]).mean().item(), abs=1e-5)
    aligned = self_certainty(be.score(req, reply, ["sc_term"], offset=0)["sc_term"])
    assert aligned == pytest.approx(_kl_uniform(logits[p - 1 : p - 1 + n]).mean().item(), abs=1e-5)
    forced = be.score_requests([Request(messages=req.messages, continuation=reply, score_offset=1,
                                        want=("sc_term",), kind="sc_official")])[0]
    assert self_certainty(forced.stats["sc_term"]) == pytest.approx(official, abs=1e-9)


def test_borda_hand_worked_vote_table():
    answers = ["A", "A", "A", "B"]
    scores = [0.1, 0.2, 0.3, 0.9]
    # ranks by score: idx3 -> 4 points, idx2 -> 3, idx1 -> 2, idx0 -> 1 (each to the power p)
    assert borda_vote(answers, scores, p=0) == 0  # A: 3 votes vs B: 1
    assert borda_vote(answers, scores, p=1) == 0  # A: 1+2+3 = 6 vs B: 4
    assert borda_vote(answers, scores, p=3) == 3  # A: 1+8+27 = 36 vs B: 64
    # p = 0.5: A = 1 + sqrt2 + sqrt3 = 4.15 vs B = 2
    assert borda_vote(answers, scores, p=0.5) == 0


def test_borda_unparsed_outputs_and_ties():
    # unparsed outputs still take a rank but add nothing; the tie A=B goes to the lower index
    answers = [None, "B", "A"]
    scores = [0.9, 0.5, 0.5]
    # ranks: idx0 -> 3 (unparsed), idx1 -> 2, idx2 -> 1 ; p=0: A=1, B=1 -> B at index 1 is first
    assert borda_vote(answers, scores, p=0) == 1
    assert borda_vote(answers, scores, p=1) == 1  # B = 2 vs A = 1
    assert borda_vote([None, None], [1.0, 2.0]) is None


@pytest.mark.parametrize("seed", range(20))
def test_borda_with_p0_is_majority_vote(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    answers = [None if rng.uniform() < 0.2 else str(rng.integers(0, 3)) for _ in range(n)]
    scores = list(rng.normal(size=n))
    assert borda_vote(answers, scores, p=0) == majority_vote(answers)


def test_majority_and_max_selectors():
    assert majority_vote(["7", "8", "8", "7"]) == 0  # tie: the answer seen first
    assert majority_vote([None, "3", "4", "4"]) == 2
    assert majority_vote([None, None]) is None
    assert select_max(["1", None, "2", "3"], [0.5, 9.0, 0.7, 0.7]) == 2  # unparsed never wins; tie -> lower index
    assert select_max([None], [1.0]) is None


def test_n_values():
    assert n_values(8) == [1, 2, 4, 8]
    assert n_values(6) == [1, 2, 4, 6]
    assert n_values(1) == [1]
