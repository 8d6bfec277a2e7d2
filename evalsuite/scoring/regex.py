"""Answer extraction declared in the task card, as lm-eval's `filter_list`: no Python for a regex answer format.

A card with `scorer: regex` names the doc field that holds the gold answer (`target`, default `answer`) and one or
more filters. Each filter's regex is searched in the reply; its first capture group (the whole match without one)
from the first match (`group_select: 0`, the default) or the last (`-1`) is the extracted answer. The first filter
is the primary convention (`correct`); every filter is reported as a convention under its name. Extracted and gold
answers are compared after the card's normalisation, in lm-eval's order: `regexes_to_ignore` removed, then
`ignore_case`, then `ignore_punctuation`; whitespace runs always count as one space.

    scorer: regex
    target: answer
    filter_list:
      - {name: strict, regex: 'Answer:\\s*(\\d{4}-\\d{2}-\\d{2})'}
      - {name: flexible, regex: '(\\d{4}-\\d{2}-\\d{2})', group_select: -1}
    ignore_case: true
"""
from __future__ import annotations

import datetime as dt
import re
import string
from dataclasses import dataclass
from typing import Any

from evalsuite.errors import UsageError
from evalsuite.registry import scorer
from evalsuite.scoring.base import Score, Scorer

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")


def as_text(value: Any) -> str:
    """A gold value as text; `datasets` reads an ISO date string in JSON as a timestamp, so midnight is a date."""
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class AnswerFilter:
    """One named way to read the answer from a reply: a compiled regex and which of its matches to keep."""

    name: str
    regex: re.Pattern[str]
    group_select: int = 0

    def extract(self, text: str) -> str | None:
        matches = list(self.regex.finditer(text))
        if not matches:
            return None
        m = matches[self.group_select] if -len(matches) <= self.group_select < len(matches) else matches[-1]
        return (m.group(1) if m.re.groups else m.group(0)).strip()


def _filter(task: str, i: int, spec: Any) -> AnswerFilter:
    if not isinstance(spec, dict) or "regex" not in spec:
        raise UsageError(f"task card {task}: filter_list[{i}] needs a `regex:` (and a `name:`); see docs/extending.md")
    try:
        rx = re.compile(str(spec["regex"]))
    except re.error as e:
        raise UsageError(f"task card {task}: filter_list[{i}] regex {spec['regex']!r} does not compile ({e})") from None
    select = spec.get("group_select", 0)
    if not isinstance(select, int):
        raise UsageError(f"task card {task}: filter_list[{i}] group_select must be an integer (0 first, -1 last)")
    return AnswerFilter(str(spec.get("name") or f"filter{i}"), rx, select)


@scorer("regex")
class RegexScorer(Scorer):
    """Exact match of the answer a card's regex filters extract against the doc's `target` field."""

    def __init__(self, filters: tuple[AnswerFilter, ...] = (), target: str = "answer", ignore_case: bool = False,
                 ignore_punctuation: bool = False, regexes_to_ignore: tuple[str, ...] = ()) -> None:
        self.filters = filters or (AnswerFilter("exact", re.compile(r"(?s)^\s*(.*?)\s*$")),)
        self.target = target
        self.ignore_case, self.ignore_punctuation = ignore_case, ignore_punctuation
        self.ignore = tuple(re.compile(r) for r in regexes_to_ignore)
        self.primary = self.filters[0].name
        self.conventions = tuple(f.name for f in self.filters)

    @classmethod
    def for_card(cls, card: Any) -> RegexScorer:
        extra = card.extra
        specs = extra.get("filter_list") or []
        if not isinstance(specs, list):
            raise UsageError(f"task card {card.name}: filter_list must be a list of {{name, regex}} entries")
        ignore = extra.get("regexes_to_ignore") or []
        try:
            ignore = tuple(re.compile(str(r)).pattern for r in ignore)
        except re.error as e:
            raise UsageError(f"task card {card.name}: a regexes_to_ignore entry does not compile ({e})") from None
        return cls(tuple(_filter(card.name, i, s) for i, s in enumerate(specs)), str(extra.get("target", "answer")),
                   bool(extra.get("ignore_case")), bool(extra.get("ignore_punctuation")), ignore)

    def normalize(self, text: str) -> str:
        for rx in self.ignore:
            text = rx.sub("", text)
        if self.ignore_case:
            text = text.lower()
        if self.ignore_punctuation:
            text = _PUNCT.sub("", text)
        return " ".join(text.split())

    def gold(self, fields: dict[str, Any]) -> str:
        if self.target not in fields:
            raise UsageError(f"doc has no field {self.target!r}, the card's `target:`; name the gold-answer field")
        return as_text(fields[self.target]).strip()

    def score(self, output: str, target: str, fields: dict[str, Any] | None = None) -> Score:
        gold = self.normalize(target)
        got = {f.name: f.extract(output) for f in self.filters}
        ok = {name: x is not None and self.normalize(x) == gold for name, x in got.items()}
        return Score(extracted=got[self.primary], correct=ok[self.primary], conventions=ok)
