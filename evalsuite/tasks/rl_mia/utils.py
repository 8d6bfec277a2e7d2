"""RL-MIA answers, per subset: AIME by Math-Verify, GSM8K by its number, K&K by every role, SAT by the clauses.

The contamination detectors do not need correctness; it is kept so member vs non-member accuracy can be read
beside the detector scores.
"""
from __future__ import annotations

import json
import re
from typing import Any

from evalsuite.registry import scorer
from evalsuite.score_info import SubsetLabel
from evalsuite.scoring.base import Score, Scorer
from evalsuite.scoring.math import MathScorer, last_boxed_content
from evalsuite.tasks.gsm8k.utils import GSM8KScorer

_ROLE_RE = r"\b{name}\b[^.\n]*?\bis\s+an?\s+(knight|knave)\b"
_ANSWER_RE = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL)


def _subset(fields: dict[str, Any]) -> str:
    return str(fields.get("subset") or fields.get("data_source") or "")


def sat_problem(fields: dict[str, Any]) -> tuple[int, list[list[tuple[int, bool]]]] | None:
    """(k, clauses) from the last JSON line of the prompt; a literal is (variable index, negated)."""
    text = fields["prompt"][-1]["content"]
    for line in reversed(text.strip().splitlines()):
        try:
            spec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(spec, dict) and "clause" in spec:
            clauses = [[(ord(v) - ord("A"), neg == "!") for neg, v in re.findall(r"(!?)([A-Z])", c)]
                       for c in spec["clause"].split("&")]
            return int(spec["k"]), clauses
    return None


def sat_satisfies(bits: str, clauses: list[list[tuple[int, bool]]]) -> bool:
    """Whether the assignment (bits[i] for variable i) makes at least one literal of every clause true."""
    return all(any((bits[v] == "1") != neg for v, neg in clause) for clause in clauses)


def kk_roles(text: str, names: list[str]) -> dict[str, str]:
    """The last stated role of each name, read from the <answer> block when there is one."""
    m = _ANSWER_RE.findall(text)
    scope = m[-1] if m else text
    out = {}
    for name in names:
        found = re.findall(_ROLE_RE.format(name=re.escape(name)), scope, flags=re.IGNORECASE)
        if found:
            out[name] = found[-1].lower()
    return out


@scorer("rl_mia")
class RLMIAScorer(Scorer):
    """One primary convention, `correct`, whose rule depends on the doc's subset."""

    primary = "correct"
    conventions = ("correct",)

    def gold(self, fields: dict[str, Any]) -> str:
        truth = fields["reward_model"]["ground_truth"]
        if _subset(fields) in ("kk", "kk_logic"):
            return truth["solution_text_format"]
        if _subset(fields) == "sat":
            k = sat_problem(fields)
            return str(truth).zfill(k[0] if k else 0)
        return str(truth).strip()

    def score(self, output: str, target: str, fields: dict[str, Any] | None = None) -> Score:
        fields = fields or {}
        sub = _subset(fields)
        if sub in ("gsm8k", "openai/gsm8k"):
            sc = GSM8KScorer().score(output, target)
        elif sub in ("kk", "kk_logic"):
            names = list(fields["names"])
            roles = kk_roles(output, names)
            gold = ["knight" if s else "knave" for s in fields["solution"]]
            ok = len(roles) == len(names) and all(roles[n] == g for n, g in zip(names, gold))
            extracted = "; ".join(f"{n}: {roles[n]}" for n in names if n in roles) or None
            sc = Score(extracted, ok)
        elif sub == "sat":
            problem = sat_problem(fields)
            boxed = (last_boxed_content(output) or "").strip()
            ok = bool(problem and re.fullmatch(r"[01]+", boxed) and len(boxed) == problem[0]
                      and sat_satisfies(boxed, problem[1]))
            sc = Score(boxed or None, ok)
        else:
            sc = MathScorer().score(output, target)
        return Score(sc.extracted, sc.correct, {"correct": sc.correct}, {**SubsetLabel(sub).to_info(), **sc.info})
