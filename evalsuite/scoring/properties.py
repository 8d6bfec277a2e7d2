"""Properties of an answer for hypothetical self-prediction ("Looking Inward", Binder et al.), and reading a
model's prediction of them.

Which properties a task gets follows its answer type: numbers -> last digit and parity; option letters -> the
option; anything else (LaTeX, Python literals, text) -> the first word (first run of letters, digits or `_`,
lower-cased). Closed-set properties are read as the most probable allowed value at the first reply position
(the option tokens' probabilities, as P(True) is read); the first word is read from the reply text.
"""
from __future__ import annotations

import re

from evalsuite.scoring.numbers import normalize_number, to_number

CHOICES: dict[str, tuple[str, ...]] = {
    "last_digit": tuple("0123456789"),
    "parity": ("Even", "Odd"),
    "option": tuple("ABCDE"),
}
_WORD = re.compile(r"\w+")


def properties_for(answer_type: str) -> tuple[str, ...]:
    """The properties asked about for a task's answer type."""
    t = answer_type.lower()
    if t == "number":
        return ("last_digit", "parity")
    if any(w in t for w in ("option", "letter", "choice")):
        return ("option",)
    return ("first_word",)


def answer_property(prop: str, answer: str | None) -> str | None:
    """The property's value for an extracted answer; None when it has none (no answer, a non-integer's parity)."""
    if answer is None or not answer.strip():
        return None
    if prop == "last_digit":
        digits = re.findall(r"\d", normalize_number(answer))
        return digits[-1] if digits else None
    if prop == "parity":
        value = to_number(answer)
        if value is None or value != int(value):
            return None
        return "even" if int(value) % 2 == 0 else "odd"
    if prop == "option":
        letter = answer.strip().strip("()").upper()
        return letter if len(letter) == 1 and letter.isalpha() else None
    if prop == "first_word":
        m = _WORD.search(answer)
        return m.group(0).lower() if m else None
    raise ValueError(f"unknown property {prop!r}")


def _canonical(prop: str, value: str) -> str:
    return value.upper() if prop == "option" else value.lower()


def read_prediction(prop: str, text: str, choice_logprobs: dict[str, float] | None = None) -> str | None:
    """The predicted value: for closed sets the allowed value with the highest first-position probability
    (falling back to the first allowed value written in the reply), for the first word the reply's first word."""
    if prop in CHOICES:
        if choice_logprobs:
            best = max(choice_logprobs, key=lambda c: choice_logprobs[c])
            if choice_logprobs[best] > float("-inf"):
                return _canonical(prop, best)
        if prop == "option":
            m = re.search(r"\b([A-E])\b", text)
            return m.group(1) if m else None
        allowed = {c.lower() for c in CHOICES[prop]}
        for m in re.finditer(r"[A-Za-z]+|\d", text):
            if m.group(0).lower() in allowed:
                return _canonical(prop, m.group(0))
        return None
    m = _WORD.search(text)
    return m.group(0).lower() if m else None
