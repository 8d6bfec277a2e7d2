"""The six self-correction protocols, 2 rounds each on the tiny model through evaluate(): the number and kinds
of samples, histories extended rather than rebuilt, and per-round self-correction rows."""
from __future__ import annotations

import pytest

from evalsuite import evaluate
from evalsuite.errors import UsageError
from evalsuite.protocols.base import Settings
from evalsuite.registry import PROTOCOLS, lookup
from evalsuite.tasks import catalog

PROTOCOL_NAMES = ("repeat", "review", "self_refine", "cove", "reflexion", "oracle")
ROUND_ROWS = {"delta", "delta_i2c", "delta_c2i", "cl", "cs", "rss"}


@pytest.fixture(scope="module")
def runs(tiny_backend, tmp_path_factory):
    out = {}
    for name in PROTOCOL_NAMES:
        out[name] = evaluate(tasks="correctbench_gsm8k", model=tiny_backend, limit=2, rounds=2, protocol=name,
                             output_dir=tmp_path_factory.mktemp(name), max_tokens=6, progress=False,
                             log=lambda m: None)
    return out


def chains(res):
    by: dict[tuple, list] = {}
    for s in res.samples:
        by.setdefault((s.doc_id, s.sample_idx), []).append(s)
    return [sorted(v, key=lambda s: s.round) for v in by.values()]


def kinds(chain):
    return [s.kind for s in chain]


def is_extension(later, earlier) -> bool:
    """`later`'s messages are `earlier`'s plus the reply to it plus new turns."""
    m, e = later.request.messages, earlier.request.messages
    return m[: len(e)] == e and m[len(e)] == ("assistant", earlier.generation.text)


@pytest.mark.parametrize("name", PROTOCOL_NAMES)
def test_every_protocol_gives_three_scored_answers_and_round_rows(runs, name):
    res = runs[name]
    for chain in chains(res):
        answers = [s for s in chain if s.kind == "answer"]
        # the random tiny model never answers right, so no chain stops early (oracle and self_refine included)
        assert [s.attempt for s in answers] == [0, 1, 2]
        assert all(s.attempt is None and s.correct is None for s in chain if s.kind != "answer")
    got = {(r.metric, r.round) for r in res.metrics if r.task == "correctbench_gsm8k"}
    for rnd in (1, 2):
        assert {(m, rnd) for m in ROUND_ROWS} <= got
    assert ("accuracy", 2) in got


def test_repeat_asks_the_same_question_again(runs):
    for chain in chains(runs["repeat"]):
        assert kinds(chain) == ["answer"] * 3
        question = chain[0].request.messages[0][1]
        for before, after in zip(chain, chain[1:]):
            assert is_extension(after, before) and after.request.messages[-1] == ("user", question)


def test_review_critiques_then_improves(runs):
    for chain in chains(runs["review"]):
        assert kinds(chain) == ["answer", "feedback", "answer", "feedback", "answer"]
        assert all(is_extension(b, a) for a, b in zip(chain, chain[1:]))
        assert "problems" in chain[1].request.messages[-1][1]
        assert '"#### <number>"' in chain[2].request.messages[-1][1]  # the task card's answer_format


def test_self_refine_feedback_then_refinement(runs):
    for chain in chains(runs["self_refine"]):
        assert kinds(chain) == ["answer", "feedback", "answer", "feedback", "answer"]
        assert all(is_extension(b, a) for a, b in zip(chain, chain[1:]))
        assert "Verdict: correct" in chain[1].request.messages[-1][1]


def test_reflexion_retries_in_a_new_trial_with_its_reflections(runs):
    for chain in chains(runs["reflexion"]):
        assert kinds(chain) == ["answer", "reflect", "answer", "reflect", "answer"]
        question = chain[0].request.messages[0][1]
        assert is_extension(chain[1], chain[0])
        retry = chain[2].request.messages
        assert len(retry) == 1 and retry[0][1].startswith(question) and chain[1].generation.text.strip() in retry[0][1]
        second = chain[4].request.messages[0][1]
        assert chain[1].generation.text.strip() in second and chain[3].generation.text.strip() in second


def test_cove_plans_verifies_independently_and_revises(runs):
    for chain in chains(runs["cove"]):
        ks = kinds(chain)
        assert ks.count("answer") == 3 and ks.count("plan") == 2
        assert set(ks) <= {"answer", "plan", "verify"}
        assert chain[0].request.messages[0][1].endswith('in the form "#### <number>".')  # the direct prompt
        for s in chain:
            if s.kind == "verify":
                assert len(s.request.messages) == 1  # a fresh conversation per question
            if s.kind == "plan":
                prev = next(p for p in reversed(chain) if p.round == s.round - 1)
                assert prev.kind == "answer" and is_extension(s, prev)
        finals = [s for s in chain if s.kind == "answer"][1:]
        plans = [s for s in chain if s.kind == "plan"]
        assert all(is_extension(f, p) for f, p in zip(finals, plans))


def test_oracle_is_marked_everywhere(runs):
    res = runs["oracle"]
    assert all(s.info.get("oracle") for s in res.samples)
    rows = [r for r in res.metrics if r.task == "correctbench_gsm8k"]
    assert rows and all("oracle" in r.note for r in rows)
    for chain in chains(res):
        assert chain[1].request.messages[-1][1].startswith("Your answer is incorrect.")


def test_no_other_protocol_is_marked_oracle(runs):
    for name in PROTOCOL_NAMES:
        if name != "oracle":
            assert not any(s.info.get("oracle") for s in runs[name].samples)
            assert not lookup(PROTOCOLS, "protocol", name).oracle


def test_rounds_one_gives_one_correction(tiny_backend, tmp_path):
    res = evaluate(tasks="gsm8k", model=tiny_backend, limit=1, rounds=1, protocol="review", output_dir=tmp_path,
                   max_tokens=4, progress=False, log=lambda m: None)
    assert [s.kind for s in sorted(res.samples, key=lambda s: s.round)] == ["answer", "feedback", "answer"]
    assert res.metric("gsm8k", "delta", round=1).n == 1


@pytest.mark.slow
@pytest.mark.parametrize("task", ["math500", "correctbench_aqua", "correctbench_hotpotqa", "correctbench_csqa"])
def test_every_protocol_runs_two_rounds_on_other_tasks(tiny_backend, tmp_path, task):
    for name in PROTOCOL_NAMES:
        res = evaluate(tasks=task, model=tiny_backend, limit=1, rounds=2, protocol=name,
                       output_dir=tmp_path / name, max_tokens=3, progress=False, log=lambda m: None)
        assert sorted(s.attempt for s in res.samples if s.kind == "answer") == [0, 1, 2]
        assert res.metric(task, "cl", round=2).n + res.metric(task, "cs", round=2).n == 1  # the one chain


def test_a_task_without_a_starting_prompt_names_the_fix():
    card = catalog()["gsm8k"]
    bare = type(card)(**{**card.__dict__, "prompts": {"other": "x"}})
    with pytest.raises(UsageError, match="choose another --protocol"):
        lookup(PROTOCOLS, "protocol", "review")(bare, Settings())
