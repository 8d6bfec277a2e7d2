"""`review`: CorrectBench's RCI: find problems with the previous answer, then improve it, `rounds` times."""
from __future__ import annotations

from evalsuite.protocols.base import Turn
from evalsuite.protocols.multiround import MultiRound, reply
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import protocol


@protocol("review")
class Review(MultiRound):
    """answer -> critique (kind "feedback") -> improved answer -> critique -> ..."""

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        last = history[-1][0]
        if last.request.kind == Kind.ANSWER:
            return [self.ask(reply(last), self.say("critique", doc), Kind.FEEDBACK)] if self.more(history) else None
        return [self.ask(reply(last), self.say("improve", doc), Kind.ANSWER)]
