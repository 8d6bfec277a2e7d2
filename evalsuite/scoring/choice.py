"""Multiple-choice scoring: the option letter, read robustly from free text, or the option's own text.

Reads the option layouts of AQuA (`options: ["A)21", ...]`, gold `correct`), CommonsenseQA (official
`question.choices` or the hub's flattened `choices`, gold `answerKey`) and GPQA after `gpqa_prepare`.
"""
from __future__ import annotations

import re
from typing import Any

from evalsuite.metrics.base import term
from evalsuite.registry import scorer
from evalsuite.scoring.base import Score, Scorer

term("letter", "Option letter only", "Multiple choice credited only when the reply names the option by its letter "
     "(\"the answer is (B)\", \\boxed{B}, or a reply that starts with the letter); the primary `flexible` "
     "convention also accepts the option's text after an answer marker or as the whole last line.",
     "CriticBench's parser (src/utils/parser.py) reads letters only")

LETTERS = "ABCDEFGHIJ"
_L = r"([A-J])"
_OPEN, _CLOSE = r"[\(\[]?\s*", r"\s*[\)\]]?"
_END = r"(?![A-Za-z0-9])(?!\s*(?:[,/&]|\bor\b|\band\b)\s*[\(\[]?[A-J](?![A-Za-z0-9]))"
"""After a letter: not a word, and not the start of a list of letters ("choose from A, B or C" names no pick)."""
_ANSWER_LETTER = re.compile(
    r"(?i:\banswer)(?:\s+(?i:is|would be|should be))?\s*(?i:option|choice)?\s*[:：=]?\s*(?:\$)?\s*"
    + _OPEN + _L + _CLOSE + _END)
_PICK_LETTER = re.compile(
    r"(?:(?i:correct|right|best)\s+(?i:option|choice)(?:\s+(?i:is))?|(?i:choose|select|pick)(?:\s+(?i:option|choice))?)"
    r"\s*[:：]?\s*" + _OPEN + _L + _CLOSE + _END)
_BOXED_LETTER = re.compile(r"\\boxed\s*\{\s*(?:\\text(?:bf)?\s*\{)?\s*" + _OPEN + _L + _CLOSE + r"\s*[\}.:)]")
_LEADING_LETTER = re.compile(r"^\s*" + _OPEN + _L + r"(?:\s*[\)\]:.]|\s*\n|\s*$)")
_ANSWER_TEXT = re.compile(r"(?i)\banswer\s*(?:(?:is|would be|should be|will be)\b\s*[:：]?|[:：])\s*(.+)")
"""An answer marker ("answer is", "answer:", "final answer would be") and the rest of its line."""
_ARTICLE = re.compile(r"^(?:a|an|the)\s+")
_OPTION_PREFIX = re.compile(r"^\s*\(?([A-J])\s*\)\s*(.*)$", re.S)


def options(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """The (letter, text) options of a doc in any supported layout, in order."""
    if isinstance(fields.get("choices"), list):
        return [(str(c["label"]), str(c["text"])) for c in fields["choices"]]
    if isinstance(fields.get("choices"), dict):
        ch = fields["choices"]
        return [(str(lab), str(txt)) for lab, txt in zip(ch["label"], ch["text"])]
    q = fields.get("question")
    if isinstance(q, dict) and "choices" in q:
        return [(str(c["label"]), str(c["text"])) for c in q["choices"]]
    if isinstance(fields.get("options"), list):
        out = []
        for i, opt in enumerate(fields["options"]):
            m = _OPTION_PREFIX.match(str(opt))
            out.append((m.group(1), m.group(2).strip()) if m else (LETTERS[i], str(opt).strip()))
        return out
    return []


def gold_letter(fields: dict[str, Any]) -> str:
    """The correct option's letter (`answerKey` or AQuA's `correct`)."""
    for key in ("answerKey", "correct"):
        if fields.get(key):
            return str(fields[key]).strip().upper()
    raise ValueError("multiple-choice doc has neither 'answerKey' nor 'correct'")


def _norm(text: str) -> str:
    """Lower case, markup and outer punctuation gone; `!` is kept, as in an option "7!" (a factorial)."""
    text = re.sub(r"\\text\{([^{}]*)\}|\*\*|__|`", r"\1", text.lower())
    text = re.sub(r"[\s\u00a0]+", " ", text)
    return text.strip(" .,;:?\"'“”‘’$()[]")


def _spellings(span: str) -> set[str]:
    """The span as an answer may be written: normalised, with and without a leading article or trailing '!'."""
    s = _norm(span)
    out = {s, _ARTICLE.sub("", s)}
    return {x for v in out for x in (v, v.rstrip("!").rstrip(" .,;:?")) if x}


def _match_whole(forms: set[str], normed: list[tuple[str, str]]) -> str | None:
    """The one option whose text is one of the span's spellings (a last line that is nothing but the answer)."""
    exact = [lab for lab, txt in normed if txt in forms]
    return exact[0] if len(exact) == 1 else None


def _match_stated(span: str, normed: list[tuple[str, str]]) -> str | None:
    """After an answer marker: the option the span is, or the longest option text it starts with, followed by a
    word break ("Answer: bank, because ..."). An option text met later in the span does not count."""
    forms = _spellings(span)
    whole = _match_whole(forms, normed)
    if whole:
        return whole
    starts = [(len(txt), lab) for lab, txt in normed
              if any(re.match(re.escape(txt) + r"(?![\w!]|\.\d)", f) for f in forms)]
    if not starts:
        return None
    longest = max(starts)[0]
    hits = [lab for n, lab in starts if n == longest]
    return hits[0] if len(hits) == 1 else None


def extract_choice(output: str, opts: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    """(letter, rule), first rule that fires:

    `letter`: the last "answer is X" / "Answer: (X)" / `\\boxed{X}`, else the last "the correct option is X" /
    "I choose X"; `leading_letter`: a reply that starts with the letter ("B", "(B)", "B) ..."); `answer_text`: the
    option text right after the last answer marker ("Answer:", "the answer is"); `last_line`: a last line that
    starts with a letter or is, as a whole, an option text. As CriticBench's and CorrectBench's official parsers
    (which read only "the answer is (X)" and `\\boxed{}`), an option text that a line merely contains is no answer:
    a reply cut off mid-reasoning ("there are 20 apples and we remove 5") states nothing.
    """
    labels = {lab for lab, _ in opts} or set(LETTERS[:5])
    normed = [(lab, t) for lab, txt in opts if (t := _norm(txt))]
    text = output.replace("**", "")
    for pats in ((_ANSWER_LETTER, _BOXED_LETTER), (_PICK_LETTER,)):
        hits = [(m.start(), m.group(1)) for p in pats for m in p.finditer(text) if m.group(1) in labels]
        if hits:
            return max(hits)[1], "letter"
    lead = _LEADING_LETTER.match(text)
    if lead and lead.group(1) in labels:
        return lead.group(1), "leading_letter"
    for m in reversed(list(_ANSWER_TEXT.finditer(text))):
        hit = _match_stated(m.group(1), normed)
        if hit:
            return hit, "answer_text"
    lines = [x for x in text.splitlines() if x.strip()]
    if lines:
        lead = _LEADING_LETTER.match(lines[-1])
        if lead and lead.group(1) in labels:
            return lead.group(1), "last_line"
        hit = _match_whole(_spellings(lines[-1]), normed)
        if hit:
            return hit, "last_line"
    return None, None


@scorer("choice")
class ChoiceScorer(Scorer):
    """Multiple choice: `flexible` (primary: a letter or the option's text) and `letter` (explicit letters only)."""

    primary = "flexible"
    conventions = ("flexible", "letter")

    def gold(self, fields: dict[str, Any]) -> str:
        return gold_letter(fields)

    def score(self, output: str, target: str, fields: dict[str, Any] | None = None) -> Score:
        opts = options(fields or {})
        letter, rule = extract_choice(output, opts)
        flexible = letter == target
        strict = flexible and rule in ("letter", "leading_letter")
        return Score(extracted=letter, correct=flexible, conventions={"flexible": flexible, "letter": strict},
                     info={"rule": rule})
