"""HumanEval scoring: build the official program from a reply and run it in the sandbox.

The official program is `prompt + completion + "\n" + test + "\n" + f"check({entry_point})"`, passed when it
runs to its end within 3 s. Chat replies are read as follows (documented in the task card too):
- code is taken from the reply's ```python (or bare ```) fenced blocks when there are any: the last block that
  defines `entry_point`, else the first block; an unclosed fence (reply cut by max tokens) counts to the end;
  a reply without fences is used as it is, except that prose before the first top-level `def`/`import`/
  `from`/`class`/decorator line is dropped when the reply defines `entry_point`;
- a reply that defines `def <entry_point>(` at the top level is a full function: the program is
  `prompt + "\n" + code + test + check(...)`, so the prompt's imports and helper functions stay in scope and the
  reply's definition replaces the stub (a docstring-only body is valid Python);
- anything else is a completion of the body, appended to the prompt as the official harness does; a body
  written at column 0 is indented by four spaces into the function first.
"""
from __future__ import annotations

import re
import textwrap
from typing import Any

from evalsuite.registry import scorer
from evalsuite.scoring.base import Score, Scorer
from evalsuite.scoring.code_exec import exec_report, run_programs

_FENCE_RE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
_CODE_LANGS = ("", "python", "py", "python3")
_CODE_START_RE = re.compile(r"^(?:from\s|import\s|def\s|async\s+def\s|class\s|@)", re.MULTILINE)


def extract_code(reply: str, entry_point: str) -> str:
    """The code of a reply: the fitting ```python block (see module doc), else the whole reply."""
    blocks = [m.group(2) for m in _FENCE_RE.finditer(reply) if m.group(1).lower() in _CODE_LANGS]
    if not blocks:
        start = _CODE_START_RE.search(reply) if defines(reply, entry_point) else None
        return reply[start.start():] if start else reply
    defining = [b for b in blocks if defines(b, entry_point)]
    return defining[-1] if defining else blocks[0]


def defines(code: str, entry_point: str) -> bool:
    """Whether `code` defines `entry_point` at the top level (col 0, `def` or `async def`)."""
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE) is not None


def build_program(fields: dict[str, Any], reply: str) -> tuple[str, str]:
    """(program, form) for a reply; form is "function", "body" or "empty"."""
    code = extract_code(reply, fields["entry_point"])
    tail = "\n" + fields["test"] + "\n" + f"check({fields['entry_point']})\n"
    if defines(code, fields["entry_point"]):
        return fields["prompt"] + "\n" + code + tail, "function"
    if not code.strip():
        return fields["prompt"] + tail, "empty"
    first = next(line for line in code.splitlines() if line.strip())
    if not first[:1].isspace():
        code = textwrap.indent(code, "    ")
    return fields["prompt"] + code + tail, "body"


@scorer("humaneval")
class HumanEvalScorer(Scorer):
    """HumanEval functional correctness (one convention: the official program passes)."""

    primary = "official"
    conventions = ("official",)
    executes = True

    def gold(self, fields: dict[str, Any]) -> str:
        return str(fields["canonical_solution"])

    def score(self, output: str, target: str, fields: dict[str, Any] | None = None) -> Score:
        return self.score_many([(output, target, fields or {})])[0]

    def score_many(self, items: list[tuple[str, str, dict[str, Any]]]) -> list[Score]:
        built = [build_program(fields, reply) for reply, _, fields in items]
        results = run_programs([p for p, _ in built])
        out = []
        for (reply, _, fields), (prog, form), res in zip(items, built, results):
            code = extract_code(reply, fields["entry_point"])
            out.append(Score(extracted=code if form != "empty" else None, correct=res.passed,
                             conventions={"official": res.passed},
                             info={"form": form, **exec_report(res).to_info()}))
        return out
