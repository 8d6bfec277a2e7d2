"""`repeat`: the question asked again, verbatim, as a new user turn after each answer (Yang et al.'s setting)."""
from __future__ import annotations

from evalsuite.protocols.base import Turn
from evalsuite.protocols.multiround import MultiRound, reply
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import protocol


@protocol("repeat")
class Repeat(MultiRound):
    """Answer, then the same question again, `rounds` times."""

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        if not self.more(history):
            return None
        return [self.ask(reply(history[-1][0]), self.say("again", doc, question=self.question(history)), Kind.ANSWER)]
