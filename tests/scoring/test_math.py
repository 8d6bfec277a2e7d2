"""Tests for the MATH scorer: boxed extraction, Hendrycks is_equiv and Math-Verify equivalence."""
from __future__ import annotations

import json
import threading

import math_verify
import pytest
from math_verify.errors import TimeoutException

from evalsuite.registry import SCORERS
from evalsuite.scoring import math as m

from evalsuite.tasks.cards import DATA_DIR

DATA = DATA_DIR / "math500" / "test.jsonl"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    with open(DATA, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_gold_of_real_records(records):
    assert m.gold(records[0]) == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert m.gold(records[2]) == "\\frac{14}{3}"
    assert m.gold(records[4]) == "\\text{Evelyn}"


def test_gold_from_solution_matches_answer_field(records):
    for record in records:
        assert m.gold({"solution": record["solution"]}) == record["answer"]


def test_record0_polar_point(records):
    output = "We get r = 3 and theta = pi/2, so the answer is $\\boxed{(3, \\frac{\\pi}{2})}$."
    result = m.MathScorer().score(output, m.gold(records[0]))
    assert result.correct and result.conventions == {"math_verify": True, "hendrycks": True}
    assert result.extracted == "(3, \\frac{\\pi}{2})"


def test_every_gold_boxed_back_is_correct(records):
    scorer = m.MathScorer()
    for record in records:
        result = scorer.score(f"The answer is $\\boxed{{{record['answer']}}}$.", record["answer"])
        assert result.conventions == {"math_verify": True, "hendrycks": True}, record["answer"]


def test_gold_errors_without_answer():
    with pytest.raises(ValueError):
        m.gold({"solution": "no boxed answer"})
    assert m.gold({"solution": "so $\\fbox{12}$ and \\boxed{\\frac{1}{3}}."}) == "\\frac{1}{3}"


@pytest.mark.parametrize(
    "text, span, content",
    [
        ("a \\boxed{1} b \\boxed{\\frac{\\sqrt{3}}{2}} c", "\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}"),
        ("so \\fbox{7}.", "\\fbox{7}", "7"),
        ("\\boxed{1} then \\fbox{2}", "\\fbox{2}", "2"),
        ("$\\boxed 5$", "\\boxed 5", "5"),
        ("the answer is \\boxed 12. Done", "\\boxed 12", "12"),
        ("\\boxed {x+1}", "\\boxed {x+1}", "x+1"),
        ("\\boxed{\\{1, 2\\}}", "\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
        ("\\boxed{\\left\\{ 1 \\right.}", "\\boxed{\\left\\{ 1 \\right.}", "\\left\\{ 1 \\right."),
        ("\\boxed{unclosed", None, None),
        ("no box here", None, None),
    ],
)
def test_boxed_extraction(text, span, content):
    assert m.last_boxed_only_string(text) == span
    assert m.last_boxed_content(text) == content
    if span is not None:
        assert m.remove_boxed(span) == content


def test_remove_boxed_rejects_non_boxed():
    assert m.remove_boxed("5") is None
    assert m.remove_boxed("\\boxed{5") is None
    assert m.remove_boxed("\\boxedx") is None


@pytest.mark.parametrize(
    "raw, stripped",
    [
        ("\\frac12", "\\frac{1}{2}"),
        ("\\frac1{2}", "\\frac{1}{2}"),
        ("\\dfrac{3}{4}", "\\frac{3}{4}"),
        ("0.5", "\\frac{1}{2}"),
        (".5", "\\frac{1}{2}"),
        ("3/4", "\\frac{3}{4}"),
        ("3/x", "3/x"),
        ("x = 7", "7"),
        ("xyz = 7", "xyz=7"),
        ("5\\text{ cm}", "5"),
        ("90^\\circ", "90"),
        ("10\\%", "10"),
        ("\\$4.50", "4.50"),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
        ("2\\sqrt3", "2\\sqrt{3}"),
        ("1\\!000", "1000"),
        ("\\{ .5 \\}", "\\{0.5\\}"),
    ],
)
def test_strip_string(raw, stripped):
    assert m.strip_string(raw) == stripped


@pytest.mark.parametrize(
    "a, b, equal",
    [
        ("\\frac{1}{2}", "0.5", True),
        ("\\dfrac{14}{3}", "\\frac{14}{3}", True),
        ("\\tfrac12", "\\frac{1}{2}", True),
        ("\\frac{\\sqrt3}{2}", "\\frac{\\sqrt{3}}{2}", True),
        ("5\\text{ cm}", "5", True),
        ("5\\text{cm}", "5", False),
        ("90^{\\circ}", "90", True),
        ("10\\%", "10", True),
        ("x=5", "5", True),
        ("[-2, 7)", "[-2,7)", True),
        ("(-2, 7)", "[-2,7)", False),
        ("Evelyn", "\\text{Evelyn}", False),
        ("-2, 1", "1,-2", False),
        ("15", "\\frac{14}{3}", False),
        (None, None, True),
        (None, "1", False),
        ("1", None, False),
        ("\\sqrt", "\\sqrt", True),
        ("1\\text{ a}\\text{ b}", "1", False),
        ("1\\text{ a}\\text{ b}", "1\\text{ a}\\text{ b}", True),
    ],
)
def test_is_equiv(a, b, equal):
    assert m.is_equiv(a, b) is equal


@pytest.mark.parametrize(
    "output, target, mv, hendrycks, extracted",
    [
        ("$\\boxed{\\frac{1}{2}}$", "0.5", True, True, "\\frac{1}{2}"),
        ("so $f = \\boxed{\\dfrac{14}{3}}$", "\\frac{14}{3}", True, True, "\\dfrac{14}{3}"),
        ("$\\boxed{\\frac{\\sqrt{3}}{2}}$", "\\frac{\\sqrt{3}}{2}", True, True, "\\frac{\\sqrt{3}}{2}"),
        ("The side is $\\boxed{5\\text{ cm}}$.", "5", True, True, "5\\text{ cm}"),
        ("The angle is $\\boxed{90^\\circ}$.", "90^\\circ", True, True, "90^\\circ"),
        ("The angle is $\\boxed{90}$.", "90^\\circ", True, True, "90"),
        ("$\\boxed{10\\%}$", "10\\%", True, True, "10\\%"),
        ("$\\boxed{[-2,7)}$", "[-2, 7)", True, True, "[-2,7)"),
        ("$\\boxed{(-2,7)}$", "[-2, 7)", False, False, "(-2,7)"),
        ("$\\boxed{\\text{Evelyn}}$", "\\text{Evelyn}", True, True, "\\text{Evelyn}"),
        ("$\\boxed{5}$", "x=5", True, True, "5"),
        ("$\\boxed{-2, 1}$", "1,-2", True, False, "-2, 1"),
        ("$\\boxed{15}$", "\\frac{14}{3}", False, False, "15"),
        ("The answer is 3/4", "\\frac{3}{4}", True, False, "3/4"),
        ("I cannot solve this problem.", "5", False, False, None),
        ("", "5", False, False, None),
    ],
)
def test_score(output, target, mv, hendrycks, extracted):
    result = m.MathScorer().score(output, target)
    assert result.conventions == {"math_verify": mv, "hendrycks": hendrycks}
    assert result.correct is mv
    assert result.extracted == extracted


def test_registered():
    assert SCORERS["math"] is m.MathScorer
    assert m.MathScorer.primary == "math_verify"
    assert m.MathScorer().gold({"answer": "\\frac{1}{2}"}) == "\\frac{1}{2}"


def test_verify_timeout_counts_as_incorrect(monkeypatch):
    def slow(*args, **kwargs):
        raise TimeoutException("Timeout during comparison")

    monkeypatch.setattr(math_verify, "verify", slow)
    result = m.MathScorer().score("$\\boxed{2}$", "2")
    assert not result.correct and result.info["timeout"] is True
    assert result.conventions["hendrycks"] is True


def test_verify_error_counts_as_incorrect(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(math_verify, "verify", broken)
    result = m.MathScorer().score("$\\boxed{2}$", "2")
    assert not result.correct and result.info["error"] == "verify: RuntimeError"


def test_runs_outside_main_thread():
    results: list = []
    errors: list = []

    def work():
        try:
            results.append((m._mv_timeout(), m.MathScorer().score("$\\boxed{\\frac{2}{4}}$", "0.5")))
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert not errors
    timeout, result = results[0]
    assert timeout is None and result.correct and not result.info
    assert m._mv_timeout() == m.MV_TIMEOUT_S
