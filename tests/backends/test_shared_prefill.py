"""hf decode: a batch that repeats a prompt (a doc's temperature samples) prefills it once, with the same results."""
from __future__ import annotations

import torch

from evalsuite.backends.hf import HFBackend
from evalsuite.records import GenParams, Request


def test_repeated_prompts_match_one_by_one(tiny_model_dir, monkeypatch):
    from evalsuite.backends import hf_decode

    used = []
    real = hf_decode._shared_prefill
    monkeypatch.setattr(hf_decode, "_shared_prefill", lambda *a: used.append(real(*a)) or used[-1])
    want = ("logprob", "entropy", "mink_mu", "mink_sigma")
    reqs = [Request(messages=(("user", "Natalia sold clips to 48 of her friends."),), want=want,
                    gen=GenParams(max_tokens=10, temperature=0.8, top_p=0.95, seed=s)) for s in range(3)]
    reqs += [Request(messages=(("user", "What is 2+3?"),), want=want, gen=GenParams(max_tokens=10))] * 2
    batched = HFBackend(str(tiny_model_dir), {"batch_size": 8}).generate(reqs)
    assert used[0] is not None and used[0][0].shape[0] == 5  # 2 distinct prompts prefilled, 5 rows out
    used.clear()
    single = HFBackend(str(tiny_model_dir), {"batch_size": 1}).generate(reqs)
    assert used == [None] * 5
    for b, s in zip(batched, single):
        assert b.token_ids == s.token_ids
        for k in want:
            assert torch.allclose(torch.tensor(b.stats[k]), torch.tensor(s.stats[k]), atol=1e-4), k
    assert len({tuple(g.token_ids) for g in batched[:3]}) > 1  # distinct seeds still give distinct samples
