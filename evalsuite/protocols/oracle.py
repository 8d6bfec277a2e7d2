"""`oracle`: tells the model that its answer is wrong, only when it is. It reads the gold answer: every output is
marked oracle (Sample.info["oracle"], results.json, metric row notes)."""
from __future__ import annotations

from evalsuite.protocols.base import Turn
from evalsuite.protocols.multiround import MultiRound, reply
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import protocol


@protocol("oracle")
class Oracle(MultiRound):
    """answer -> (stop if correct) "your answer is wrong" -> answer -> ..."""

    oracle = True

    def next(self, doc: Doc, history: list[list[Turn]]) -> list[Request] | None:
        last = history[-1][0]
        if last.correct or not self.more(history):
            return None
        return [self.ask(reply(last), self.say("wrong", doc), Kind.ANSWER)]
