"""Critique verdicts: read "Verdict: correct|incorrect" from a critique and compare it with the response's label.

The fixed form is the last `Verdict: correct` / `Verdict: incorrect` in the text (markdown emphasis, quotes and
JSON keys around it are allowed, and "wrong" counts as incorrect, as in Lin et al.'s JSON verdicts). A critique
without it is unparseable. Three conventions score an unparseable verdict:
- `lin` (primary): always an error (Lin et al. 2024 force it to the opposite of the gold label);
- `luo`: read as "correct" (Luo et al. 2023 default the judgment to correct when the pattern is absent);
- `keyword`: Lin's keyword rule for free-text critics (incorrect/wrong/incomplete/not helpful/error before
  correct/accurate/good/concise), and an error when no keyword is there either.
"""
from __future__ import annotations

import re
from typing import Any

from evalsuite.metrics.base import term
from evalsuite.registry import scorer
from evalsuite.scoring.base import Score, Scorer

term("luo", "Missing verdict read as correct", "A critique with no parsable verdict counts as judging the answer "
     "correct.", "Luo et al. 2023 (CriticBench reading in Lin et al. 2024)")
term("keyword", "Keyword verdict", "A critique without a verdict line is read by Lin et al.'s keywords (incorrect, "
     "wrong, incomplete, not helpful, error before correct, accurate, good, concise); none: an error.",
     "Lin et al. 2024, CriticBench src/infer/result_processor.py")
from evalsuite.score_info import Verdict

LABELS = ("correct", "incorrect")

_VERDICT_RE = re.compile(
    r"\bverdict\b[\s*_\"'`:=\-\[\(]*(?:is\s+)?[\"'`*_\[\(]*(correct|incorrect|wrong)\b", re.IGNORECASE)
_NEGATIVE = ("incorrect", "wrong", "incomplete", "not helpful", "error")
_POSITIVE = ("correct", "accurate", "good", "concise")


def parse_verdict(text: str) -> str | None:
    """The last fixed-form verdict in `text` as "correct" or "incorrect", or None when there is none."""
    hits = _VERDICT_RE.findall(text or "")
    if not hits:
        return None
    return "correct" if hits[-1].lower() == "correct" else "incorrect"


def keyword_verdict(text: str) -> str | None:
    """Lin et al.'s keyword mapping for critics that write free text (negative words are checked first)."""
    low = (text or "").lower()
    if any(w in low for w in _NEGATIVE):
        return "incorrect"
    if any(w in low for w in _POSITIVE):
        return "correct"
    return None


def label_of(value: Any) -> str:
    """Normalise a response label (bool, 0/1, "correct"/"incorrect", "true"/"false") to "correct"/"incorrect"."""
    if isinstance(value, bool):
        return "correct" if value else "incorrect"
    if isinstance(value, (int, float)) and value in (0, 1):
        return "correct" if value else "incorrect"
    text = str(value).strip().lower()
    if text in ("correct", "true", "1", "yes"):
        return "correct"
    if text in ("incorrect", "wrong", "false", "0", "no"):
        return "incorrect"
    raise ValueError(f"response label {value!r} is not correct/incorrect")


@scorer("verdict")
class VerdictScorer(Scorer):
    """Critique tasks: the doc's target is the response's label; the output is the critic's verdict."""

    primary = "lin"
    conventions = ("lin", "luo", "keyword")

    def gold(self, fields: dict[str, Any]) -> str:
        return label_of(fields["label"])

    def score(self, output: str, target: str, fields: dict[str, Any] | None = None) -> Score:
        fields = fields or {}
        verdict = parse_verdict(output)
        lin = verdict == target
        luo = (verdict or "correct") == target
        keyword = (verdict or keyword_verdict(output)) == target
        info = Verdict(target, verdict, fields.get("domain", ""), fields.get("source", ""),
                       str(fields.get("question_id", ""))).to_info()
        return Score(extracted=verdict, correct=lin, conventions={"lin": lin, "luo": luo, "keyword": keyword},
                     info=info)
