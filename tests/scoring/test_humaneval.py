"""HumanEval scoring: code extraction from chat replies, the official program, and the 164 canonical solutions."""
from __future__ import annotations

import gzip
import json

import pytest

from evalsuite.registry import SCORERS, lookup
from evalsuite.scoring.code_exec import failing_line
from evalsuite.tasks.humaneval.utils import build_program, defines, extract_code
from evalsuite.tasks.cards import DATA_DIR

with gzip.open(DATA_DIR / "humaneval" / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as fh:
    RECORDS = [json.loads(line) for line in fh]
FIRST = RECORDS[0]  # has_close_elements(numbers, threshold)
BODY = FIRST["canonical_solution"]
FUNCTION = FIRST["prompt"] + BODY


def _score(replies: list[str], records: list[dict] | None = None):
    records = records or [FIRST] * len(replies)
    return lookup(SCORERS, "scorer", "humaneval")().score_many([(r, "", d) for r, d in zip(replies, records)])


def test_official_program_for_a_completion():
    program, form = build_program(FIRST, BODY)
    assert form == "body"
    assert program == FIRST["prompt"] + BODY + "\n" + FIRST["test"] + "\n" + "check(has_close_elements)\n"


def test_extract_code_prefers_the_block_that_defines_the_function():
    reply = "Idea:\n```\nx = 1\n```\nCode:\n```python\ndef has_close_elements(a, b):\n    return 1\n```\nbye"
    assert extract_code(reply, "has_close_elements") == "def has_close_elements(a, b):\n    return 1\n"
    assert extract_code("```python\nreturn 2\n```", "g") == "return 2\n"
    assert extract_code("```python\ndef g():\n    return", "g") == "def g():\n    return"  # cut-off reply
    assert extract_code("```text\nnot code\n```\nplain", "g") == "```text\nnot code\n```\nplain"
    assert extract_code("Sure, here it is:\ndef g(x):\n    return x", "g") == "def g(x):\n    return x"
    assert defines("async def g(x):\n    pass", "g") and not defines("    def g(x):", "g")


@pytest.mark.parametrize("reply", [
    BODY,                                                         # official completion
    f"```python\n{FUNCTION}```",                                  # whole function with imports, fenced
    f"Here you go:\n\n```python\n{FUNCTION}```\nIt compares every pair.",
    "```python\n" + BODY.replace("\n    ", "\n").lstrip() + "```",  # body written at column 0
])
def test_reply_forms_that_pass(reply):
    assert _score([reply])[0].correct


def test_wrong_answers_fail_with_the_failing_test_line():
    wrong, empty = _score(["    return False\n", ""])
    assert not wrong.correct and wrong.info["form"] == "body"
    assert wrong.info["exec"]["exception"] == "AssertionError"
    assert wrong.info["exec"]["failing_line"] == (
        "line 23, in check: assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True")
    assert not empty.correct and empty.info["form"] == "empty" and empty.extracted is None


def test_failing_line_of_a_syntax_error():
    stderr = ('Traceback (most recent call last):\n  File "/x/_sandbox_child.py", line 198, in _run_user\n'
              '  File "<program>", line 4\n    def f(:\n          ^\nSyntaxError: invalid syntax\n')
    assert failing_line(stderr) == "line 4: def f(:"
    assert failing_line("no traceback") is None


@pytest.mark.slow
def test_all_164_canonical_solutions_pass_and_none_returns_fail():
    gold = _score([r["canonical_solution"] for r in RECORDS], RECORDS)
    assert len(gold) == 164 and not [r["task_id"] for r, s in zip(RECORDS, gold) if not s.correct]
    fenced = _score([f"```python\n{r['prompt']}{r['canonical_solution']}```" for r in RECORDS], RECORDS)
    assert all(s.correct and s.info["form"] == "function" for s in fenced)
    stubs = _score(["    return None\n"] * 164, RECORDS)
    assert not [r["task_id"] for r, s in zip(RECORDS, stubs) if s.correct]
