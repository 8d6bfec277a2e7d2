"""The hf backend reports each row at the step it finishes, and each decode step's tokens to the listener."""
from __future__ import annotations

from evalsuite.progress import RoundBar, token_listener
from evalsuite.records import GenParams, Request


def _req(q: str, max_tokens: int) -> Request:
    return Request(messages=(("user", q),), gen=GenParams(max_tokens=max_tokens), want=("logprob", "entropy"))


def test_rows_are_reported_when_they_finish_not_when_the_batch_does(tiny_backend):
    reqs = [_req("Natalia sold clips to 48 of her friends in April.", 9), _req("What is 2+3?", 3)]
    decoded, seen = [], []
    with token_listener(decoded.append):
        gens = tiny_backend.generate(reqs, on_result=lambda i, g: seen.append((i, sum(decoded), g)))
    assert [len(g.token_ids) for g in gens] == [9, 3] and all(g.finish_reason == "length" for g in gens)
    # Both rows decode for 3 steps (2 tokens each), row 1 ends there; row 0 goes on alone for 6 more steps.
    assert [(i, n) for i, n, _ in seen] == [(1, 6), (0, 12)]
    assert decoded == [2, 2, 2, 1, 1, 1, 1, 1, 1]
    assert [g for _, _, g in sorted(seen, key=lambda x: x[0])] == gens


def test_on_result_indices_span_batches(tiny_model_dir):
    from evalsuite.backends.hf import HFBackend

    be = HFBackend(str(tiny_model_dir), {"batch_size": 2})
    reqs = [_req("Hi", 4), _req("What is 2+3?", 2), _req("Q", 5)]
    seen: dict[int, object] = {}
    gens = be.generate(reqs, on_result=lambda i, g: seen.setdefault(i, g))
    assert sorted(seen) == [0, 1, 2]
    assert [seen[i] for i in range(3)] == gens


def test_round_bar_shows_tokens_per_second_before_any_request_finishes():
    bar = RoundBar(total=4, desc="round 0", enabled=True, every=0.0)
    bar.tokens(4)  # the first step (prefill) starts the clock
    bar.tokens(8)
    assert bar.bar.n == 0
    assert float(bar.bar.postfix.split("=")[1]) > 0
    bar.finished(5)
    assert bar.bar.n == 1 and bar.decoded == 8 and bar.finished_tokens == 5
    bar.close()
