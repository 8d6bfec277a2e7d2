"""`critique_correct`: generation -> critique -> correction (Lin et al.'s G, Q, C), `--rounds k` times.

Round 0 answers the task's own prompt (G); the model then reviews that answer in the same conversation and ends
with a verdict (kind "critique"; Q is the F1 of flagging wrong answers); then it writes a corrected answer (C,
scored like the first). Every answer is corrected, whatever the verdict, as in Lin et al. (C is over all items).
"""
from __future__ import annotations

from evalsuite.errors import UsageError
from evalsuite.protocols.base import Settings, Turn
from evalsuite.protocols.critique import given_responses
from evalsuite.protocols.multiround import MultiRound, reply
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import protocol
from evalsuite.tasks.cards import TaskCard


@protocol("critique_correct")
class CritiqueCorrect(MultiRound):
    """answer -> critique with a verdict (kind "critique") -> corrected answer -> critique -> ..."""

    def __init__(self, card: TaskCard, settings: Settings):
        if given_responses(card):
            raise UsageError(f"critique_correct needs an answer task (e.g. gsm8k); {card.name} judges given "
                             "responses, so use --protocol critique")
        super().__init__(card, settings)

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        last = history[-1][0]
        if last.request.kind == Kind.ANSWER:
            return [self.ask(reply(last), self.say("critique", doc), Kind.CRITIQUE)] if self.more(history) else None
        return [self.ask(reply(last), self.say("correct", doc), Kind.ANSWER)]
