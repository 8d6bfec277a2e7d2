"""Confidence read back from model output: verbalized statements, option probabilities (P(True)) and the token
probability of the answer span. Pure functions; a value that cannot be read is None, never imputed."""
from __future__ import annotations

import math
import re
from typing import Sequence

_NUM = r"(\d+(?:\.\d+)?|\.\d+)\s*(%|percent\b)?(?!\.?\d|\s*/\s*\d)"


def _statement_re(keyword: str) -> re.Pattern:
    return re.compile(
        rf"\b{keyword}(?:\s+(?:level|score))?[\s*_]*(?:is|of|[:=])?[\s*_]*(?:about\s+|~\s*)?" + _NUM, re.IGNORECASE
    )


CONFIDENCE_RE = _statement_re("confidence")
PROBABILITY_RE = _statement_re("probability")


def parse_verbal(text: str, pattern: re.Pattern = CONFIDENCE_RE) -> float | None:
    """The last "Confidence: X" statement as a probability: a percentage, or a decimal (values above 1 are read
    as percentages), clipped to [0, 1]; None when there is none."""
    matches = list(pattern.finditer(text))
    if not matches:
        return None
    number, percent = matches[-1].group(1), matches[-1].group(2)
    value = float(number)
    if percent or value > 1:
        value /= 100
    return min(1.0, max(0.0, value))


def mask_verbal(text: str, pattern: re.Pattern = CONFIDENCE_RE) -> str:
    """`text` with every confidence statement blanked by spaces (same length, so offsets still hold); the scorer
    reads this, so a confidence number is never taken for the answer."""
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


def option_probability(choice_logprobs: dict[str, float] | None, option: str) -> float | None:
    """P(option) renormalised over the choices' log-probabilities; None if absent or all choices have zero mass."""
    if not choice_logprobs or option not in choice_logprobs:
        return None
    top = max(choice_logprobs.values())
    if top == -math.inf:
        return None
    total = sum(math.exp(v - top) for v in choice_logprobs.values())
    return math.exp(choice_logprobs[option] - top) / total


def _answer_pattern(answer: str) -> re.Pattern:
    """The answer as written, allowing thousands separators between digits, not inside a longer word or number."""
    parts = []
    for i, ch in enumerate(answer):
        parts.append(re.escape(ch))
        if ch.isdigit() and i + 1 < len(answer) and answer[i + 1].isdigit():
            parts.append(",?")
    head = r"(?<![\w.])" if answer[:1].isalnum() else ""
    tail = r"(?!\d|[.,]\d)" if answer[-1:].isdigit() else r"(?!\w)" if answer[-1:].isalnum() else ""
    return re.compile(head + "".join(parts) + tail)


def answer_span(text: str, answer: str | None) -> tuple[int, int] | None:
    """Character span of the last occurrence of the extracted answer in the reply (where final answers are
    written); None when the answer is missing or not written literally (e.g. normalised by the scorer)."""
    if not answer:
        return None
    found = list(_answer_pattern(answer.strip()).finditer(text))
    if not found:
        return None
    return found[-1].start(), found[-1].end()


def span_tokens(offsets: Sequence[int], span: tuple[int, int]) -> list[int]:
    """Indices of the tokens whose decoded text overlaps `span`; `offsets[i]` is where token i ends."""
    start, end = span
    out, prev = [], 0
    for i, stop in enumerate(offsets):
        if prev < end and stop > start and stop > prev:
            out.append(i)
        prev = stop
    return out


def token_probability(logprobs: Sequence[float], offsets: Sequence[int] | None, text: str,
                      answer: str | None) -> float | None:
    """exp(mean log-prob) over the answer span's tokens only (not the reasoning); None if the span is not found."""
    if offsets is None or len(offsets) != len(logprobs):
        return None
    span = answer_span(text, answer)
    if span is None:
        return None
    idx = span_tokens(offsets, span)
    if not idx:
        return None
    return math.exp(sum(logprobs[i] for i in idx) / len(idx))


def mean(values: Sequence[float]) -> float | None:
    """Mean of a per-token statistic; None for an empty reply."""
    return sum(values) / len(values) if values else None
