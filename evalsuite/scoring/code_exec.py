"""Running answer programs in the sandbox for code scorers, and turning each ending into a short report.

The report (`Score.info["exec"]`) is what a reader of samples.jsonl and the `exec_feedback` protocol see: status,
exception line, the program line that failed, and a ready-to-show `message`.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from evalsuite.sandbox import ExecResult, run_many

TIMEOUT_S = 3.0
"""Both official evaluators (CRUXEval `check_correctness(..., 3)`, HumanEval `timeout=3.0`) allow 3 s."""

MESSAGE_CHARS = 600
_FRAME_RE = re.compile(r'^  File "<program>", line (\d+)(?:, in ([^\n]+))?\n(?:    ([^\n]*)\n)?', re.MULTILINE)


def run_programs(programs: Sequence[str], timeout: float = TIMEOUT_S) -> list[ExecResult]:
    """Run programs in parallel in the shared sandbox pool, results in input order."""
    return run_many(list(programs), timeout=timeout) if programs else []


def failing_line(stderr: str) -> str | None:
    """`line N, in FUNC: SOURCE` of the innermost frame of the program itself in a traceback, or None."""
    frames = list(_FRAME_RE.finditer(stderr))
    if not frames:
        return None
    lineno, func, source = frames[-1].groups()
    where = f"line {lineno}" + (f", in {func}" if func and func != "<module>" else "")
    return f"{where}: {source.strip()}" if source and source.strip() else where


def describe(result: ExecResult, timeout: float = TIMEOUT_S) -> str:
    """A short, model-readable account of why a program did not pass ("" when it passed)."""
    if result.passed:
        return ""
    if result.status == "timeout":
        text = f"Timeout: the program did not finish within {timeout:g} s."
    elif result.status == "crashed":
        text = f"Crashed: {result.detail or 'the process was killed'}."
    else:
        where = failing_line(result.stderr)
        what = result.exception or result.detail or "the program stopped before its end"
        text = f"{what}\n  at {where}" if where else what
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 3] + "..."


def exec_info(result: ExecResult, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """The JSON-safe summary stored in `Score.info["exec"]`."""
    return {"status": result.status, "exception": result.exception, "failing_line": failing_line(result.stderr),
            "message": describe(result, timeout), "wall_time": round(result.wall_time, 4)}
