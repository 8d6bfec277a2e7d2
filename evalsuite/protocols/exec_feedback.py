"""`exec_feedback`: after a failed attempt the model sees why its code failed when run, and revises; k rounds.

Round 0 asks the task's `direct` (else `cot`) prompt. After each answer the scorer's sandbox report
(`Turn.info["exec"]`: status, exception line, the program line that raised it) decides: a passing program ends the
chain; otherwise the protocol card's `feedback` turn, filled with that report as `{{ error }}` and the task's
`answer_format`, asks for a corrected answer, up to `--rounds` corrections. The signal is what running the code
printed, never the gold answer; the tests run are the benchmark's own (HumanEval's `check`, CRUXEval's assertion),
so post-feedback pass rates are those of a setting where the evaluation tests are visible (as in Self-Debug's
unit-test feedback), and a chain that passed is never revised. Chains that stop early keep their last answer for
the later rounds' pass rates and flips (the pass@k and self-correction summaries carry it forward).
"""
from __future__ import annotations

from evalsuite.errors import UsageError
from evalsuite.protocols.base import Settings, Turn
from evalsuite.protocols.multiround import MultiRound, reply
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import SCORERS, protocol
from evalsuite.score_info import ExecReport
from evalsuite.tasks.card_code import scorer_class
from evalsuite.tasks.cards import TaskCard

FALLBACK_ERROR = "The program did not run to its end."


@protocol("exec_feedback")
class ExecFeedback(MultiRound):
    """answer -> (stop if its program passed) error report -> corrected answer -> ..."""

    def __init__(self, card: TaskCard, settings: Settings):
        if not scorer_class(card).executes:
            code = sorted(n for n, s in SCORERS.items() if s.executes)
            raise UsageError(f"--protocol exec_feedback needs a task scored by running code (scorers "
                             f"{', '.join(code)}); task {card.name} is scored by {card.scorer}")
        super().__init__(card, settings)

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        last = history[-1][0]
        report = ExecReport.from_info(last.info)
        if (report is not None and report.passed) or not self.more(history):
            return None
        error = (report.message if report is not None else "") or FALLBACK_ERROR
        return [self.ask(reply(last), self.say("feedback", doc, error=error), Kind.ANSWER)]
