"""GSM8K scoring: the official `#### N` rule and a flexible rule for chat models (primary).

The flexible rule reads the statement an explicit marker introduces (to the end of its line or sentence, or the
`\\boxed{}` contents): when that statement is an arithmetic chain (`5 + 3 = 8`, `12 * 3 = 36 = 36`), the answer is
the number after its last `=`, so "the answer is 5 + 3 = 8" reads 8, not 5. The official rule is unchanged.
"""
from __future__ import annotations

import re
from typing import Any

from evalsuite.registry import scorer
from evalsuite.scoring.base import Score, Scorer
from evalsuite.scoring.numbers import NUMBER_RE, clean_text, find_numbers, normalize_number, numbers_equal

OFFICIAL_RE = re.compile(r"#### (\-?[0-9\.\,]+)")

_NUM = NUMBER_RE.pattern
_FILLER = r"(?:\*\*|\$|\\\(|\\\[|\\boxed\s*\{|\\text(?:bf)?\{|\\mathbf\{|[\s:=])*"
_MARKER_RES = (
    ("hash", re.compile(r"####\s*(" + _NUM + ")")),
    ("answer_is", re.compile(r"\banswer(?:\s+is)?\s*[:=]?" + _FILLER + "(" + _NUM + ")", re.IGNORECASE)),
)
_BOXED_RE = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_OP = r"(?:[-+*/x\u00d7\u00f7]|\\times|\\cdot|\\div)"
_TERM = r"\(?\s*" + _NUM + r"\s*\)?"
_EXPR = _TERM + r"(?:\s*" + _OP + r"\s*" + _TERM + ")*"
_CHAIN_RE = re.compile(_EXPR + r"(?:\s*=\s*" + _EXPR + ")+")
_RESULT_RE = re.compile(r"\s*\(?\s*(" + _NUM + r")\s*\)?\s*")
_STATEMENT_END_RE = re.compile(r"\n|[.!?](?=\s|$)")


def gold(fields: dict[str, Any]) -> str:
    """Gold answer of a GSM8K doc: the text after the final `####` of `answer`, commas removed.

    Docs without `answer` but with a `ground_truth` whose last line is `A: <number>` are read with `gold_from_a_line`.
    """
    if "answer" not in fields and "ground_truth" in fields:
        return gold_from_a_line(fields["ground_truth"])
    text = str(fields["answer"])
    if "####" in text:
        return text.split("####")[-1].strip().replace(",", "")
    if NUMBER_RE.fullmatch(text.strip()):
        return text.strip().replace(",", "")
    raise ValueError(f"GSM8K answer has no '####' line: {text[-80:]!r}")


def gold_from_a_line(text: str) -> str:
    """Gold answer from a solution whose last non-empty line is `A: <number>`, commas removed."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines or not lines[-1].startswith("A:"):
        raise ValueError(f"solution does not end with an 'A: <number>' line: {text[-80:]!r}")
    return lines[-1][2:].strip().replace(",", "")


def extract_official(output: str) -> str | None:
    """The reference extraction: first `#### N` match, commas stripped; None means `[invalid]`."""
    match = OFFICIAL_RE.search(output)
    return match.group(1).strip().replace(",", "") if match else None


def statement_value(statement: str) -> str | None:
    """When `statement` opens with an arithmetic chain (`a op b = c [= d]`), the number after the last `=` of its
    last chain ("16 - 3 - 4 = 9 eggs, 9*2 = 18" states 18), else None (the caller keeps the plain number:
    "18 = 2 * 9" states 18)."""
    statement = statement.lstrip()
    if _CHAIN_RE.match(statement) is None:
        return None
    results = [_RESULT_RE.fullmatch(chain.group(0).rsplit("=", 1)[1]) for chain in _CHAIN_RE.finditer(statement)]
    results = [r.group(1) for r in results if r]
    return results[-1] if results else None


def _statement(text: str, start: int) -> str:
    """The text from `start` to the end of its line or sentence (a `.` before a digit is a decimal point)."""
    end = _STATEMENT_END_RE.search(text, start)
    return text[start:end.start() if end else len(text)]


def _marker_hits(text: str) -> list[tuple[int, str, str]]:
    """(position, rule, number) for every explicit marker: the chain's result or the number the marker names."""
    hits: list[tuple[int, str, str]] = []
    for match in _BOXED_RE.finditer(text):
        inside = match.group(1)
        numbers = NUMBER_RE.findall(inside)
        if numbers:
            hits.append((match.end(), "boxed", statement_value(inside) or numbers[-1]))
    for rule, pattern in _MARKER_RES:
        for m in pattern.finditer(text):
            hits.append((m.end(), rule, statement_value(_statement(text, m.start(1))) or m.group(1)))
    return hits


def extract_flexible(output: str) -> tuple[str | None, str | None]:
    """(normalised number, rule) from the last explicit marker (`\\boxed{N}`, `#### N`, "the answer is N"),
    else the last number in the output; (None, None) when there is no number at all.

    A marker's statement that is an arithmetic chain gives the number after its last `=` ("#### 12 * 3 = 36" is 36).
    """
    text = clean_text(output)
    hits = _marker_hits(text)
    if hits:
        _, rule, number = max(hits, key=lambda hit: hit[0])
        return normalize_number(number), rule
    numbers = find_numbers(text)
    if numbers:
        return normalize_number(numbers[-1]), "last_number"
    return None, None


@scorer("gsm8k")
class GSM8KScorer(Scorer):
    """GSM8K: `flexible` (primary) and `official` conventions."""

    primary = "flexible"
    conventions = ("flexible", "official")

    def gold(self, fields: dict[str, Any]) -> str:
        return gold(fields)

    def score(self, output: str, target: str, fields: dict[str, Any] | None = None) -> Score:
        predicted, rule = extract_flexible(output)
        flexible = predicted is not None and numbers_equal(predicted, target)
        official_pred = extract_official(output)
        official = official_pred is not None and official_pred == target.strip().replace(",", "")
        return Score(
            extracted=predicted,
            correct=flexible,
            conventions={"flexible": flexible, "official": official},
            info={"rule": rule, "official_extracted": official_pred},
        )
