"""One contract for every registered backend: hf (tiny Llama), openai (a real llama.cpp server), vllm (inside its
venv), mock (a scripted reply, seed-dependent when sampled). A backend registered without a case here fails.

Each case says which statistics it can compute exactly (`exact`) and which it always does (`required`); any other
statistic a backend returns must be listed in `Generation.approximate`, and the full-vocabulary identities below
must hold for the exact ones.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import pytest

from evalsuite.errors import UsageError
from evalsuite.records import GenParams, Request
from evalsuite.registry import BACKENDS, load_plugins

IN_VLLM_VENV = os.environ.get("EVALSUITE_IN_VLLM_VENV") == "1"

ALL = ("logprob", "entropy", "sc_term", "mink_mu", "mink_sigma", "entropy_top5")
QUESTIONS = ["What is 2+3?", "Natalia sold clips to 48 of her friends in April. How many did she sell?", "Hi"]


@dataclass
class Case:
    name: str
    be: object
    exact: frozenset[str]
    required: frozenset[str]
    can_score: bool
    token_ids: bool


def _req(q: str, want=("logprob",), **gen) -> Request:
    return Request(messages=((("user", q),)), gen=GenParams(**{"max_tokens": 12, **gen}), want=want)


def _n(g) -> int:
    return len(g.stats["logprob"])


def _hf(request) -> Case:
    return Case("hf", request.getfixturevalue("tiny_backend"), frozenset(ALL), frozenset(ALL), True, True)


def _openai(request) -> Case:
    from evalsuite.backends.openai import OpenAIBackend

    server = request.getfixturevalue("llama_server")
    be = OpenAIBackend(f"smollm2@{server.url}", {"concurrency": 4, "top_logprobs": 5})
    return Case("openai", be, frozenset({"logprob", "entropy_top5"}), frozenset({"logprob"}), False, False)


def _vllm(request) -> Case:
    return Case("vllm", request.getfixturevalue("vllm_backend"), frozenset(ALL), frozenset(ALL), True, True)


def _mock(request) -> Case:
    from evalsuite.backends.mock import MockBackend, prompt_text

    def script(req: Request) -> str:
        sampled = f"seed {req.gen.seed}: " if req.gen.temperature > 0 else ""
        return f"{sampled}{len(prompt_text(req))} is the answer"

    return Case("mock", MockBackend("scripted", script=script), frozenset(ALL), frozenset(ALL), True, True)


CASES = {"hf": _hf, "openai": _openai, "vllm": _vllm, "mock": _mock}
"""How to build each registered backend for the contract (a backend needing a server or a venv skips without)."""


def _registered() -> list[str]:
    load_plugins()
    return sorted(BACKENDS)


def test_every_registered_backend_has_a_case():
    assert set(_registered()) == set(CASES), "add a case for each new backend to CASES"


@pytest.fixture(scope="module", params=_registered())
def case(request):
    name = request.param
    if IN_VLLM_VENV and name != "vllm":
        pytest.skip("inside the vllm venv only the vllm case runs")
    if name not in CASES:
        pytest.fail(f"backend {name!r} is registered but has no contract case in CASES")
    return CASES[name](request)


def test_one_generation_per_request_in_order_and_batch_independent(case):
    reqs = [_req(q, max_tokens=m) for q, m in zip(QUESTIONS, (4, 7, 10))]
    gens = case.be.generate(reqs)
    assert len(gens) == 3
    for req, g in zip(reqs, gens):
        assert g.backend == case.name and g.model_id == case.be.model_id
        assert g.finish_reason in ("stop", "length")
        assert 0 < _n(g) <= req.gen.max_tokens
        if g.finish_reason == "length":
            assert _n(g) == req.gen.max_tokens
        if case.token_ids:
            assert len(g.token_ids) == _n(g)
    alone = [case.be.generate([r])[0] for r in reversed(reqs)][::-1]
    for a, g in zip(alone, gens):
        assert a.text == g.text
        assert a.stats["logprob"] == pytest.approx(g.stats["logprob"], abs=2e-3)


def test_stop_string_cuts_the_text(case):
    full = case.be.generate([_req(QUESTIONS[1], max_tokens=20)])[0]
    stop = full.text[5:8]
    assert len(stop) == 3 and full.text.find(stop) >= 0
    cut = case.be.generate([_req(QUESTIONS[1], max_tokens=20, stop=(stop,))])[0]
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.finish_reason == "stop"
    assert _n(cut) < _n(full)
    assert cut.stats["logprob"] == pytest.approx(full.stats["logprob"][: _n(cut)], abs=2e-3)


def test_statistics_are_exact_or_labelled_and_obey_full_vocabulary_identities(case):
    gens = case.be.generate([_req(q, want=ALL) for q in QUESTIONS])
    for g in gens:
        n = _n(g)
        assert "entropy_top5" in g.stats, "top-k entropy is computable by every backend here"
        for name, values in g.stats.items():
            assert len(values) == n, name
            assert name in case.exact or name in g.approximate, f"{name} neither exact nor labelled approximate"
        assert all(v <= 1e-6 for v in g.stats["logprob"])
        exact = {k: v for k, v in g.stats.items() if k not in g.approximate}
        assert set(exact) >= case.required, f"missing exact statistics {case.required - set(exact)}"
        for t in range(n):
            lp = exact["logprob"][t]
            if "entropy" in exact:
                h = exact["entropy"][t]
                assert h >= -1e-5
                assert exact["mink_mu"][t] == pytest.approx(-h, abs=1e-4)
                assert exact["mink_sigma"][t] >= 0
                assert exact["sc_term"][t] >= -1e-4
                assert exact["entropy_top5"][t] <= h + 1e-4
                assert lp >= exact["mink_mu"][t] - 1e-4, "greedy: the chosen log-prob is the maximum, >= its mean"
            if "entropy_top5" in exact:
                assert exact["entropy_top5"][t] >= -1e-6
                assert exact["entropy_top5"][t] <= 5 / math.e + 1e-4


def test_seeded_sampling_repeats_and_depends_on_the_seed(case):
    a = case.be.generate([_req(QUESTIONS[0], temperature=1.0, seed=11, max_tokens=16)])[0]
    b = case.be.generate([_req(QUESTIONS[0], temperature=1.0, seed=11, max_tokens=16)])[0]
    others = case.be.generate([_req(QUESTIONS[0], temperature=1.0, seed=s, max_tokens=16) for s in (12, 13, 14)])
    assert a.text == b.text
    assert any(o.text != a.text for o in others)


def test_choices_give_first_position_log_probs(case):
    req = Request(messages=(("user", "Is 2+3=5? Answer True or False."),), gen=GenParams(max_tokens=2),
                  want=("logprob",), choices=("True", "False"))
    g = case.be.generate([req])[0]
    lp = g.choice_logprobs
    assert lp is not None and set(lp) <= {"True", "False"}
    if "choice_logprobs" not in g.approximate:
        assert set(lp) == {"True", "False"}
    finite = [v for v in lp.values() if v > -math.inf]
    assert all(v <= 1e-6 for v in finite)
    assert math.log(sum(math.exp(v) for v in finite)) <= 1e-6 if finite else True


def test_teacher_forced_scores_match_the_generation_or_are_refused(case):
    req = _req(QUESTIONS[2], max_tokens=8)
    gen = case.be.generate([req])[0]
    forced = Request(messages=req.messages, continuation=gen.text, want=("logprob", "entropy", "sc_term"))
    if not case.can_score:
        with pytest.raises(UsageError, match="cannot score"):
            case.be.score_requests([forced])
        return
    scored = case.be.score_requests([forced])[0]
    assert scored.finish_reason == "scored"
    assert all(len(v) == len(scored.token_ids) for v in scored.stats.values())
    if scored.token_ids != gen.token_ids:
        pytest.skip("the reply does not re-tokenize to the generated ids")
    again = case.be.generate([_req(QUESTIONS[2], max_tokens=8, want=("logprob", "entropy", "sc_term"))])[0]
    for name in ("logprob", "entropy", "sc_term"):
        assert scored.stats[name] == pytest.approx(again.stats[name], abs=2e-3), name


def test_engine_runs_a_task_and_resumes_from_the_store(case, tmp_path):
    from evalsuite.api import evaluate

    kw = dict(tasks="gsm8k", model=case.be, limit=2, output_dir=tmp_path, protocol="cot", max_tokens=24,
              progress=False, log=lambda m: None)
    first = evaluate(**kw)
    again = evaluate(**kw)
    assert first.stats.generated == 2 and first.stats.from_store == 0
    assert again.stats.generated == 0 and again.stats.from_store == 2
    assert [s.generation.text for s in again.samples] == [s.generation.text for s in first.samples]
    assert all(s.generation.backend == case.name for s in first.samples)
