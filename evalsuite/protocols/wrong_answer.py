"""The wrong answer X that `suggest_wrong` and `argument` push for: a pure function of (task, doc, gold, seed).

It never depends on the order docs are batched in, on the model's replies or on other docs, and it is never the
gold answer. Choice tasks get another option; any other answer gets a perturbation of the gold:
- a number: the gold plus d units of its last digit, d from (+1, -1, +2, -2, +10, -10) ("18" -> "19", "2.5" -> "2.4");
- a text holding an integer (a LaTeX expression, a Python literal): its last integer shifted the same way
  ("\\frac{14}{3}" -> "\\frac{14}{4}");
- True / False (any case): the other one;
- a text holding a quoted string (a Python literal): its last quoted string with its last character doubled
  ("'abc'" -> "'abcc'"; '' -> 'a'); an empty list, dict or tuple: one holding 0 ("[]" -> "[0]"); else its last
  True / False swapped;
- any other LaTeX answer (`answer_type: latex`): the expression plus one ("\\pi" -> "\\pi + 1").
Anything else (free text) has no documented wrong answer and is refused with one line, before any model call. (The
issue's "a wrong value from the model's own samples" is not done: a protocol sees one chain at a time, so it would
make X depend on the order chains are advanced.)
"""
from __future__ import annotations

import hashlib
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from evalsuite.errors import UsageError
from evalsuite.scoring.choice import gold_letter, options

STEPS = (1, -1, 2, -2, 10, -10)
_INT = re.compile(r"\d+")
_BOOLS = {"true": "false", "false": "true"}
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'" + r'|"((?:[^"\\]|\\.)*)"')
_EMPTY = {"[]": "[0]", "{}": "{0: 0}", "()": "(0,)"}


def pick(task: str, doc_id: str, seed: int, n: int) -> int:
    """A deterministic index in range(n) for (task, doc, seed): sha256, so it is the same in every process."""
    digest = hashlib.sha256(f"pushback\0{task}\0{doc_id}\0{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % n


def _shift_number(text: str, step: int) -> str | None:
    """`text` read as a decimal number plus `step` units of its last digit, written the same way; None if no number."""
    raw = text.strip().replace(",", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    unit = Decimal(1).scaleb(min(value.as_tuple().exponent, 0))  # type: ignore[arg-type]
    return str(value + step * unit)


def _shift_last_int(text: str, step: int) -> str | None:
    """`text` with its last run of digits shifted by `step` (kept non-negative), or None when it has none."""
    found = list(_INT.finditer(text))
    if not found:
        return None
    m = found[-1]
    value = int(m.group())
    new = value + step if value + step >= 0 else value + abs(step)
    return text[: m.start()] + str(new) + text[m.end():]


def _shift_quoted(text: str) -> str | None:
    """`text` with its last quoted string's last character doubled (an empty one becomes 'a'), or None."""
    found = list(_QUOTED.finditer(text))
    if not found:
        return None
    m = found[-1]
    group = 1 if m.group(1) is not None else 2
    inner = m.group(group)
    new = (inner + ("x" if inner.endswith("\\") else inner[-1])) if inner else "a"
    return text[: m.start(group)] + new + text[m.end(group):]


def _flip_last_bool(text: str) -> str | None:
    """`text` with its last Python True/False swapped, or None when it has none."""
    found = list(re.finditer(r"\b(True|False)\b", text))
    if not found:
        return None
    m = found[-1]
    return text[: m.start()] + ("False" if m.group() == "True" else "True") + text[m.end():]


def wrong_answer(task: str, doc_id: str, fields: dict[str, Any], target: str, seed: int,
                 answer_type: str = "") -> str:
    """The wrong answer suggested for one doc under one seed (see the module doc); never equal to `target`."""
    opts = options(fields)
    if opts:
        gold = gold_letter(fields) if any(k in fields for k in ("answerKey", "correct")) else target.strip().upper()
        others = [letter for letter, _ in opts if letter.upper() != gold]
        if not others:
            raise UsageError(f"{task} doc {doc_id} has no option besides the gold one to suggest; use another "
                             "--pushback kind")
        return others[pick(task, doc_id, seed, len(others))]
    step = STEPS[pick(task, doc_id, seed, len(STEPS))]
    text = str(target)
    if text.strip().lower() in _BOOLS:
        flipped = _BOOLS[text.strip().lower()]
        return flipped.capitalize() if text.strip()[0].isupper() else flipped
    out = _shift_number(text, step)
    if out is None:
        out = _shift_last_int(text, step)
    if out is None:
        out = _EMPTY.get(text.strip()) or _shift_quoted(text) or _flip_last_bool(text)
    if out is None and answer_type == "latex" and text.strip():
        out = f"{text.strip()} + 1"
    if out is None or out.strip() == text.strip():
        raise UsageError(f"{task} doc {doc_id}: no wrong answer can be made from its gold answer {text[:40]!r} (it has "
                         "no options and no number); use another --pushback kind for this task")
    return out
