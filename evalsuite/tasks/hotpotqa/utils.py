"""HotpotQA answer scoring: the official normalised exact match (primary) and token F1 (hotpot_evaluate_v1.py).

Normalisation: lower-case, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace. F1 is zero
when either side normalises to yes/no/noanswer and the two differ. The short answer is read from the model's
last "Answer:" line (or "the answer is ..."), else its last non-empty line.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any

from evalsuite.metrics.base import term
from evalsuite.registry import scorer
from evalsuite.scoring.base import Score, Scorer

term("contains", "Gold contained", "Right when the normalised gold answer occurs as whole words in the normalised "
     "reply (the official metric is exact match).", "evalsuite (a labelled deviation)")
from evalsuite.score_info import Overlap

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ANSWER_LINE = re.compile(r"(?im)^[\s>*#_-]*(?:final\s+)?answer\s*[:：]\s*(.+?)\s*$")
_ANSWER_IS = re.compile(r"(?i)\b(?:final\s+)?answer\s+is\s*[:：]?\s*(.+?)(?:\.\s|\.?$|\n)")
_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_WRAPPERS = "*_`\"'“”‘’ \t"
_CLOSED = ("yes", "no", "noanswer")


def normalize_answer(text: str) -> str:
    """The official HotpotQA normalisation."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> bool:
    """Official EM: equal after normalisation."""
    return normalize_answer(prediction) == normalize_answer(gold)


def f1_precision_recall(prediction: str, gold: str) -> tuple[float, float, float]:
    """Official token F1, precision and recall over normalised tokens (multiset overlap)."""
    pred, ref = normalize_answer(prediction), normalize_answer(gold)
    if (pred in _CLOSED or ref in _CLOSED) and pred != ref:
        return 0.0, 0.0, 0.0
    pred_toks, ref_toks = pred.split(), ref.split()
    same = sum((Counter(pred_toks) & Counter(ref_toks)).values())
    if same == 0:
        return 0.0, 0.0, 0.0
    precision, recall = same / len(pred_toks), same / len(ref_toks)
    return 2 * precision * recall / (precision + recall), precision, recall


def _clean(span: str) -> str:
    span = span.strip().strip(_WRAPPERS)
    boxed = _BOXED.fullmatch(span)
    if boxed:
        span = boxed.group(1)
    span = re.sub(r"\\text\{([^{}]*)\}", r"\1", span)
    return span.strip().strip(_WRAPPERS).rstrip(".").strip(_WRAPPERS)


def extract_answer(output: str) -> tuple[str | None, str | None]:
    """(short answer, rule): the last `Answer:` line, else the last "answer is ...", else a boxed answer, else the
    last non-empty line; (None, None) for an empty output."""
    for rule, pattern in (("answer_line", _ANSWER_LINE), ("answer_is", _ANSWER_IS), ("boxed", _BOXED)):
        hits = [m.group(1) for m in pattern.finditer(output)]
        hits = [h for h in (_clean(x) for x in hits) if h]
        if hits:
            return hits[-1], rule
    lines = [x for x in (_clean(line) for line in output.splitlines()) if x]
    return (lines[-1], "last_line") if lines else (None, None)


@scorer("hotpotqa")
class HotpotQAScorer(Scorer):
    """HotpotQA: `em` (primary, official) and `contains` (the normalised gold occurs in the normalised output).

    The official token F1 of each answer is kept in `info["f1"]` and summarised as the `f1` metric."""

    primary = "em"
    conventions = ("em", "contains")

    def gold(self, fields: dict[str, Any]) -> str:
        return str(fields["answer"]).strip()

    def score(self, output: str, target: str, fields: dict[str, Any] | None = None) -> Score:
        answer, rule = extract_answer(output)
        em = answer is not None and exact_match(answer, target)
        ref = normalize_answer(target)
        contains = bool(ref) and re.search(rf"(?<!\S){re.escape(ref)}(?!\S)", normalize_answer(output)) is not None
        f1, precision, recall = f1_precision_recall(answer, target) if answer is not None else (0.0, 0.0, 0.0)
        return Score(extracted=answer, correct=em, conventions={"em": em, "contains": contains},
                     info=Overlap(rule, f1, precision, recall).to_info())
