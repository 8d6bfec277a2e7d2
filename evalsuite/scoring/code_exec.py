"""Running answer programs in the sandbox for code scorers, and turning each ending into a short report.

The report (`Score.info["exec"]`) is what a reader of samples.jsonl and the `exec_feedback` protocol see: status,
exception line, the program line that failed, and a ready-to-show `message`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from evalsuite.options import Options, flag, run_options
from evalsuite.sandbox import ExecResult, allow_unsafe_exec, run_many
from evalsuite.score_info import ExecReport



@run_options("code execution")
@dataclass(frozen=True)
class ExecOptions(Options):
    """How model-written code runs where the sandbox cannot isolate it."""

    unsafe_exec_in_process: bool = flag(
        False, "where the kernel refuses the namespaces of the sandbox, run model-written code with rlimits, "
        "seccomp and (as root) its own uid only, instead of stopping; printed in the run header and recorded in "
        "results.json", parse=bool, action="store_true")

TIMEOUT_S = 3.0
"""Both official evaluators (CRUXEval `check_correctness(..., 3)`, HumanEval `timeout=3.0`) allow 3 s."""

MESSAGE_CHARS = 600
_FRAME_RE = re.compile(r'^  File "<program>", line (\d+)(?:, in ([^\n]+))?\n(?:    ([^\n]*)\n)?', re.MULTILINE)


def apply_exec_options(options: ExecOptions, log: Callable[[str], None]) -> None:
    """Pass --unsafe-exec-in-process to the sandbox (process-wide) and say so in the run header."""
    unsafe = options.unsafe_exec_in_process
    allow_unsafe_exec(unsafe)
    if unsafe:
        log("WARNING: --unsafe-exec-in-process: where the kernel refuses namespaces, model-written code runs "
            "without the sandbox's isolation (rlimits, seccomp and, as root, its own uid only)")


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


def exec_report(result: ExecResult, timeout: float = TIMEOUT_S) -> ExecReport:
    """What a reader of samples.jsonl and the `exec_feedback` protocol see of a program's run."""
    return ExecReport(result.status, result.exception, failing_line(result.stderr), describe(result, timeout),
                      round(result.wall_time, 4))
