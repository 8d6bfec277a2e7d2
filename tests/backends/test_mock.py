"""The scripted mock: backend: replies per prompt, in order or from a function; stop and length cuts; scripted
P(True); teacher forcing reproduces a generation; the observer stage with a scripted observer model."""
from __future__ import annotations

import math

import pytest

from evalsuite.backends.base import load_backend
from evalsuite.backends.mock import MockBackend, Reply, char_stats
from evalsuite.errors import UsageError
from evalsuite.records import GenParams, Request


def ask(text: str, **gen) -> Request:
    return Request(messages=(("user", text),), gen=GenParams(**{"max_tokens": 64, **gen}))


def test_dict_list_and_function_scripts():
    by_prompt = MockBackend(script={"2+3?": "5", "2+2?": "4"})
    assert [g.text for g in by_prompt.generate([ask("2+2?"), ask("2+3?")])] == ["4", "5"]
    with pytest.raises(UsageError, match="no reply for the prompt '7\\?'"):
        by_prompt.generate([ask("7?")])
    in_order = MockBackend(script=["a", "b"])
    assert [g.text for g in in_order.generate([ask("x"), ask("y")])] == ["a", "b"]
    with pytest.raises(UsageError, match="2 replies are used up"):
        in_order.generate([ask("z")])
    seeded = MockBackend(script=lambda r: f"seed {r.gen.seed}")
    assert seeded.generate([ask("q", seed=9)])[0].text == "seed 9"
    assert [r.messages[0][1] for r in seeded.calls] == ["q"]


def test_spec_from_the_cli_replies_with_its_model_arg_or_echoes():
    assert load_backend("mock:m", "reply=#### 18").generate([ask("q")])[0].text == "#### 18"
    echo = load_backend("mock:m")
    assert echo.model_id == "m" and echo.generate([ask("hello")])[0].text == "hello"


def test_stop_strings_and_max_tokens_cut_like_a_model():
    be = MockBackend(script=lambda r: "The answer is 5. Done.")
    stop = be.generate([ask("q", stop=(".", " is"))])[0]
    assert (stop.text, stop.finish_reason) == ("The answer", "stop")
    cut = be.generate([ask("q", max_tokens=3)])[0]
    assert (cut.text, cut.finish_reason, cut.token_ids) == ("The", "length", [84, 104, 101])


def test_statistics_are_those_of_each_characters_distribution():
    g = MockBackend(script=["ab"]).generate([Request(messages=(("user", "q"),), want=("entropy", "sc_term"))])[0]
    assert g.stats["logprob"] == [char_stats("a", ["logprob"])["logprob"], char_stats("b", ["logprob"])["logprob"]]
    s = char_stats("a", ["logprob", "entropy", "mink_mu", "entropy_top2"])
    assert s["logprob"] < 0 and s["entropy"] > 0 and s["mink_mu"] == pytest.approx(-s["entropy"])
    assert 0 < s["entropy_top2"] < s["entropy"]


def test_scripted_choice_probabilities():
    be = MockBackend(script=[Reply("True", {"True": 0.8, "False": 0.2}), "False"])
    req = Request(messages=(("user", "Is it?"),), gen=GenParams(max_tokens=1), choices=("True", "False"))
    scripted, unscripted = be.generate([req, req])
    assert scripted.text == "T" and scripted.choice_logprobs == {"True": math.log(0.8), "False": math.log(0.2)}
    assert unscripted.choice_logprobs["False"] > unscripted.choice_logprobs["True"]


def test_teacher_forcing_reproduces_the_generation():
    be = MockBackend(script=["forty-two"])
    gen = be.generate([Request(messages=(("user", "q"),), want=("logprob", "entropy"))])[0]
    forced = be.score_requests([Request(messages=(("user", "q"),), continuation=gen.text,
                                        want=("logprob", "entropy"))])[0]
    assert forced.token_ids == gen.token_ids and forced.stats == gen.stats
    shifted = be.score(Request(messages=(("user", "q"),)), "ab", ["logprob"], offset=1)["logprob"]
    assert shifted == [char_stats("q", ["logprob"])["logprob"], char_stats("a", ["logprob"])["logprob"]]


def test_latency_model_sleeps_per_request_and_per_token():
    """3 requests at latency_ms=40 plus 4-character replies at 200 tokens/s: 3 x (0.04 + 4/200) = 0.18 s of
    wall time, slept rather than spun (the process's CPU time stays far below it)."""
    import time

    be = MockBackend(model_args={"reply": "abcd", "latency_ms": 40, "tokens_per_s": 200})
    reqs = [Request(prompt=f"q{i}") for i in range(3)]
    w0, c0 = time.perf_counter(), time.process_time()
    gens = be.generate(reqs)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    assert [g.text for g in gens] == ["abcd"] * 3
    assert 0.18 <= wall < 0.5 and cpu < 0.09


def test_latency_options_must_not_be_negative():
    with pytest.raises(UsageError, match="latency_ms"):
        MockBackend(model_args={"latency_ms": -1})


def test_cached_statistics_equal_the_computed_ones_for_each_call():
    be = MockBackend(model_args={"reply": "abca"})
    want = ("logprob", "entropy", "sc_term", "mink_mu", "mink_sigma", "entropy_top50")
    g1, g2 = (be.generate([Request(prompt="x", want=want)])[0] for _ in range(2))
    for name in want:
        assert g1.stats[name] == [char_stats(c, (name,))[name] for c in "abca"]
    assert g1.stats["logprob"] is not g2.stats["logprob"]  # fresh lists: no sample shares another's arrays
