"""`exec_feedback` on the tiny model: failing programs get their error back for 2 more rounds; passes stop."""
from __future__ import annotations

import json

import pytest

from evalsuite import evaluate
from evalsuite.errors import UsageError
from evalsuite.protocols.base import Settings, Turn
from evalsuite.records import Generation, Request
from evalsuite.registry import PROTOCOLS, lookup
from evalsuite.tasks import catalog, load_docs


@pytest.fixture(scope="module")
def run(tiny_backend, tmp_path_factory):
    out = tmp_path_factory.mktemp("exec-feedback")
    res = evaluate(tasks="humaneval", model=tiny_backend, limit=2, output_dir=out, protocol="exec_feedback",
                   rounds=2, max_tokens=12, progress=False, log=lambda m: None)
    return res, out


def test_failed_chains_get_two_feedback_rounds(run):
    res, _ = run
    by_chain = {}
    for s in res.samples:
        by_chain.setdefault(s.doc_id, []).append(s)
    for chain in by_chain.values():
        chain.sort(key=lambda s: s.round)
        # the random tiny model never writes a passing function, so every chain uses all 1 + 2 attempts
        assert [s.attempt for s in chain] == [0, 1, 2] and not any(s.correct for s in chain)
        for before, after in zip(chain, chain[1:]):
            shown = after.request.messages[-1][1]
            assert before.info["exec"]["message"] in shown
            assert after.request.messages[-2] == ("assistant", before.generation.text)
            assert after.request.messages[:-2] == before.request.messages
        assert "```python code block" in chain[1].request.messages[-1][1]  # the task's answer_format


def test_per_round_pass_rates_and_flips_are_reported(run):
    res, out = run
    for rnd in (0, 1, 2):
        row = res.metric("humaneval", "pass@1", round=rnd)
        assert row.value == 0.0 and row.n == 2
    names = {(r.metric, r.round) for r in res.metrics}
    assert ("delta_i2c", 2) in names and ("cs", 1) in names  # the self-correction summary picks the chains up
    payload = json.loads((out / "results.json").read_text())
    assert [e["round"] for e in payload["tasks"]["humaneval"]["extras"]["pass_at_k"]["per_round"]] == [0, 1, 2]


def _turn(status: str, message: str) -> Turn:
    gen = Generation(text="reply", token_ids=[], stats={}, finish_reason="stop", backend="hf", model_id="m")
    return Turn(Request(messages=(("user", "q"),)), gen, "code", None, {"exec": {"status": status, "message": message}})


def test_a_passing_program_or_the_last_round_ends_the_chain():
    card = catalog()["cruxeval_o"]
    doc = load_docs(card, limit=1)[0]
    proto = lookup(PROTOCOLS, "protocol", "exec_feedback")(card, Settings(rounds=2))
    assert proto.next(doc, [[_turn("passed", "")]]) is None
    again = proto.next(doc, [[_turn("failed", "AssertionError\n  at line 7: assert 1 == 2")]])
    assert len(again) == 1 and "AssertionError\n  at line 7: assert 1 == 2" in again[0].messages[-1][1]
    assert again[0].messages[:2] == (("user", "q"), ("assistant", "reply"))
    assert again[0].gen.stop == ("[/ANSWER]",)
    failed = [[_turn("failed", "x")]] * 3
    assert proto.next(doc, failed) is None


def test_tasks_not_scored_by_execution_are_refused():
    with pytest.raises(UsageError, match="exec_feedback needs a task scored by running code"):
        lookup(PROTOCOLS, "protocol", "exec_feedback")(catalog()["gsm8k"], Settings())
