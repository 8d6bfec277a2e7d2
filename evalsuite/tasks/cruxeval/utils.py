"""CRUXEval scoring: the official post-processing, skip rules and execution check (SPEC-metrics §8).

A reply is cut to its answer (text after `[ANSWER]`, before `[/ANSWER]`), then O-mode keeps what follows `==`
and I-mode keeps the call before `==` (`"f"` plus the text after the first `"assert f"`, as the official
`InputPrediction.postprocess_generation` does; without `"assert f"` the text is kept as it is). The answer is
right when `{code}\nassert {output} == {generation}` runs to its end in the sandbox within 3 s. Skipped, never
run: an I-mode answer without "f(" and an O-mode answer that contains the literal call `f({input})`.

Conventions: `official` (primary) is the repository's post-processing; `lenient` also drops markdown code-fence
lines and reads the last `[ANSWER]` block, for chat models that wrap the assertion in ``` fences.
"""
from __future__ import annotations

import re
from typing import Any

from evalsuite.metrics.base import term
from evalsuite.registry import scorer
from evalsuite.scoring.base import Score, Scorer

term("lenient", "CRUXEval lenient", "The official post-processing, and also markdown code fences dropped and the "
     "last answer region read, for chat models that wrap their answer.", "evalsuite (a labelled deviation)")
from evalsuite.scoring.code_exec import exec_report, run_programs
from evalsuite.score_info import ExecReport, Skip

_FENCE_LINE = re.compile(r"^\s*```[\w+-]*\s*$", re.MULTILINE)


def answer_region(reply: str, last: bool = False) -> str:
    """The text after the first (or `last`) `[ANSWER]` tag, cut at `[/ANSWER]`; the whole reply if untagged."""
    text = reply
    if "[ANSWER]" in text:
        parts = text.split("[ANSWER]")
        text = parts[-1] if last else parts[1]
    return text.split("[/ANSWER]")[0].strip()


def postprocess(reply: str, mode: str, lenient: bool = False) -> str:
    """The generation the official evaluator would execute, from a model reply (mode: "output" or "input")."""
    text = answer_region(reply, last=lenient)
    if lenient:
        text = _FENCE_LINE.sub("", text).strip()
    if mode == "output":
        if "==" in text:
            text = text.split("==")[1].strip()
    else:
        if "==" in text:
            text = text.split("==")[0].strip()
        if "assert f" in text:
            text = "f" + text.split("assert f")[1].strip()
    return text.strip()


def skip_reason(generation: str, mode: str, fields: dict[str, Any]) -> str | None:
    """The official anti-cheating rules: why a generation is not run, or None."""
    if mode == "input" and "f(" not in generation:
        return 'input prediction without "f("'
    if mode == "output" and f"f({fields['input']})" in generation:
        return "output prediction calls f on the input"
    return None


def program(fields: dict[str, Any], generation: str) -> str:
    """The official check: the function, then `assert {gold output} == {generation}`."""
    return f"{fields['code']}\nassert {fields['output']} == {generation}"


class CruxEvalScorer(Scorer):
    """Shared by the two modes; subclasses set `mode`."""

    mode = "output"
    primary = "official"
    conventions = ("official", "lenient")
    executes = True

    def gold(self, fields: dict[str, Any]) -> str:
        return str(fields["output"]) if self.mode == "output" else f"f({fields['input']})"

    def score(self, output: str, target: str, fields: dict[str, Any] | None = None) -> Score:
        return self.score_many([(output, target, fields or {})])[0]

    def score_many(self, items: list[tuple[str, str, dict[str, Any]]]) -> list[Score]:
        plans = []
        for reply, _, fields in items:
            gens = {conv: postprocess(reply, self.mode, lenient=conv == "lenient") for conv in self.conventions}
            skips = {conv: skip_reason(g, self.mode, fields) for conv, g in gens.items()}
            plans.append((fields, gens, skips))
        todo = sorted({program(f, g) for f, gens, skips in plans for c, g in gens.items() if skips[c] is None})
        results = dict(zip(todo, run_programs(todo)))
        return [self._score(fields, gens, skips, results) for fields, gens, skips in plans]

    def _score(self, fields: dict[str, Any], gens: dict[str, str], skips: dict[str, str | None],
               results: dict) -> Score:
        passed = {c: skips[c] is None and results[program(fields, g)].passed for c, g in gens.items()}
        generation, skipped = gens["official"], skips["official"]
        info: dict[str, Any] = {"mode": self.mode, **Skip(skipped is not None, skipped).to_info()}
        if skipped:
            report = ExecReport("skipped", None, None, f"Not run: {skipped} (the benchmark's rule).", 0.0)
            info.update(report.to_info())
        else:
            info.update(exec_report(results[program(fields, generation)]).to_info())
        if gens["lenient"] != generation:
            info["lenient_extracted"] = gens["lenient"]
        return Score(extracted=generation or None, correct=passed["official"], conventions=passed, info=info)


@scorer("cruxeval_o")
class CruxEvalOutputScorer(CruxEvalScorer):
    """CRUXEval-O: predict the output literal of `f(input)`."""

    mode = "output"


@scorer("cruxeval_i")
class CruxEvalInputScorer(CruxEvalScorer):
    """CRUXEval-I: predict a call `f(...)` whose value equals the given output."""

    mode = "input"
