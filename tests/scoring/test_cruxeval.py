"""CRUXEval scoring: official post-processing, skip rules, and execution of all 800 gold and wrong answers."""
from __future__ import annotations

import ast
import json

import pytest

from evalsuite.registry import SCORERS, lookup
from evalsuite.tasks.cruxeval.utils import answer_region, postprocess, program, skip_reason
from evalsuite.tasks.cards import DATA_DIR

RECORDS = [json.loads(x) for x in (DATA_DIR / "cruxeval" / "cruxeval.jsonl").read_text().splitlines()]
DOC = {"code": "def f(s):\n    return s + 'a'", "input": "'x9j'", "output": "'x9ja'", "id": "t"}


def _scorer(mode: str):
    return lookup(SCORERS, "scorer", f"cruxeval_{mode}")()


@pytest.mark.parametrize("reply, expected", [
    ("assert f('x9j') == 'x9ja'", "'x9ja'"),
    ("[ANSWER]\nassert f('x9j') == 'x9ja'\n[/ANSWER]", "'x9ja'"),
    ("[THOUGHT]s + 'a' gives 'x9ja' == done[/THOUGHT]\n[ANSWER]\nassert f('x9j') == 'x9ja'", "'x9ja'"),
    ("'x9ja'", "'x9ja'"),
    ("assert f('x9j') == 'x9ja'\n[/ANSWER] trailing", "'x9ja'"),
])
def test_output_postprocessing(reply, expected):
    assert postprocess(reply, "output") == expected


@pytest.mark.parametrize("reply, expected", [
    ("assert f('x9j') == 'x9ja'", "f('x9j')"),
    ("[ANSWER]\nassert f([1, 2], k=3) == 5\n[/ANSWER]", "f([1, 2], k=3)"),
    ("[THOUGHT]work back[/THOUGHT][ANSWER]assert f(16) == 17[/ANSWER]", "f(16)"),
    ("f(1)", "f(1)"),
])
def test_input_postprocessing(reply, expected):
    assert postprocess(reply, "input") == expected


@pytest.mark.parametrize("reply, expected", [
    ("assert f('reassert') == 1", "f('reassert')"),
    ("assert  f(3) == 5", "assert  f(3)"),
    ("assert\tf(3) == 5", "assert\tf(3)"),
    ("assertf(3) == 5", "assertf(3)"),
    ("assert g(f(3)) == 5", "assert g(f(3))"),
    ("the call f('assert') == 'x'", "the call f('assert')"),
    ("Input: assert f(5) == 6", "f(5)"),
    ("assert f('assert f') == 1", "f('"),
    ("assert foo(2) == 4", "foo(2)"),
    ("assert f(1) or assert f(2)", "f(1) or"),
])
def test_input_split_follows_the_official_assert_f_rule(reply, expected):
    """Expected values worked by hand from facebookresearch/cruxeval inference/tasks/input_prediction.py @ ded6ba1.

    Its `postprocess_generation` keeps the text before the first `==`, then, when `"assert f"` occurs, `"f"` plus
    the stripped text after its first occurrence; otherwise the text stays as it is (and is executed as such by
    evaluation/utils_general.py `evaluate_score` when it holds "f(")."""
    assert postprocess(reply, "input") == expected


def test_input_split_decides_execution_like_the_official_code():
    """`f('reassert')` runs and passes; `assert  f(3)` (two spaces) is kept whole, so the official check
    `assert 1 == assert  f('reassert')` is a SyntaxError: run (it holds "f("), never skipped, and failed."""
    doc = {"code": "def f(s):\n    return s.count('a')", "input": "'reassert'", "output": "1", "id": "c"}
    right, spaced, bare = _scorer("i").score_many([
        ("assert f('reassert') == 1", "", doc),
        ("assert  f('reassert') == 1", "", doc),
        ("assert g('reassert') == 1", "", doc),
    ])
    assert right.correct and right.extracted == "f('reassert')"
    assert not spaced.correct and not spaced.info["skipped"]
    assert spaced.extracted == "assert  f('reassert')" and spaced.info["exec"]["exception"].startswith("SyntaxError")
    assert not bare.correct and bare.info["skipped"]


def test_lenient_drops_fences_and_reads_the_last_answer_block():
    reply = "[ANSWER] draft [/ANSWER] then [ANSWER]\n```python\nassert f('x9j') == 'x9ja'\n```\n[/ANSWER]"
    assert answer_region(reply) == "draft"
    assert postprocess(reply, "output", lenient=True) == "'x9ja'"
    assert postprocess("```python\nassert f('x9j') == 'x9ja'\n```", "output") == "'x9ja'\n```"


def test_skip_rules():
    assert skip_reason("'x9ja'", "input", DOC) is not None  # I-mode needs a call "f("
    assert skip_reason("f('x9j')", "output", DOC) is not None  # O-mode may not call f on the input
    assert skip_reason("f('x9')", "output", DOC) is None  # another call is not the literal rule
    assert skip_reason("f('zz')", "input", DOC) is None


def test_program_is_the_official_check():
    assert program(DOC, "'x9ja'") == "def f(s):\n    return s + 'a'\nassert 'x9ja' == 'x9ja'"


def test_scores_record_execution_and_skips():
    o, i = _scorer("o"), _scorer("i")
    right, wrong, cheat = o.score_many([(r, "", DOC) for r in ("== 'x9ja'", "== 'x9j'", "== f('x9j')")])
    assert right.correct and right.info["exec"]["status"] == "passed" and not right.info["skipped"]
    assert not wrong.correct and wrong.info["exec"]["exception"] == "AssertionError"
    assert wrong.info["exec"]["failing_line"] == "line 3: assert 'x9ja' == 'x9j'"
    assert not cheat.correct and cheat.info["skipped"] and cheat.info["exec"]["status"] == "skipped"
    call = i.score("assert f('x9') == 'x9ja'", "", DOC)
    assert not call.correct and call.extracted == "f('x9')"
    assert i.score("assert f('x9j') == 'x9ja'", "f('x9j')", DOC).correct
    assert i.gold(DOC) == "f('x9j')" and o.gold(DOC) == "'x9ja'"
    assert set(right.conventions) == {"official", "lenient"}


def test_runaway_answers_time_out_after_3_seconds():
    loop = {"code": "def f(n):\n    while n:\n        pass\n    return n", "input": "1", "output": "0", "id": "x"}
    sc = _scorer("i").score("assert f(1) == 0", "", loop)
    assert not sc.correct and sc.info["exec"]["status"] == "timeout"
    assert "3 s" in sc.info["exec"]["message"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["o", "i"])
def test_all_800_gold_answers_pass(mode):
    replies = [f"[ANSWER]\nassert f({r['input']}) == {r['output']}\n[/ANSWER]" for r in RECORDS]
    scores = _scorer(mode).score_many([(x, "", r) for x, r in zip(replies, RECORDS)])
    failed = [(r["id"], s.info["exec"]) for r, s in zip(RECORDS, scores) if not s.correct]
    assert len(scores) == 800 and not failed, failed[:3]


def _other_value(i: int) -> str:
    """The output literal of the next record whose value is != record i's (so True vs 1 does not count)."""
    mine = ast.literal_eval(RECORDS[i]["output"])
    for j in range(1, len(RECORDS)):
        other = RECORDS[(i + j) % len(RECORDS)]["output"]
        value = ast.literal_eval(other)
        if value != mine:
            return other
    raise AssertionError("no different output")


@pytest.mark.slow
def test_all_800_wrong_outputs_fail():
    replies = [f"assert f({r['input']}) == {_other_value(i)}" for i, r in enumerate(RECORDS)]
    scores = _scorer("o").score_many([(x, "", r) for x, r in zip(replies, RECORDS)])
    assert not [r["id"] for r, s in zip(RECORDS, scores) if s.correct]
    assert all(s.info["exec"]["status"] == "failed" for s in scores)


@pytest.mark.slow
def test_all_800_wrong_inputs_fail():
    # [f(x)] is a one-element list holding the right value, never equal to the value itself (written without
    # "assert f", which the official split needs, so the whole left side is what runs)
    replies = [f"[f({r['input']})] == {r['output']}" for r in RECORDS]
    scores = _scorer("i").score_many([(x, "", r) for x, r in zip(replies, RECORDS)])
    assert not [r["id"] for r, s in zip(RECORDS, scores) if s.correct]
    assert all(not s.info["skipped"] and s.info["exec"]["exception"] == "AssertionError" for s in scores)
